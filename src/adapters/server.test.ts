import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createHttpClient } from '../pipeline/http-client.ts'
import {
  BridgePendingError,
  createBridgeTask,
  staticBridgeRegistry,
} from '../pipeline/tasks/bridge.ts'
import { testContext } from '../pipeline/testing.ts'
import { AdapterError } from './errors.ts'
import { type Adapter, defineAdapter, pending } from './sdk.ts'
import { type AdapterServer, serveAdapter } from './server.ts'

/** A node stand-in: records the PATCHes it receives and answers with `status`. */
type Received = { method: string; url: string; authorization: string | undefined; body: unknown }
let node: http.Server
let nodeUrl: string
const received: Received[] = []
let nodeStatuses: number[] = []

before(async () => {
  node = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body: JSON.parse(Buffer.concat(chunks).toString() || 'null'),
      })
      res.writeHead(nodeStatuses.shift() ?? 200, { 'content-type': 'application/json' })
      res.end('{}')
    })
  })
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r))
  nodeUrl = `http://127.0.0.1:${(node.address() as AddressInfo).port}`
})

const servers: AdapterServer[] = []
after(async () => {
  await Promise.all(servers.map((s) => s.close()))
  node.closeAllConnections()
  await new Promise((r) => node.close(r))
})

let release: (() => void) | undefined
/** Resolves when the next pending run has started (and `release` is its own). */
let pendingStarted: () => void = () => {}
const nextPending = () =>
  new Promise<void>((resolve) => {
    pendingStarted = resolve
  })

/** Doubles `x`; `x = 13` throws an AdapterError, `x = 99` a plain Error, `x = 7` breaks its own
 * output schema, `x = 42` answers later. */
const doubler: Adapter = defineAdapter<{ x: number; label?: string }>({
  name: 'doubler',
  input: {
    type: 'object',
    required: ['x'],
    properties: { x: { type: 'number' }, label: { type: 'string', maxLength: 5 } },
  },
  output: {
    type: 'object',
    required: ['result'],
    properties: { result: { type: 'number', maximum: 1000 }, label: { type: 'string' } },
  },
  run(input) {
    if (input.x === 13)
      throw new AdapterError('unlucky number', { statusCode: 502, details: 'x=13' })
    if (input.x === 99) throw new Error('boom')
    if (input.x === 7) return { result: 'seven' }
    if (input.x === 42 || input.x === 43) {
      return pending(
        new Promise((resolve, reject) => {
          release = () =>
            input.x === 42
              ? resolve({ result: 84, label: 'late' })
              : reject(new AdapterError('gave up'))
          pendingStarted()
        }),
      )
    }
    return { result: input.x * 2, label: input.label ?? 'none' }
  },
})

async function serve(options: Parameters<typeof serveAdapter>[1] = {}): Promise<AdapterServer> {
  const server = await serveAdapter(doubler, { callbackRetryDelaysMs: [10, 10], ...options })
  servers.push(server)
  return server
}

