import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  defineTask,
  paramBool,
  paramBytes,
  paramDecimal,
  paramDuration,
  paramInteger,
  paramJson,
  paramOrInput,
  paramString,
  paramStringList,
  parseDuration,
  singleInput,
} from './params.ts'
import { TaskError } from './task.ts'
import { testContext } from './testing.ts'

const throwsParam = (fn: () => unknown, param: string, pattern: RegExp) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TaskError, String(e))
    assert.equal(e.param, param)
    assert.match(e.message, pattern)
    assert.ok(e.message.startsWith(`parameter "${param}"`))
    return true
  })

describe('task parameters', () => {
  const ctx = testContext({
    params: {
      times: '$(x.times)',
      n: '12',
      frac: '1.5',
      bad: 'abc',
      flag: 'true',
      hex: '0x0aff',
      oddhex: '0xabc',
      json: '{"a": $(x.times), "b": "$(x.name)"}',
      list: 'data,price',
      jsonList: '["a","b"]',
      timeout: '1m30s',
      missingVar: '$(nope)',
    },
    vars: { x: { times: 100, name: 'eth' } },
    inputs: ['only'],
  })

  it('converts with the right types', () => {
    assert.equal(paramDecimal(ctx, 'times').toString(), '100')
    assert.equal(paramInteger(ctx, 'n'), 12n)
    assert.equal(paramDecimal(ctx, 'frac').toString(), '1.5')
    assert.equal(paramBool(ctx, 'flag'), true)
    assert.deepEqual(paramBytes(ctx, 'hex'), Uint8Array.from([0x0a, 0xff]))
    assert.deepEqual(paramJson(ctx, 'json'), { a: 100, b: 'eth' })
    assert.deepEqual(paramStringList(ctx, 'list'), ['data', 'price'])
    assert.deepEqual(paramStringList(ctx, 'jsonList'), ['a', 'b'])
    assert.equal(paramDuration(ctx, 'timeout'), 90_000)
    assert.equal(paramString(ctx, 'absent', 'default'), 'default')
    assert.equal(paramOrInput(ctx, 'absent'), 'only')
    assert.equal(parseDuration('250ms'), 250)
  })

  it('names the parameter in every error', () => {
    throwsParam(() => paramDecimal(ctx, 'bad'), 'bad', /not a decimal number/)
    throwsParam(() => paramInteger(ctx, 'frac'), 'frac', /expected an integer, got 1.5/)
    throwsParam(() => paramBool(ctx, 'n'), 'n', /expected true or false/)
    throwsParam(() => paramBytes(ctx, 'oddhex'), 'oddhex', /not valid hex/)
    throwsParam(() => paramString(ctx, 'absent'), 'absent', /is required/)
    throwsParam(
      () => paramString(ctx, 'missingVar'),
      'missingVar',
      /variable "nope" is not defined/,
    )
    throwsParam(() => paramDuration(ctx, 'bad'), 'bad', /not a duration/)
  })

  it('checks the input count', () => {
    assert.throws(() => singleInput(testContext({ inputs: [] })), /exactly one input, got 0/)
    assert.throws(
      () => singleInput(testContext({ inputs: [new TaskError('upstream broke')] })),
      /input 0 failed: upstream broke/,
    )
  })

  it('defineTask turns throws into error results', async () => {
    const task = defineTask({
      type: 't',
      params: [],
      run: () => {
        throw new Error('oops')
      },
    })
    const result = await task.run(testContext())
    assert.ok(result.error instanceof TaskError)
    assert.match(result.error.message, /oops/)
  })
})
