import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { lessthanTask } from './lessthan.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await lessthanTask.run(testContext({ type: 'lessthan', ...c }))
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
  { name: 'less', params: { left: '1', right: '2' }, want: true },
  { name: 'equal', params: { left: '2.0', right: '2' }, want: false },
  { name: 'greater', params: { left: '3', right: '2' }, want: false },
  { name: 'left from the input', params: { right: '0.3' }, inputs: [0.1], want: true },
  {
    name: 'exact beyond floats',
    params: { left: '0.30000000000000000001', right: '0.3' },
    want: false,
  },
  { name: 'negatives', params: { left: '-5', right: '-4.99' }, want: true },
  {
    name: 'bigints',
    params: { left: '$(a)', right: '$(b)' },
    vars: { a: 2n ** 64n, b: 2n ** 64n + 1n },
    want: true,
  },
  // failures
  { name: 'missing right', params: { left: '1' }, error: /is required/, param: 'right' },
  {
    name: 'non-numeric right',
    params: { left: '1', right: 'ten' },
    error: /not a decimal/,
    param: 'right',
  },
  {
    name: 'non-numeric input',
    params: { right: '1' },
    inputs: ['one'],
    error: /not a decimal/,
    param: 'left',
  },
  {
    name: 'boolean left',
    params: { right: '1' },
    inputs: [true],
    error: /expected a number/,
    param: 'left',
  },
  {
    name: 'NaN left',
    params: { left: '$(x)', right: '1' },
    vars: { x: Number.NaN },
    error: /not a finite/,
    param: 'left',
  },
  {
    name: 'Infinity input',
    params: { right: '1' },
    inputs: [Number.POSITIVE_INFINITY],
    error: /not a finite/,
    param: 'left',
  },
  {
    name: '"1e400" right',
    params: { left: '1', right: '1e400' },
    error: /out of range/,
    param: 'right',
  },
  { name: 'no input', params: { right: '1' }, error: /exactly one input, got 0/ },
  { name: 'two inputs', params: { right: '1' }, inputs: [1, 2], error: /exactly one input, got 2/ },
  { name: 'errored input', params: { right: '1' }, inputs: [failed], error: /input 0 failed/ },
]

describe('lessthan', () => {
  for (const c of cases) it(c.name, () => check(c))
})
