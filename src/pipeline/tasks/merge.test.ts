import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { mergeTask } from './merge.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await mergeTask.run(testContext({ type: 'merge', ...c }))
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
  {
    name: 'right wins',
    params: { right: '{"b": 3, "c": 4}' },
    inputs: [{ a: 1, b: 2 }],
    want: { a: 1, b: 3, c: 4 },
  },
  {
    name: 'left param template',
    params: { left: '{"x": $(v)}', right: '{"y": 2}' },
    vars: { v: 10n ** 30n },
    want: { x: 10n ** 30n, y: 2 },
  },
  { name: 'JSON text input', params: { right: '{}' }, inputs: ['{"a": 1}'], want: { a: 1 } },
  {
    name: 'Map variable',
    params: { left: '{}', right: '$(m)' },
    vars: { m: new Map([['k', 1]]) },
    want: { k: 1 },
  },
  { name: 'null left is empty', params: { right: '{"a": 1}' }, inputs: [null], want: { a: 1 } },
  {
    name: 'exact numbers kept',
    params: { left: '{}', right: '{"n": 123456789012345678901}' },
    want: { n: 123456789012345678901n },
  },
  // failures
  { name: 'missing right', inputs: [{}], error: /is required/, param: 'right' },
  {
    name: 'right is a list',
    params: { right: '[1]' },
    inputs: [{}],
    error: /expected a map, got an array/,
    param: 'right',
  },
  {
    name: 'right not JSON',
    params: { right: '{a: 1}' },
    inputs: [{}],
    error: /JSON/,
    param: 'right',
  },
  {
    name: 'left is a number',
    params: { right: '{}' },
    inputs: [5],
    error: /expected a map/,
    param: 'left',
  },
  {
    name: 'left text not JSON',
    params: { right: '{}' },
    inputs: ['hello'],
    error: /not JSON/,
    param: 'left',
  },
  { name: 'no input', params: { right: '{}' }, error: /exactly one input, got 0/ },
  { name: 'errored input', params: { right: '{}' }, inputs: [failed], error: /input 0 failed/ },
]

describe('merge', () => {
  for (const c of cases) it(c.name, () => check(c))

  it('does not modify its inputs', async () => {
    const left = { a: 1 }
    const result = await mergeTask.run(
      testContext({ params: { right: '{"a": 2}' }, inputs: [left] }),
    )
    assert.deepEqual(result.value, { a: 2 })
    assert.deepEqual(left, { a: 1 })
  })

  it('keeps "__proto__" an ordinary key', async () => {
    const result = await mergeTask.run(
      testContext({ params: { right: '{"__proto__": {"polluted": true}}' }, inputs: [{}] }),
    )
    const value = result.value as Record<string, unknown>
    assert.ok(Object.hasOwn(value, '__proto__'))
    assert.equal(Object.getPrototypeOf(value), Object.prototype)
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })
})
