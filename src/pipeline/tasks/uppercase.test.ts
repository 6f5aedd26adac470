import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { uppercaseTask } from './uppercase.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await uppercaseTask.run(testContext({ type: 'uppercase', ...c }))
  if (c.error) {
    assert.ok(result.error, `${c.name}: expected an error, got ${String(result.value)}`)
    assert.match(result.error.message, c.error, c.name)
    assert.equal(result.error.param, c.param, `${c.name}: param`)
  } else {
    assert.equal(result.error, undefined, `${c.name}: ${result.error?.message}`)
    assert.deepEqual(result.value, c.want, c.name)
  }
}

const cases: Case[] = [
  { name: 'mixed case', inputs: ['HeLLo World'], want: 'HELLO WORLD' },
  { name: 'unicode', inputs: ['äöü'], want: 'ÄÖÜ' },
  { name: 'empty', inputs: [''], want: '' },
  { name: 'bytes as UTF-8', inputs: [new TextEncoder().encode('abc')], want: 'ABC' },
  { name: 'input param', params: { input: 'xyz' }, want: 'XYZ' },
  { name: 'input variable', params: { input: '$(s)' }, vars: { s: 'eth' }, want: 'ETH' },
  // failures
  { name: 'number', inputs: [5], error: /expected a string, got number/, param: 'input' },
  { name: 'null', inputs: [null], error: /expected a string, got null/, param: 'input' },
  {
    name: 'object',
    params: { input: '$(o)' },
    vars: { o: { a: 1 } },
    error: /expected a string/,
    param: 'input',
  },
  { name: 'no input', error: /exactly one input, got 0/ },
  { name: 'errored input', inputs: [failed], error: /input 0 failed/ },
]

describe('uppercase', () => {
  for (const c of cases) it(c.name, () => check(c))
})
