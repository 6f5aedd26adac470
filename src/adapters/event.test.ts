import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { AdapterError } from './errors.ts'
import { createEventAdapter, evaluate, type Operator } from './event.ts'
import { FetchAdapterConfigSchema } from './fetch-json.ts'
import { type AdapterServer, serveAdapter } from './server.ts'
import { type JsonApi, startJsonApi, testHttpClient } from './testing.ts'

describe('evaluate', () => {
  const yes: [unknown, Operator, unknown][] = [
    [42, 'eq', 42],
    ['42', 'eq', 42],
    [42.0, 'eq', '42.00'],
    ['landed', 'eq', 'landed'],
    [true, 'eq', true],
    [null, 'eq', null],
    [{ a: [1, 2] }, 'eq', { a: [1, 2] }],
    ['Landed', 'ne', 'landed'],
    [1, 'ne', '2'],
    [42, 'gt', 15],
    ['0.30000000000000001', 'gt', 0.3],
    [15, 'gte', 15],
    [-1, 'lt', 0],
    [15, 'lte', '15'],
    ['2026-11-23T10:42:00Z', 'gt', '2026-11-23T10:30:00Z'],
    ['2026-11-23T12:00:00+02:00', 'lt', '2026-11-23T10:30:00Z'],
    ['landed late', 'contains', 'late'],
    [['a', 15, 'c'], 'contains', '15'],
  ]
  const no: [unknown, Operator, unknown][] = [
    [42, 'eq', 43],
    ['42', 'eq', 'forty-two'],
    [true, 'eq', 'true'],
    [1, 'eq', true],
    [{ a: 1 }, 'eq', { a: 2 }],
    [15, 'gt', 15],
    [14, 'gte', 15],
    ['on time', 'contains', 'late'],
    [[1, 2], 'contains', 3],
  ]
  it('answers true and false by the documented rules', () => {
    for (const [a, op, b] of yes)
      assert.equal(evaluate(a, op, b), true, `${JSON.stringify(a)} ${op} ${JSON.stringify(b)}`)
    for (const [a, op, b] of no)
      assert.equal(evaluate(a, op, b), false, `${JSON.stringify(a)} ${op} ${JSON.stringify(b)}`)
  })

  it('refuses comparisons that make no sense (422), saying why', () => {
    const cases: [unknown, Operator, unknown, RegExp][] = [
      [
        'late',
        'gt',
        15,
        /gt needs two numbers or two ISO-8601 date-times; got the string "late" and the number 15/,
      ],
      ['2026-11-23', 'lt', '2026-11-24', /lt needs two numbers/],
      [null, 'gte', 1, /got null and the number 1/],
      [
        42,
        'contains',
        4,
        /contains needs a string holding a string, or an array; got the number 42/,
      ],
      ['abc', 'contains', 1, /got the string "abc" and the number 1/],
    ]
    for (const [a, op, b, pattern] of cases) {
      assert.throws(
        () => evaluate(a, op, b),
        (err: unknown) =>
          err instanceof AdapterError && err.statusCode === 422 && pattern.test(err.shortMessage),
        `${JSON.stringify(a)} ${op} ${JSON.stringify(b)}`,
      )
    }
  })
})

describe('event adapter', () => {
  let api: JsonApi
  let server: AdapterServer
  const http = testHttpClient()
  before(async () => {
    api = await startJsonApi({
      '/flights/LH123': () => [
        200,
        {
          flight: 'LH123',
          arrival: {
            scheduled: '2026-11-23T10:00:00Z',
            actual: '2026-11-23T10:42:00Z',
            delayMinutes: 42,
          },
          status: 'landed',
          tags: ['delayed', 'landed'],
        },
      ],
    })
    const adapter = createEventAdapter({ config: FetchAdapterConfigSchema.parse({}), http })
    server = await serveAdapter(adapter)
  })
  after(async () => {
    await server.close()
    await api.close()
    http.close()
  })
  const ask = async (data: Record<string, unknown>) => {
    const res = await fetch(`${server.url}/`, {
      method: 'POST',
      body: JSON.stringify({
        id: 'e1',
        data: { url: `http://api.test:${api.port}/flights/LH123`, ...data },
      }),
    })
    return {
      status: res.status,
      body: (await res.json()) as { result?: boolean; data?: unknown; error?: { message: string } },
    }
  }

  it('answers "did flight LH123 land more than 15 minutes late?" with the observed value', async () => {
    const res = await ask({
      path: 'arrival,delayMinutes',
      operator: 'gt',
      value: 15,
      question: 'LH123 late by more than 15 min?',
    })
    assert.equal(res.status, 200)
    assert.deepEqual(res.body, {
      jobRunID: 'e1',
      data: {
        result: true,
        observed: 42,
        operator: 'gt',
        value: 15,
        question: 'LH123 late by more than 15 min?',
      },
      result: true,
      statusCode: 200,
    })
    const onTime = await ask({ path: 'arrival,delayMinutes', operator: 'lte', value: 0 })
    assert.equal(onTime.body.result, false)
  })

  it('every operator over HTTP', async () => {
    const cases: [string, Operator, unknown, boolean][] = [
      ['status', 'eq', 'landed', true],
      ['status', 'ne', 'landed', false],
      ['arrival,actual', 'gt', '2026-11-23T10:15:00Z', true],
      ['arrival,delayMinutes', 'gte', 42, true],
      ['arrival,delayMinutes', 'lt', 42, false],
      ['arrival,delayMinutes', 'lte', '42', true],
      ['tags', 'contains', 'delayed', true],
      ['flight', 'contains', 'LH', true],
    ]
    for (const [path, operator, value, expected] of cases) {
      const res = await ask({ path, operator, value })
      assert.equal(res.status, 200, `${path} ${operator}`)
      assert.equal(res.body.result, expected, `${path} ${operator} ${JSON.stringify(value)}`)
    }
  })

  it('refuses bad questions with the path or the reason', async () => {
    const unknownOp = await ask({ path: 'status', operator: 'like', value: 'x' })
    assert.equal(unknownOp.status, 400)
    assert.match(
      unknownOp.body.error!.message,
      /data\.operator: must be one of "eq", "ne", "gt", "gte", "lt", "lte", "contains"/,
    )
    const missing = await ask({ path: 'status', operator: 'eq' })
    assert.match(missing.body.error!.message, /data\.value: is required/)
    const nonsense = await ask({ path: 'status', operator: 'gt', value: 3 })
    assert.equal(nonsense.status, 422)
    assert.match(nonsense.body.error!.message, /cannot compare: gt needs two numbers/)
    const noField = await ask({ path: 'arrival,gate', operator: 'eq', value: 'A1' })
    assert.equal(noField.status, 502)
    assert.match(noField.body.error!.message, /data\.path: .*"arrival\.gate": no such key/)
  })
})