async function post(
  server: AdapterServer,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe('serveAdapter', () => {
  it('answers a Chainlink-style reply on 127.0.0.1', async () => {
    const server = await serve()
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const res = await post(server, {
      id: 'run-1',
      data: { x: 21, label: 'hi' },
      meta: { oracleRequest: {} },
    })
    assert.equal(res.status, 200)
    assert.deepEqual(res.body, {
      jobRunID: 'run-1',
      data: { result: 42, label: 'hi' },
      result: 42,
      statusCode: 200,
    })
  })

  it('keeps connections alive', async () => {
    const server = await serve()
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const ports: number[] = []
    for (let i = 0; i < 3; i++) {
      ports.push(
        await new Promise<number>((resolve, reject) => {
          const req = http.request(
            `${server.url}/`,
            { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
            (res) => {
              res.resume()
              res.on('end', () => resolve(req.socket!.localPort!))
            },
          )
          req.on('error', reject)
          req.end(JSON.stringify({ id: String(i), data: { x: i } }))
        }),
      )
    }
    agent.destroy()
    assert.equal(new Set(ports).size, 1, `one socket for all requests: ${ports}`)
  })

  it('answers errors in the errored format with the matching status', async () => {
    const server = await serve()
    const adapterError = await post(server, { id: 'r2', data: { x: 13 } })
    assert.equal(adapterError.status, 502)
    assert.deepEqual(adapterError.body, {
      jobRunID: 'r2',
      status: 'errored',
      error: { name: 'AdapterError', message: 'unlucky number', details: 'x=13' },
      statusCode: 502,
    })
    const crash = await post(server, { id: 'r3', data: { x: 99 } })
    assert.equal(crash.status, 500)
    assert.deepEqual(crash.body.error, { name: 'Error', message: 'boom' })
    assert.equal(crash.body.statusCode, 500)
  })

  it('refuses input that breaks the input schema with 400, naming the path', async () => {
    const server = await serve()
    const res = await post(server, { id: 'r4', data: { x: 'ten', label: 'too long' } })
    assert.equal(res.status, 400)
    assert.equal(res.body.status, 'errored')
    const error = res.body.error as { name: string; message: string; violations: unknown }
    assert.equal(error.name, 'InputValidationError')
    assert.match(error.message, /invalid input for adapter "doubler": data\.x: must be number/)
    assert.match(error.message, /data\.label: must NOT have more than 5 characters/)
    assert.deepEqual(error.violations, [
      { path: 'data.x', message: 'must be number' },
      { path: 'data.label', message: 'must NOT have more than 5 characters' },
    ])
    const missing = await post(server, { id: 'r5' })
    assert.equal(missing.status, 400)
    assert.match((missing.body.error as { message: string }).message, /data\.x: is required/)
  })

  it('refuses to return output its own schema forbids (500, naming the path)', async () => {
    const server = await serve()
    const res = await post(server, { id: 'r6', data: { x: 7 } })
    assert.equal(res.status, 500)
    const error = res.body.error as { name: string; message: string }
    assert.equal(error.name, 'OutputValidationError')
    assert.match(
      error.message,
      /adapter "doubler" refused to return output its own schema forbids: data\.result: must be number/,
    )
    assert.equal(res.body.result, undefined)
    const big = await post(server, { id: 'r7', data: { x: 600 } })
    assert.equal(big.status, 500)
    assert.match((big.body.error as { message: string }).message, /data\.result: must be <= 1000/)
  })

  it('refuses garbage bodies with 400 and a reason', async () => {
    const server = await serve()
    const cases: [string, RegExp][] = [
      ['', /not JSON/],
      ['{"id": "x", "data": ', /not JSON/],
      ['\u0000\u0001binary', /not JSON/],
      ['[1, 2]', /must be a JSON object .* got an array/],
      ['null', /got null/],
      ['"text"', /got string/],
      ['{"id": {"a": 1}, "data": {"x": 1}}', /"id" must be a string or a number/],
      ['{"id": "1", "data": [1]}', /"data" must be a JSON object/],
      [
        '{"id": "1", "data": {"x": 1}, "responseURL": "ftp://x"}',
        /"responseURL" must be an http\(s\) URL/,
      ],
    ]
    for (const [body, pattern] of cases) {
      const res = await post(server, body)
      assert.equal(res.status, 400, body)
      assert.equal(res.body.status, 'errored', body)
      assert.equal(res.body.statusCode, 400, body)
      assert.match((res.body.error as { message: string }).message, pattern, body)
    }
  })

  it('serves its schemas at GET /schema and refuses unknown paths and methods', async () => {
    const server = await serve({ token: 'secret' })
    const schema = await fetch(`${server.url}/schema`)
    assert.equal(schema.status, 200)
    const doc = (await schema.json()) as { name: string; input: { required: string[] } }
    assert.equal(doc.name, 'doubler')
    assert.deepEqual(doc.input.required, ['x'])
    assert.deepEqual(Object.keys(doc), ['name', 'input', 'output'])
    assert.deepEqual(await (await fetch(`${server.url}/health`)).json(), {
      status: 'ok',
      adapter: 'doubler',
    })
    const notFound = await fetch(`${server.url}/price`, { method: 'POST', body: '{}' })
    assert.equal(notFound.status, 404)
    assert.match(
      ((await notFound.json()) as { error: { message: string } }).error.message,
      /no such path "\/price"/,
    )
    const wrongMethod = await fetch(`${server.url}/`)
    assert.equal(wrongMethod.status, 405)
    assert.equal(wrongMethod.headers.get('allow'), 'POST')
    await wrongMethod.body?.cancel()
  })

  it('requires the bearer token when one is configured', async () => {
    const server = await serve({ token: 'outgoing-token' })
    const none = await post(server, { id: '1', data: { x: 1 } })
    assert.equal(none.status, 401)
    assert.match((none.body.error as { message: string }).message, /missing or wrong bearer token/)
    const wrong = await post(server, { id: '1', data: { x: 1 } }, { authorization: 'Bearer nope' })
    assert.equal(wrong.status, 401)
    const right = await post(
      server,
      { id: '1', data: { x: 1 } },
      { authorization: 'Bearer outgoing-token' },
    )
    assert.equal(right.status, 200)
    assert.equal(right.body.result, 2)
  })

  it('refuses a body over the size cap with 413', async () => {
    const server = await serve({ maxBodyBytes: 256 })
    const big = JSON.stringify({ id: '1', data: { x: 1, pad: 'x'.repeat(400) } })
    const res = await post(server, big)
    assert.equal(res.status, 413)
    assert.match((res.body.error as { message: string }).message, /exceeds the limit of 256 bytes/)
    // A chunked body (no content-length) that grows past the cap.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${server.url}/`, { method: 'POST' }, (r) => {
        r.resume()
        resolve(r.statusCode!)
      })
      req.on('error', reject)
      req.write('{"id": "1", "data": {"pad": "')
      req.write('y'.repeat(300))
      req.end('"}}')
    })
    assert.equal(status, 413)
    assert.equal((await post(server, { id: '2', data: { x: 2 } })).status, 200)
  })

  it('answers pending, then PATCHes the final reply to responseURL with the callback token', async () => {
    const server = await serve({ callbackToken: 'incoming-token' })
    received.length = 0
    const res = await post(server, {
      id: 'run-9',
      data: { x: 42 },
      responseURL: `${nodeUrl}/v2/resume/run-9`,
    })
    assert.equal(res.status, 200)
    assert.deepEqual(res.body, { jobRunID: 'run-9', pending: true, data: {}, statusCode: 200 })
    assert.equal(received.length, 0)
    release!()
    await server.idle()
    assert.deepEqual(received, [
      {
        method: 'PATCH',
        url: '/v2/resume/run-9',
        authorization: 'Bearer incoming-token',
        body: {
          value: {
            jobRunID: 'run-9',
            data: { result: 84, label: 'late' },
            result: 84,
            statusCode: 200,
          },
          error: null,
        },
      },
    ])
    assert.deepEqual(server.callbacks, [{ delivered: true, attempts: 1, status: 200 }])
  })

  it('sends a pending failure as an error, retrying 5xx but not 401', async () => {
    const server = await serve({ callbackToken: 'incoming-token' })
    received.length = 0
    nodeStatuses = [503, 200]
    await post(server, {
      id: 'run-10',
      data: { x: 43 },
      responseURL: `${nodeUrl}/v2/resume/run-10`,
    })
    release!()
    await server.idle()
    assert.equal(received.length, 2)
    assert.deepEqual(received[1]!.body, {
      value: {
        jobRunID: 'run-10',
        status: 'errored',
        error: { name: 'AdapterError', message: 'gave up' },
        statusCode: 500,
      },
      error: 'gave up',
    })
    assert.deepEqual(server.callbacks.at(-1), { delivered: true, attempts: 2, status: 200 })

    received.length = 0
    nodeStatuses = [401]
    await post(server, {
      id: 'run-11',
      data: { x: 42 },
      responseURL: `${nodeUrl}/v2/resume/run-11`,
    })
    release!()
    await server.idle()
    assert.equal(received.length, 1)
    assert.deepEqual(server.callbacks.at(-1), {
      delivered: false,
      attempts: 1,
      status: 401,
      error: 'the node answered HTTP 401',
    })
  })

  it('waits and answers synchronously when a pending run has no responseURL', async () => {
    const server = await serve()
    const started = nextPending()
    const reply = post(server, { id: 'run-12', data: { x: 42 } })
    await started
    release!()
    const res = await reply
    assert.equal(res.status, 200)
    assert.equal(res.body.result, 84)
  })

  it('refuses a responseURL outside the allowed callback origins', async () => {
    const server = await serve({ callbackOrigins: [nodeUrl] })
    const res = await post(server, {
      id: '1',
      data: { x: 42 },
      responseURL: 'http://127.0.0.1:1/v2/resume/1',
    })
    assert.equal(res.status, 400)
    assert.match(
      (res.body.error as { message: string }).message,
      /not at an allowed callback origin/,
    )
  })
})

