import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Decimal } from '../decimal.ts'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { lengthTask } from './length.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await lengthTask.run(testContext({ type: 'length', ...c }))
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
  { name: 'ascii', inputs: ['hello'], want: new Decimal(5n) },
  { name: 'utf-8 bytes, not characters', inputs: ['héllo'], want: new Decimal(6n) },
  { name: 'empty', inputs: [''], want: new Decimal(0n) },
  { name: 'hex string counts its bytes', inputs: ['0xdead'], want: new Decimal(2n) },
  { name: 'bare 0x', inputs: ['0x'], want: new Decimal(0n) },
  { name: 'invalid hex is text', inputs: ['0xzz'], want: new Decimal(4n) },
  { name: 'bytes', inputs: [new Uint8Array(3)], want: new Decimal(3n) },
  { name: 'input param', params: { input: 'abc' }, want: new Decimal(3n) },
  {
    name: 'input variable',
    params: { input: '$(b)' },
    vars: { b: new Uint8Array(32) },
    want: new Decimal(32n),
  },
  // failures
  { name: 'number', inputs: [5], error: /expected a string or bytes, got number/, param: 'input' },
  { name: 'null', inputs: [null], error: /got null/, param: 'input' },
  { name: 'list', inputs: [[1, 2]], error: /got an array/, param: 'input' },
  { name: 'no input', error: /exactly one input, got 0/ },
  { name: 'errored input', inputs: [failed], error: /input 0 failed/ },
]

describe('length', () => {
  for (const c of cases) it(c.name, () => check(c))
})
