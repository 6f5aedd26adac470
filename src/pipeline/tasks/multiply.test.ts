import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Decimal } from '../decimal.ts'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { multiplyTask } from './multiply.ts'

type Case = TestContextParameters & { name: string; want?: string; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await multiplyTask.run(testContext({ type: 'multiply', ...c }))
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
  { name: 'params', params: { input: '1.5', times: '2' }, want: '3' },
  { name: 'single input', params: { times: '100' }, inputs: [4.35], want: '435' },
  { name: 'string input', params: { times: '100' }, inputs: ['3012.34'], want: '301234' },
  { name: 'exponent', params: { input: '1.1', times: '1e18' }, want: '1100000000000000000' },
  { name: 'negatives', params: { input: '-2.5', times: '-4' }, want: '10' },
  { name: 'fraction', params: { input: '0.1', times: '3' }, want: '0.3' },
  { name: 'zero', params: { input: '0', times: '123.456' }, want: '0' },
  {
    name: 'typed variables',
    params: { input: '$(x)', times: '$(y)' },
    vars: { x: 10n ** 30n, y: new Decimal(5n, 1) },
    want: `5${'0'.repeat(29)}`,
  },
  {
    name: 'beyond 2^53',
    params: { times: '1e18' },
    inputs: ['123456789012345678.9'],
    want: '123456789012345678900000000000000000',
  },
  {
    name: 'just below the bound',
    params: { input: '1e399', times: '9' },
    want: `9${'0'.repeat(399)}`,
  },
  // failures
  { name: 'no input', params: { times: '2' }, error: /exactly one input, got 0/ },
  { name: 'two inputs', params: { times: '2' }, inputs: [1, 2], error: /exactly one input, got 2/ },
  {
    name: 'errored input',
    params: { times: '2' },
    inputs: [failed],
    error: /input 0 failed: upstream failed/,
  },
  { name: 'missing times', inputs: [1], error: /"times": is required/, param: 'times' },
  {
    name: 'non-numeric times',
    params: { input: '1', times: 'abc' },
    error: /not a decimal/,
    param: 'times',
  },
  {
    name: 'non-numeric input',
    params: { times: '2' },
    inputs: ['abc'],
    error: /not a decimal/,
    param: 'input',
  },
  {
    name: 'boolean input',
    params: { times: '2' },
    inputs: [true],
    error: /expected a number/,
    param: 'input',
  },
  {
    name: 'null input',
    params: { times: '2' },
    inputs: [null],
    error: /expected a number/,
    param: 'input',
  },
  {
    name: 'object input',
    params: { times: '2' },
    inputs: [{ a: 1 }],
    error: /"input"/,
    param: 'input',
  },
  {
    name: 'NaN text',
    params: { input: '1', times: 'NaN' },
    error: /not a decimal/,
    param: 'times',
  },
  {
    name: 'Infinity text',
    params: { input: 'Infinity', times: '1' },
    error: /not a decimal/,
    param: 'input',
  },
  {
    name: 'NaN input',
    params: { times: '2' },
    inputs: [Number.NaN],
    error: /not a finite number/,
    param: 'input',
  },
  {
    name: 'Infinity variable',
    params: { input: '1', times: '$(x)' },
    vars: { x: Number.POSITIVE_INFINITY },
    error: /not a finite number/,
    param: 'times',
  },
  {
    name: 'number 1e400',
    params: { times: '2' },
    inputs: [Number('1e400')],
    error: /not a finite number/,
    param: 'input',
  },
  {
    name: '"1e400" times',
    params: { input: '1', times: '1e400' },
    error: /out of range/,
    param: 'times',
  },
  {
    name: '"-1e400" input',
    params: { times: '1' },
    inputs: ['-1e400'],
    error: /out of range/,
    param: 'input',
  },
  {
    name: 'exponent beyond 1000',
    params: { input: '1', times: '1e1001' },
    error: /exponent/,
    param: 'times',
  },
  {
    name: 'product overflow',
    params: { input: '1e300', times: '1e300' },
    error: /the result is out of range/,
  },
  {
    name: 'undefined variable',
    params: { input: '1', times: '$(nope)' },
    error: /not defined/,
    param: 'times',
  },
]

describe('multiply', () => {
  for (const c of cases) it(c.name, () => check(c))

  it('strips trailing zeros from the result', async () => {
    const result = await multiplyTask.run(testContext({ params: { input: '1.50', times: '2.0' } }))
    assert.deepEqual(result.value, new Decimal(3n, 0))
  })
})
