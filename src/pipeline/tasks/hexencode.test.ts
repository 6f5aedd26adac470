import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Decimal } from '../decimal.ts'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { hexencodeTask } from './hexencode.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await hexencodeTask.run(testContext({ type: 'hexencode', ...c }))
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
  { name: 'string as UTF-8', inputs: ['abc'], want: '0x616263' },
  { name: 'empty string', inputs: [''], want: '0x' },
  { name: 'numeric text is text', inputs: ['255'], want: '0x323535' },
  { name: '"1e400" is text', inputs: ['1e400'], want: '0x3165343030' },
  { name: 'bytes', inputs: [new Uint8Array([0, 255, 16])], want: '0x00ff10' },
  { name: 'number', inputs: [255], want: '0xff' },
  { name: 'zero', inputs: [0], want: '0x0' },
  { name: 'bigint', inputs: [2n ** 256n], want: `0x1${'0'.repeat(64)}` },
  {
    name: 'integral Decimal',
    params: { input: '$(d)' },
    vars: { d: new Decimal(2550n, 1) },
    want: '0xff',
  },
  { name: 'input param is text', params: { input: 'hi' }, want: '0x6869' },
  { name: 'typed variable', params: { input: '$(n)' }, vars: { n: 16 }, want: '0x10' },
  // failures
  { name: 'negative', inputs: [-1], error: /non-negative/, param: 'input' },
  { name: 'negative bigint', inputs: [-(2n ** 70n)], error: /non-negative/, param: 'input' },
  { name: 'fraction', inputs: [1.5], error: /expected an integer, got 1.5/, param: 'input' },
  { name: 'fractional Decimal', inputs: [new Decimal(1n, 3)], error: /integer/, param: 'input' },
  { name: 'NaN', inputs: [Number.NaN], error: /not a finite/, param: 'input' },
  {
    name: 'Infinity (the number 1e400)',
    inputs: [Number('1e400')],
    error: /not a finite/,
    param: 'input',
  },
  {
    name: 'null',
    inputs: [null],
    error: /expected a string, bytes or a non-negative integer/,
    param: 'input',
  },
  { name: 'boolean', inputs: [true], error: /got boolean/, param: 'input' },
  { name: 'object', inputs: [{ a: 1 }], error: /got Object/, param: 'input' },
  { name: 'no input', error: /exactly one input, got 0/ },
  { name: 'errored input', inputs: [failed], error: /input 0 failed/ },
]

describe('hexencode', () => {
  for (const c of cases) it(c.name, () => check(c))
})
