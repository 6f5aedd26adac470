import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { cborparseTask } from './cborparse.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await cborparseTask.run(testContext({ type: 'cborparse', ...c }))
  if (c.error) {
    assert.ok(result.error, `${c.name}: expected an error, got ${String(result.value)}`)
    assert.match(result.error.message, c.error, c.name)
    assert.equal(result.error.param, c.param, `${c.name}: param`)
  } else {
    assert.equal(result.error, undefined, `${c.name}: ${result.error?.message}`)
    assert.deepEqual(result.value, c.want, c.name)
  }
}

// Diet CBOR of {path: "USD", times: 100}: "path" "USD" "times" 100
const diet = '0x6470617468635553446574696d65731864'

const cases: Case[] = [
  { name: 'diet (default)', params: { data: diet }, want: { path: 'USD', times: 100 } },
  { name: 'diet from the input', inputs: [diet], want: { path: 'USD', times: 100 } },
  { name: 'bytes', inputs: [new Uint8Array([0x61, 0x61, 0x01])], want: { a: 1 } },
  { name: 'hex without 0x', params: { data: '616101' }, want: { a: 1 } },
  { name: 'empty diet', params: { data: '0x' }, want: {} },
  { name: 'standard', params: { data: '0xa1616101', mode: 'standard' }, want: { a: 1 } },
  { name: 'standard list', params: { data: '0x83010203', mode: 'standard' }, want: [1, 2, 3] },
  {
    name: 'data variable',
    params: { data: '$(log.data)' },
    vars: { log: { data: new Uint8Array([0x61, 0x62, 0xf5]) } },
    want: { b: true },
  },
  // failures
  {
    name: 'truncated diet',
    params: { data: diet.slice(0, -2) },
    error: /not valid CBOR/,
    param: 'data',
  },
  {
    name: 'truncated standard',
    params: { data: '0xa16161', mode: 'standard' },
    error: /not valid CBOR/,
    param: 'data',
  },
  {
    name: 'empty standard',
    params: { data: '0x', mode: 'standard' },
    error: /not valid CBOR/,
    param: 'data',
  },
  {
    name: 'trailing bytes',
    params: { data: '0x0101', mode: 'standard' },
    error: /trailing/,
    param: 'data',
  },
  { name: 'bad hex', params: { data: '0xzz' }, error: /not valid hex/, param: 'data' },
  { name: 'odd hex', params: { data: '0x616' }, error: /odd number of digits/, param: 'data' },
  {
    name: 'number data',
    inputs: [5],
    error: /expected bytes or a hex string, got number/,
    param: 'data',
  },
  {
    name: 'bad mode',
    params: { data: diet, mode: 'fancy' },
    error: /must be "diet" or "standard"/,
    param: 'mode',
  },
  { name: 'no input', error: /exactly one input, got 0/ },
  { name: 'errored input', inputs: [failed], error: /input 0 failed/ },
]

describe('cborparse', () => {
  for (const c of cases) it(c.name, () => check(c))
})
