import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { lookupTask } from './lookup.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await lookupTask.run(testContext({ type: 'lookup', ...c }))
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
  { name: 'a key', params: { key: 'a' }, inputs: [{ a: 1, b: 2 }], want: 1 },
  { name: 'a missing key is null', params: { key: 'c' }, inputs: [{ a: 1 }], want: null },
  { name: 'inherited keys are missing', params: { key: 'toString' }, inputs: [{}], want: null },
  { name: 'JSON text input', params: { key: 'a' }, inputs: ['{"a": {"b": 2}}'], want: { b: 2 } },
  { name: 'a Map', params: { key: 'k' }, inputs: [new Map([['k', 'v']])], want: 'v' },
  {
    name: 'dots are part of the key',
    params: { key: 'a.b' },
    inputs: [{ 'a.b': 3, a: { b: 4 } }],
    want: 3,
  },
  { name: 'null input is empty', params: { key: 'a' }, inputs: [null], want: null },
  {
    name: 'key from a variable',
    params: { key: '$(k)' },
    vars: { k: 'x' },
    inputs: [{ x: false }],
    want: false,
  },
  { name: 'a null value', params: { key: 'a' }, inputs: [{ a: null }], want: null },
  // failures
  { name: 'missing key', inputs: [{ a: 1 }], error: /is required/, param: 'key' },
  {
    name: 'list input',
    params: { key: '0' },
    inputs: [[1]],
    error: /expected a map, got an array/,
    param: 'input',
  },
  {
    name: 'text that is not JSON',
    params: { key: 'a' },
    inputs: ['hello'],
    error: /not JSON/,
    param: 'input',
  },
  {
    name: 'number input',
    params: { key: 'a' },
    inputs: [5],
    error: /expected a map/,
    param: 'input',
  },
  { name: 'no input', params: { key: 'a' }, error: /exactly one input, got 0/ },
  { name: 'two inputs', params: { key: 'a' }, inputs: [{}, {}], error: /exactly one input, got 2/ },
  { name: 'errored input', params: { key: 'a' }, inputs: [failed], error: /input 0 failed/ },
]

describe('lookup', () => {
  for (const c of cases) it(c.name, () => check(c))
})
