import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Decimal } from '../decimal.ts'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { modeTask } from './mode.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await modeTask.run(testContext({ type: 'mode', ...c }))
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
  { name: 'one mode', inputs: [1, 2, 2, 3], want: { results: [2], occurrences: 2 } },
  {
    name: 'ties in order of first appearance',
    inputs: [2, 1, 1, 2, 3],
    want: { results: [2, 1], occurrences: 2 },
  },
  { name: 'all distinct', inputs: [3, 1], want: { results: [3, 1], occurrences: 1 } },
  {
    name: 'numbers equal by value whatever their form',
    inputs: [1.5, new Decimal(150n, 2), 2n, 2, '1.5', new Decimal(20n, 1)],
    want: { results: [2n], occurrences: 3 },
  },
  {
    name: 'a numeric string is not a number',
    inputs: ['1', 1, '1'],
    want: { results: ['1'], occurrences: 2 },
  },
  { name: 'strings', inputs: ['a', 'b', 'a'], want: { results: ['a'], occurrences: 2 } },
  {
    name: 'bytes by content',
    inputs: [new Uint8Array([1, 2]), new Uint8Array([1, 2]), new Uint8Array([3])],
    want: { results: [new Uint8Array([1, 2])], occurrences: 2 },
  },
  {
    name: 'objects by content',
    params: { values: '[{"a": 1}, {"a": 1}, {"a": 2}]' },
    want: { results: [{ a: 1 }], occurrences: 2 },
  },
  {
    name: 'booleans and null',
    inputs: [true, null, null, false],
    want: { results: [null], occurrences: 2 },
  },
  {
    name: 'values list',
    params: { values: '["x", "y", "y"]' },
    want: { results: ['y'], occurrences: 2 },
  },
  {
    name: 'faults are skipped',
    inputs: [5, failed, 5, failed],
    want: { results: [5], occurrences: 2 },
  },
  // failures
  { name: 'no values', error: /no values/, param: 'values' },
  {
    name: 'too many faults',
    params: { allowedFaults: '0' },
    inputs: [1, failed],
    error: /1 of 2 values failed/,
  },
  { name: 'all failed', inputs: [failed, failed], error: /2 of 2 values failed/ },
  { name: 'NaN', inputs: [1, Number.NaN], error: /not a finite/, param: 'values[1]' },
  {
    name: 'Infinity',
    params: { values: '[ $(x) ]' },
    vars: { x: Number.NEGATIVE_INFINITY },
    error: /not a finite/,
    param: 'values[0]',
  },
  {
    name: 'bad allowedFaults',
    params: { allowedFaults: '1.5' },
    inputs: [1],
    error: /integer/,
    param: 'allowedFaults',
  },
  { name: 'values not a list', params: { values: '7' }, error: /expected a list/, param: 'values' },
]

describe('mode', () => {
  for (const c of cases) it(c.name, () => check(c))
})
