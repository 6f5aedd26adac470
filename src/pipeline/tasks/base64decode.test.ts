import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { base64decodeTask } from './base64decode.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await base64decodeTask.run(testContext({ type: 'base64decode', ...c }))
  if (c.error) {
    assert.ok(result.error, `${c.name}: expected an error, got ${String(result.value)}`)
    assert.match(result.error.message, c.error, c.name)
    assert.equal(result.error.param, c.param, `${c.name}: param`)
  } else {
    assert.equal(result.error, undefined, `${c.name}: ${result.error?.message}`)
    assert.deepEqual(result.value, c.want, c.name)
  }
}

const hello = new TextEncoder().encode('hello')

const cases: Case[] = [
  { name: 'padded', inputs: ['aGVsbG8='], want: hello },
  { name: 'empty', inputs: [''], want: new Uint8Array([]) },
  { name: 'binary', inputs: ['AP/+'], want: new Uint8Array([0, 255, 254]) },
  { name: 'line breaks ignored', inputs: ['aGVs\r\nbG8='], want: hello },
  {
    name: 'bytes of base64 text',
    inputs: [new TextEncoder().encode('aGk=')],
    want: new Uint8Array([104, 105]),
  },
  { name: 'input param', params: { input: 'aGk=' }, want: new Uint8Array([104, 105]) },
  // failures
  { name: 'missing padding', inputs: ['aGVsbG8'], error: /not valid base64/, param: 'input' },
  { name: 'URL-safe alphabet', inputs: ['AP_-'], error: /not valid base64/, param: 'input' },
  { name: 'stray character', inputs: ['a*b='], error: /not valid base64/, param: 'input' },
  { name: 'spaces', inputs: ['aGVs bG8='], error: /not valid base64/, param: 'input' },
  { name: 'number', inputs: [5], error: /expected a base64 string, got number/, param: 'input' },
  { name: 'no input', error: /exactly one input, got 0/ },
  { name: 'errored input', inputs: [failed], error: /input 0 failed/ },
]

describe('base64decode', () => {
  for (const c of cases) it(c.name, () => check(c))
})
