import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { base64encodeTask } from './base64encode.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await base64encodeTask.run(testContext({ type: 'base64encode', ...c }))
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
  { name: 'text', inputs: ['hello'], want: 'aGVsbG8=' },
  { name: 'empty', inputs: [''], want: '' },
  { name: 'bytes', inputs: [new Uint8Array([0, 255, 254])], want: 'AP/+' },
  { name: 'UTF-8', inputs: ['é'], want: 'w6k=' },
  { name: 'hex text is text', inputs: ['0x00'], want: 'MHgwMA==' },
  {
    name: 'a view into a larger buffer',
    inputs: [new Uint8Array([9, 104, 105, 9]).subarray(1, 3)],
    want: 'aGk=',
  },
  { name: 'input param', params: { input: 'hi' }, want: 'aGk=' },
  // failures
  { name: 'number', inputs: [5], error: /expected a string or bytes, got number/, param: 'input' },
  { name: 'null', inputs: [null], error: /got null/, param: 'input' },
  { name: 'no input', error: /exactly one input, got 0/ },
  { name: 'errored input', inputs: [failed], error: /input 0 failed/ },
]

describe('base64encode', () => {
  for (const c of cases) it(c.name, () => check(c))
})
