import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Decimal } from '../decimal.ts'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { sumTask } from './sum.ts'

type Case = TestContextParameters & { name: string; want?: string; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await sumTask.run(testContext({ type: 'sum', ...c }))
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
  { name: 'inputs of mixed types', inputs: [1, '2.5', 3n, new Decimal(5n, 1)], want: '7' },
  { name: 'exact where floats are not', inputs: [0.1, 0.2], want: '0.3' },
  { name: 'one input', inputs: ['-4.25'], want: '-4.25' },
  { name: 'values JSON list', params: { values: '[1, 2, 3]' }, want: '6' },
  {
    name: 'values template with variables',
    params: { values: '[ $(a), $(b), "0.7" ]' },
    vars: { a: 1.1, b: new Decimal(22n, 1) },
    want: '4',
  },
  {
    name: 'values variable holding a list',
    params: { values: '$(list)' },
    vars: { list: ['0.1', 0.2] },
    want: '0.3',
  },
  {
    name: 'values variable holding JSON text',
    params: { values: '$(list)' },
    vars: { list: '[1, 2]' },
    want: '3',
  },
  { name: 'values param ignores inputs', params: { values: '[5]' }, inputs: [100], want: '5' },
  {
    name: 'big integers',
    inputs: [2n ** 255n, 2n ** 255n],
    want: (2n ** 256n).toString(),
  },
  { name: 'default allowedFaults is N-1', inputs: [1, failed, failed, 2], want: '3' },
  { name: 'allowedFaults 1', params: { allowedFaults: '1' }, inputs: [1, failed, 2], want: '3' },
  {
    name: 'an Error in the values list is a fault',
    params: { values: '[ $(a), $(b) ]' },
    vars: { a: 1, b: failed },
    want: '1',
  },
  // failures
  { name: 'no inputs', error: /no values/, param: 'values' },
  { name: 'empty list', params: { values: '[]' }, error: /no values/, param: 'values' },
  {
    name: 'values not a list',
    params: { values: '{"a": 1}' },
    error: /expected a list/,
    param: 'values',
  },
  { name: 'values not JSON', params: { values: 'one, two' }, error: /JSON/, param: 'values' },
  {
    name: 'all inputs failed',
    inputs: [failed, failed],
    error: /2 of 2 values failed, more than allowedFaults \(1\)/,
  },
  {
    name: 'more faults than allowed',
    params: { allowedFaults: '0' },
    inputs: [1, failed, 2],
    error: /1 of 3 values failed/,
  },
  {
    name: 'allowedFaults allows all, all failed',
    params: { allowedFaults: '2' },
    inputs: [failed, failed],
    error: /all 2 values failed/,
  },
  {
    name: 'negative allowedFaults',
    params: { allowedFaults: '-1' },
    inputs: [1],
    error: /negative/,
    param: 'allowedFaults',
  },
  {
    name: 'non-numeric allowedFaults',
    params: { allowedFaults: 'some' },
    inputs: [1],
    error: /not a decimal/,
    param: 'allowedFaults',
  },
  {
    name: 'fractional allowedFaults',
    params: { allowedFaults: '0.5' },
    inputs: [1],
    error: /integer/,
    param: 'allowedFaults',
  },
  { name: 'non-numeric input', inputs: [1, 'abc'], error: /not a decimal/, param: 'values[1]' },
  {
    name: 'boolean value',
    params: { values: '[true]' },
    error: /expected a number/,
    param: 'values[0]',
  },
  {
    name: 'NaN value',
    params: { values: '[ $(x) ]' },
    vars: { x: Number.NaN },
    error: /not a finite/,
    param: 'values[0]',
  },
  {
    name: 'Infinity input',
    inputs: [1, Number.POSITIVE_INFINITY],
    error: /not a finite/,
    param: 'values[1]',
  },
  {
    name: '"1e400" value',
    params: { values: '[1, "1e400"]' },
    error: /out of range/,
    param: 'values[1]',
  },
  {
    name: 'sum overflow',
    inputs: Array.from({ length: 20 }, () => '9e399'),
    error: /the result is out of range/,
  },
]

describe('sum', () => {
  for (const c of cases) it(c.name, () => check(c))
})
