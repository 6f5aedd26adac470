import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Decimal } from '../decimal.ts'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { memoTask } from './memo.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await memoTask.run(testContext({ type: 'memo', ...c }))
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
  { name: 'number', params: { value: '10' }, want: 10 },
  { name: 'string', params: { value: '"hello"' }, want: 'hello' },
  { name: 'boolean', params: { value: 'true' }, want: true },
  { name: 'null', params: { value: 'null' }, want: null },
  {
    name: 'big integer stays exact',
    params: { value: '123456789012345678901234567890' },
    want: 123456789012345678901234567890n,
  },
  {
    name: 'inexact decimal stays exact',
    params: { value: '0.1000000000000000055' },
    want: new Decimal(1000000000000000055n, 19),
  },
  {
    name: 'template',
    params: { value: '{"a": $(x), "b": [1, "$(y)"]}' },
    vars: { x: new Decimal(15n, 1), y: 'z' },
    want: { a: new Decimal(15n, 1), b: [1, 'z'] },
  },
  {
    name: 'a whole variable',
    params: { value: '$(x)' },
    vars: { x: new Uint8Array([1]) },
    want: new Uint8Array([1]),
  },
  { name: 'ignores inputs', params: { value: '1' }, inputs: [2, 3], want: 1 },
  { name: 'ignores errored inputs', params: { value: '1' }, inputs: [failed], want: 1 },
  // failures
  { name: 'missing value', inputs: [1], error: /is required/, param: 'value' },
  { name: 'text that is not JSON', params: { value: 'hello' }, error: /JSON/, param: 'value' },
  {
    name: 'undefined variable',
    params: { value: '$(nope)' },
    error: /not defined/,
    param: 'value',
  },
]

describe('memo', () => {
  for (const c of cases) it(c.name, () => check(c))
})