describe('exact numbers', () => {
  it('reach run exactly and go back on the wire with every digit', async () => {
    const echo = defineAdapter<{ n: unknown }>({
      name: 'echo',
      input: { type: 'object', properties: { n: { type: 'number' } } },
      output: { type: 'object', properties: { result: { type: 'number' } } },
      run: (input) => ({ result: input.n, kind: typeof input.n }),
    })
    const server = await serveAdapter(echo)
    servers.push(server)
    const res = await fetch(`${server.url}/`, {
      method: 'POST',
      body: '{"id": 18446744073709551617, "data": {"n": 123456789012345678901234567890}}',
    })
    const text = await res.text()
    assert.equal(res.status, 200, text)
    assert.equal(
      text,
      '{"jobRunID":18446744073709551617,"data":{"result":123456789012345678901234567890,"kind":"bigint"},"result":123456789012345678901234567890,"statusCode":200}',
    )
    const decimalData = await fetch(`${server.url}/`, {
      method: 'POST',
      body: '{"data": 1.00000000000000000001}',
    })
    assert.equal(decimalData.status, 400)
    await decimalData.body?.cancel()
  })
})

describe('the node bridge task against an SDK adapter', () => {
  it('reads the reply, the errors and the pending marker', async () => {
    const server = await serve({ token: 'out' })
    const httpClient = createHttpClient()
    const bridges = staticBridgeRegistry([
      { name: 'doubler', url: `${server.url}/`, outgoingToken: 'out' },
    ])
    const task = createBridgeTask({ responseURL: (ctx) => `${nodeUrl}/v2/resume/${ctx.runId}` })
    const run = (requestData: string, async = false) =>
      task.run(
        testContext({
          params: { name: 'doubler', requestData, ...(async ? { async: 'true' } : {}) },
          deps: { http: httpClient, bridges },
        }),
      )
    const ok = await run('{"data": {"x": 5}}')
    assert.equal(ok.error, undefined)
    assert.equal(JSON.parse(ok.value as string).data.result, 10)
    const bad = await run('{"x": "five"}')
    assert.match(bad.error!.shortMessage, /data\.x: must be number/)
    const waiting = await run('{"x": 42}', true)
    assert.ok(waiting.error instanceof BridgePendingError)
    release!()
    await server.idle()
    httpClient.close()
  })
})
