import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Decimal } from '../decimal.ts'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { jsonparseTask } from './jsonparse.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await jsonparseTask.run(testContext({ type: 'jsonparse', ...c }))
  if (c.error) {
    assert.ok(result.error, `${c.name}: expected an error, got ${String(result.value)}`)
    assert.match(result.error.message, c.error, c.name)
    assert.equal(result.error.param, c.param, `${c.name}: param`)
  } else {
    assert.equal(result.error, undefined, `${c.name}: ${result.error?.message}`)
    assert.deepEqual(result.value, c.want, c.name)
  }
}

const doc =
  '{"a": {"b": [1, 2, 3]}, "n": null, "big": 12345678901234567890, "px": 0.1000000000000000055}'

const cases: Case[] = [
  { name: 'a path', params: { path: 'a,b,1' }, inputs: [doc], want: 2 },
  {
    name: 'custom separator, negative index',
    params: { path: 'a.b.-1', separator: '.' },
    inputs: [doc],
    want: 3,
  },
  { name: 'no path: the whole document', inputs: ['[1, "x"]'], want: [1, 'x'] },
  { name: 'data param', params: { data: '{"x": true}', path: 'x' }, want: true },
  {
    name: 'bytes',
    params: { path: 'a' },
    inputs: [new TextEncoder().encode('{"a": "b"}')],
    want: 'b',
  },
  { name: 'an already parsed value', params: { path: 'p,0' }, inputs: [{ p: ['q'] }], want: 'q' },
  {
    name: 'big integers stay exact',
    params: { path: 'big' },
    inputs: [doc],
    want: 12345678901234567890n,
  },
  {
    name: 'inexact decimals stay exact',
    params: { path: 'px' },
    inputs: [doc],
    want: new Decimal(1000000000000000055n, 19),
  },
  { name: 'path as a JSON list', params: { path: '["a", "b", "0"]' }, inputs: [doc], want: 1 },
  {
    name: 'path from a list variable',
    params: { path: '$(p)' },
    vars: { p: ['a', 'b', 2] },
    inputs: [doc],
    want: 3,
  },
  { name: 'a null value (not lax)', params: { path: 'n' }, inputs: [doc], want: null },
  { name: 'lax: missing key', params: { path: 'a,zz', lax: 'true' }, inputs: [doc], want: null },
  {
    name: 'lax: index out of range',
    params: { path: 'a,b,9', lax: 'true' },
    inputs: [doc],
    want: null,
  },
  {
    name: 'lax: into a scalar',
    params: { path: 'a,b,0,x', lax: 'true' },
    inputs: [doc],
    want: null,
  },
  { name: 'lax false', params: { path: 'a', lax: 'false' }, inputs: ['{"a": 1}'], want: 1 },
  // failures
  {
    name: 'invalid JSON',
    params: { path: 'a' },
    inputs: ['{"a": '],
    error: /not valid JSON/,
    param: 'data',
  },
  {
    name: 'invalid UTF-8',
    inputs: [new Uint8Array([0x22, 0xff, 0x22])],
    error: /invalid UTF-8/,
    param: 'data',
  },
  {
    name: 'missing key',
    params: { path: 'a,zz' },
    inputs: [doc],
    error: /"a.zz": no such key/,
    param: 'path',
  },
  {
    name: 'index out of range',
    params: { path: 'a,b,3' },
    inputs: [doc],
    error: /out of range/,
    param: 'path',
  },
  {
    name: 'non-index into a list',
    params: { path: 'a,b,x' },
    inputs: [doc],
    error: /not an array index/,
    param: 'path',
  },
  {
    name: 'empty separator',
    params: { path: 'a', separator: '' },
    inputs: [doc],
    error: /must not be empty/,
    param: 'separator',
  },
  {
    name: 'bad lax',
    params: { path: 'a', lax: 'maybe' },
    inputs: [doc],
    error: /expected true or false/,
    param: 'lax',
  },
  { name: 'no input', params: { path: 'a' }, error: /exactly one input, got 0/ },
  {
    name: 'two inputs',
    params: { path: 'a' },
    inputs: [doc, doc],
    error: /exactly one input, got 2/,
  },
  { name: 'errored input', params: { path: 'a' }, inputs: [failed], error: /input 0 failed/ },
]

describe('jsonparse', () => {
  for (const c of cases) it(c.name, () => check(c))
})
