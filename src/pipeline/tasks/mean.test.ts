import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Decimal } from '../decimal.ts'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { meanTask } from './mean.ts'

type Case = TestContextParameters & { name: string; want?: string; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await meanTask.run(testContext({ type: 'mean', ...c }))
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
  { name: 'terminating mean', inputs: [1, 2], want: '1.5' },
  { name: 'exact decimals', inputs: [0.1, 0.2], want: '0.15' },
  { name: 'non-terminating: 18 places', inputs: [1, 2, 2], want: '1.666666666666666667' },
  { name: 'precision 2', params: { precision: '2' }, inputs: [1, 2, 2], want: '1.67' },
  {
    name: 'precision 0 rounds half away from zero',
    params: { precision: '0' },
    inputs: [1, 2],
    want: '2',
  },
  { name: 'negative values', inputs: ['-1', '-2'], want: '-1.5' },
  { name: 'values list', params: { values: '[10, 20, 30, 40]' }, want: '25' },
  { name: 'faults are skipped', inputs: [1, failed, 3], want: '2' },
  { name: 'big integers', inputs: [2n ** 200n, 2n ** 200n], want: (2n ** 200n).toString() },
  // failures
  { name: 'no values', error: /no values/, param: 'values' },
  {
    name: 'too many faults',
    params: { allowedFaults: '0' },
    inputs: [1, failed],
    error: /1 of 2 values failed/,
  },
  { name: 'all failed', inputs: [failed], error: /1 of 1 values failed/ },
  {
    name: 'bad precision',
    params: { precision: '-2' },
    inputs: [1],
    error: /between 0 and 1000/,
    param: 'precision',
  },
  {
    name: 'text precision',
    params: { precision: 'x' },
    inputs: [1],
    error: /not a decimal/,
    param: 'precision',
  },
  {
    name: 'non-numeric value',
    params: { values: '[1, "x"]' },
    error: /not a decimal/,
    param: 'values[1]',
  },
  { name: 'NaN input', inputs: [Number.NaN], error: /not a finite/, param: 'values[0]' },
  { name: '"1e400" input', inputs: ['1e400'], error: /out of range/, param: 'values[0]' },
  {
    name: 'bad allowedFaults',
    params: { allowedFaults: 'x' },
    inputs: [1],
    error: /not a decimal/,
    param: 'allowedFaults',
  },
]

describe('mean', () => {
  for (const c of cases) it(c.name, () => check(c))
})
