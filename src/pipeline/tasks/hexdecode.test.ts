import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { hexdecodeTask } from './hexdecode.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await hexdecodeTask.run(testContext({ type: 'hexdecode', ...c }))
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
  { name: 'lower case', inputs: ['0x616263'], want: new Uint8Array([0x61, 0x62, 0x63]) },
  { name: 'upper case and 0X', inputs: ['0XFF00'], want: new Uint8Array([255, 0]) },
  { name: 'empty', inputs: ['0x'], want: new Uint8Array([]) },
  { name: 'input param', params: { input: '0x0102' }, want: new Uint8Array([1, 2]) },
  // failures
  { name: 'no prefix', inputs: ['abcd'], error: /starting with 0x/, param: 'input' },
  { name: 'odd digits', inputs: ['0xabc'], error: /odd number of digits/, param: 'input' },
  {
    name: 'bad digit',
    inputs: ['0xzz'],
    error: /invalid hex digit "z" at offset 2/,
    param: 'input',
  },
  { name: 'number', inputs: [10], error: /expected a hex string, got number/, param: 'input' },
  {
    name: 'bytes',
    inputs: [new Uint8Array([1])],
    error: /expected a hex string, got bytes/,
    param: 'input',
  },
  { name: 'no input', error: /exactly one input, got 0/ },
  { name: 'errored input', inputs: [failed], error: /input 0 failed/ },
]

describe('hexdecode', () => {
  for (const c of cases) it(c.name, () => check(c))
})
