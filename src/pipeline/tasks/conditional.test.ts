import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { conditionalTask } from './conditional.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await conditionalTask.run(testContext({ type: 'conditional', ...c }))
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
  { name: 'data true', params: { data: 'true' }, want: true },
  { name: 'input true', inputs: [true], want: true },
  { name: 'input text true', inputs: ['true'], want: true },
  { name: 'variable', params: { data: '$(ok)' }, vars: { ok: true }, want: true },
  // failures
  { name: 'data false', params: { data: 'false' }, error: /conditional was false/ },
  { name: 'input false', inputs: [false], error: /conditional was false/ },
  {
    name: 'not a boolean',
    params: { data: 'yes' },
    error: /expected true or false/,
    param: 'data',
  },
  { name: 'number input', inputs: [1], error: /expected true or false, got number/, param: 'data' },
  { name: 'no input', error: /exactly one input, got 0/ },
  { name: 'errored input', inputs: [failed], error: /input 0 failed/ },
]

describe('conditional', () => {
  for (const c of cases) it(c.name, () => check(c))
})
