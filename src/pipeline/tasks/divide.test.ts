import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Decimal } from '../decimal.ts'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { divideTask } from './divide.ts'

type Case = TestContextParameters & { name: string; want?: string; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await divideTask.run(testContext({ type: 'divide', ...c }))
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
  { name: 'terminating', params: { input: '10', divisor: '4' }, want: '2.5' },
  { name: 'single input', params: { divisor: '8' }, inputs: [1], want: '0.125' },
  {
    name: 'non-terminating: 18 places',
    params: { input: '1', divisor: '3' },
    want: '0.333333333333333333',
  },
  {
    name: 'rounds half away from zero',
    params: { input: '2', divisor: '3' },
    want: '0.666666666666666667',
  },
  {
    name: 'negative rounding',
    params: { input: '-2', divisor: '3' },
    want: '-0.666666666666666667',
  },
  { name: 'long exact quotient', params: { input: '1', divisor: '1024' }, want: '0.0009765625' },
  {
    name: 'tiny exact quotient beyond 18 places',
    params: { input: '1e-20', divisor: '2' },
    want: '0.000000000000000000005',
  },
  { name: 'precision 2', params: { input: '2', divisor: '3', precision: '2' }, want: '0.67' },
  {
    name: 'precision 0 rounds up',
    params: { input: '10', divisor: '4', precision: '0' },
    want: '3',
  },
  {
    name: 'precision 0 negative',
    params: { input: '-10', divisor: '4', precision: '0' },
    want: '-3',
  },
  {
    name: 'precision 30',
    params: { input: '1', divisor: '3', precision: '30' },
    want: `0.${'3'.repeat(30)}`,
  },
  {
    name: 'precision above the exact scale',
    params: { input: '1', divisor: '8', precision: '18' },
    want: '0.125',
  },
  { name: 'fractional divisor', params: { input: '3012.34', divisor: '0.01' }, want: '301234' },
  {
    name: 'typed variables',
    params: { input: '$(x)', divisor: '$(y)', precision: '$(p)' },
    vars: { x: 10n ** 20n, y: new Decimal(3n, 0), p: 3n },
    want: '33333333333333333333.333',
  },
  {
    name: 'large quotient within bound',
    params: { input: '1e399', divisor: '0.5' },
    want: `2${'0'.repeat(399)}`,
  },
  // failures
  {
    name: 'division by zero',
    params: { input: '1', divisor: '0' },
    error: /division by zero/,
    param: 'divisor',
  },
  {
    name: 'division by 0.000',
    params: { input: '1', divisor: '0.000' },
    error: /division by zero/,
    param: 'divisor',
  },
  { name: 'missing divisor', inputs: [1], error: /is required/, param: 'divisor' },
  {
    name: 'non-numeric divisor',
    params: { input: '1', divisor: 'x' },
    error: /not a decimal/,
    param: 'divisor',
  },
  {
    name: 'non-numeric input',
    params: { divisor: '2' },
    inputs: ['two'],
    error: /not a decimal/,
    param: 'input',
  },
  {
    name: 'negative precision',
    params: { input: '1', divisor: '3', precision: '-1' },
    error: /between 0 and 1000/,
    param: 'precision',
  },
  {
    name: 'fractional precision',
    params: { input: '1', divisor: '3', precision: '1.5' },
    error: /integer/,
    param: 'precision',
  },
  {
    name: 'huge precision',
    params: { input: '1', divisor: '3', precision: '1001' },
    error: /between 0 and 1000/,
    param: 'precision',
  },
  {
    name: 'text precision',
    params: { input: '1', divisor: '3', precision: 'max' },
    error: /not a decimal/,
    param: 'precision',
  },
  {
    name: 'NaN divisor',
    params: { input: '1', divisor: '$(x)' },
    vars: { x: Number.NaN },
    error: /not a finite/,
    param: 'divisor',
  },
  {
    name: 'Infinity input',
    params: { divisor: '1' },
    inputs: [Number.NEGATIVE_INFINITY],
    error: /not a finite/,
    param: 'input',
  },
  {
    name: '"1e400" divisor',
    params: { input: '1', divisor: '1e400' },
    error: /out of range/,
    param: 'divisor',
  },
  {
    name: 'quotient overflow',
    params: { input: '1e399', divisor: '0.001' },
    error: /the result is out of range/,
  },
  { name: 'no input', params: { divisor: '2' }, error: /exactly one input, got 0/ },
  {
    name: 'two inputs',
    params: { divisor: '2' },
    inputs: [1, 2],
    error: /exactly one input, got 2/,
  },
  { name: 'errored input', params: { divisor: '2' }, inputs: [failed], error: /input 0 failed/ },
]

describe('divide', () => {
  for (const c of cases) it(c.name, () => check(c))
})
