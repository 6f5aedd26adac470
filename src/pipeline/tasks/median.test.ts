import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Decimal } from '../decimal.ts'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { medianTask } from './median.ts'

type Case = TestContextParameters & { name: string; want?: string; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await medianTask.run(testContext({ type: 'median', ...c }))
  if (c.error) {
    assert.ok(result.error, `${c.name}: expected an error, got ${String(result.value)}`)
    assert.match(result.error.message, c.error, c.name)
    assert.equal(result.error.param, c.param, `${c.name}: param`)
  } else {
    assert.equal(result.error, undefined, `${c.name}: ${result.error?.message}`)
    assert.ok(result.value instanceof Decimal, c.name)
    assert.equal(String(result.value), c.want, c.name)
  }
}

const cases: Case[] = [
  { name: 'odd count', inputs: [3, 1, 2], want: '2' },
  { name: 'even count: mean of the middle two', inputs: [4, 1, 3, 2], want: '2.5' },
  { name: 'even count, decimals', inputs: ['1.1', '1.2'], want: '1.15' },
  { name: 'even count, odd last digit', inputs: ['0.001', '0.002'], want: '0.0015' },
  { name: 'one value', inputs: ['42.5'], want: '42.5' },
  { name: 'negatives', inputs: [-5, -1, -3], want: '-3' },
  { name: 'sorts by value, not text', inputs: ['10', '9', '100'], want: '10' },
  { name: 'mixed scales', inputs: ['1.50', '1.5', 2], want: '1.5' },
  { name: 'beyond 2^53', inputs: [2n ** 64n, 1n], want: '9223372036854775808.5' },
  { name: 'values list', params: { values: '[5, 1, 4, 2, 3]' }, want: '3' },
  { name: 'faults are skipped', inputs: [1, failed, 3, failed, 100], want: '3' },
  {
    name: 'allowedFaults 2',
    params: { allowedFaults: '2' },
    inputs: [failed, 7, failed],
    want: '7',
  },
  // failures
  { name: 'no values', error: /no values/, param: 'values' },
  {
    name: 'too many faults',
    params: { allowedFaults: '1' },
    inputs: [1, failed, failed],
    error: /2 of 3 values failed, more than allowedFaults \(1\)/,
  },
  { name: 'all failed', inputs: [failed, failed, failed], error: /3 of 3 values failed/ },
  {
    name: 'non-numeric input',
    inputs: [1, { price: 2 }],
    error: /values\[1\]/,
    param: 'values[1]',
  },
  {
    name: 'NaN',
    params: { values: '[ $(x), 1 ]' },
    vars: { x: Number.NaN },
    error: /not a finite/,
    param: 'values[0]',
  },
  {
    name: 'Infinity',
    inputs: [Number.POSITIVE_INFINITY],
    error: /not a finite/,
    param: 'values[0]',
  },
  { name: '"1e400"', inputs: [1, 2, '1e400'], error: /out of range/, param: 'values[2]' },
  {
    name: 'values not a list',
    params: { values: '"1,2"' },
    error: /expected a list/,
    param: 'values',
  },
  {
    name: 'bad allowedFaults',
    params: { allowedFaults: '-3' },
    inputs: [1],
    error: /negative/,
    param: 'allowedFaults',
  },
]

describe('median', () => {
  for (const c of cases) it(c.name, () => check(c))
})
