import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createHttpClient } from '../http-client.ts'
import type { TaskDeps, TaskError, TaskResult } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import {
  type Bridge,
  BridgePendingError,
  bridgeTask,
  createBridgeTask,
  resumedBridgeResult,
  staticBridgeRegistry,
} from './bridge.ts'

type Seen = { url: string; headers: http.IncomingHttpHeaders; body: Record<string, unknown> }

let server: http.Server
let base: string
let closedPort: number
const seen: Seen[] = []
let flaky = 'ok'

function reply(
  res: http.ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
) {
  res.statusCode = status
  res.setHeader('content-type', 'application/json')
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v)
  res.end(body)
}

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}')
      seen.push({ url: req.url ?? '', headers: req.headers, body })
      const id = JSON.stringify(body.id)
      switch (req.url) {
        case '/big':
          return reply(
            res,
            200,
            `{"jobRunID":${id},"data":{"result":"${'x'.repeat(4096)}"},"statusCode":200}`,
          )
        case '/ok':
          return reply(
            res,
            200,
            `{"jobRunID":${id},"data":{"result":123.45},"result":123.45,"statusCode":200}`,
          )
        case '/error':
          return reply(
            res,
            500,
            `{"jobRunID":${id},"status":"errored","statusCode":500,"error":{"name":"AdapterError","message":"upstream down"}}`,
          )
        case '/error-in-body':
          return reply(
            res,
            200,
            `{"jobRunID":${id},"statusCode":400,"error":"missing parameter: from"}`,
          )
        case '/status-in-body':
          return reply(res, 200, `{"jobRunID":${id},"statusCode":502,"data":{}}`)
        case '/bad-request':
          return reply(res, 400, '')
        case '/pending':
          return reply(res, 200, `{"jobRunID":${id},"pending":true}`)
        case '/pending-header':
          return reply(res, 200, '{}', { 'X-Chainlink-Pending': 'true' })
        case '/garbage':
          res.setHeader('content-type', 'text/html')
          return res.end('<html>502 Bad Gateway</html>')
        case '/flaky':
          return flaky === 'ok'
            ? reply(res, 200, `{"data":{"result":${seen.length}},"result":${seen.length}}`)
            : reply(res, 503, '{"error":"overloaded"}')
        case '/slow': {
          const t = setTimeout(() => reply(res, 200, '{"data":{}}'), 5000)
          res.on('close', () => clearTimeout(t))
          return
        }
        default:
          return reply(res, 404, '{"error":"no such adapter"}')
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const s = http.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  closedPort = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
})

after(() => {
  server.closeAllConnections()
  server.close()
})

// A client with the SSRF guard fully on: bridges reach 127.0.0.1 because they are trusted.
const client = createHttpClient({ allowUnrestricted: false })
after(() => client.close())

function bridges(): Bridge[] {
  return [
    { name: 'price', url: `${base}/ok`, outgoingToken: 'tok-123' },
    { name: 'failing', url: `${base}/error` },
    { name: 'picky', url: `${base}/error-in-body` },
    { name: 'status', url: `${base}/status-in-body` },
    { name: 'bad', url: `${base}/bad-request` },
    { name: 'waiting', url: `${base}/pending` },
    { name: 'waiting2', url: `${base}/pending-header` },
    { name: 'garbage', url: `${base}/garbage` },
    { name: 'flaky', url: `${base}/flaky` },
    { name: 'slow', url: `${base}/slow` },
    { name: 'down', url: `http://127.0.0.1:${closedPort}/` },
    { name: 'big', url: `${base}/big` },
  ]
}
const deps = (): TaskDeps => ({ http: client, bridges: staticBridgeRegistry(bridges()) })

async function run(
  params: Record<string, string>,
  extra: TestContextParameters = {},
  task = bridgeTask,
): Promise<TaskResult> {
  return task.run(testContext({ type: 'bridge', params, deps: deps(), ...extra }))
}
function expectError(result: TaskResult, pattern: RegExp): TaskError {
  assert.ok(result.error, `expected an error, got ${JSON.stringify(result.value)}`)
  assert.match(result.error.message, pattern)
  return result.error
}
const last = () => seen[seen.length - 1]!

describe('bridge task', () => {
  it('POSTs {id, data} with the bearer token and returns the reply body', async () => {
    const result = await run(
      { name: 'price', requestData: '{"data": {"from": $(from), "to": "USD"}}' },
      {
        vars: { from: 'ETH' },
      },
    )
    assert.equal(result.error, undefined, result.error?.message)
    assert.equal(typeof result.value, 'string')
    const parsed = JSON.parse(result.value as string)
    assert.equal(parsed.data.result, 123.45)
    assert.equal(parsed.jobRunID, 'run-1')
    const s = last()
    assert.equal(s.url, '/ok')
    assert.equal(s.headers.authorization, 'Bearer tok-123')
    assert.equal(s.headers['content-type'], 'application/json')
    assert.deepEqual(s.body, { id: 'run-1', data: { from: 'ETH', to: 'USD' } })
  })

  it('wraps requestData without a data key, adds meta and includeInputAtKey', async () => {
    await run(
      { name: 'PRICE', requestData: '{"from": "BTC"}', includeInputAtKey: 'input' },
      {
        vars: { jobRun: { meta: { oracleRequest: { requestId: '0x01' } } } },
        inputs: [42],
      },
    )
    assert.deepEqual(last().body, {
      id: 'run-1',
      data: { from: 'BTC' },
      meta: { oracleRequest: { requestId: '0x01' } },
      input: 42,
    })
    await run({ name: 'price' })
    assert.deepEqual(last().body, { id: 'run-1', data: {} })
  })

  it('sends the task headers', async () => {
    await run({ name: 'price', headers: '["X-Trace", "abc"]' })
    assert.equal(last().headers['x-trace'], 'abc')
    assert.equal(last().headers.authorization, 'Bearer tok-123')
    expectError(await run({ name: 'price', headers: '["X-Trace"]' }), /parameter "headers"/)
  })

  it("fails with the adapter's error", async () => {
    const e500 = expectError(
      await run({ name: 'failing' }),
      /bridge "failing" failed: AdapterError: upstream down \(status 500\)/,
    )
    assert.equal(e500.retryable, true)
    const e400 = expectError(
      await run({ name: 'picky' }),
      /bridge "picky" failed: missing parameter: from \(status 400\)/,
    )
    assert.equal(e400.retryable, false)
    const inBody = expectError(await run({ name: 'status' }), /bridge "status" failed: HTTP 502/)
    assert.equal(inBody.retryable, true)
    expectError(await run({ name: 'bad' }), /bridge "bad" returned HTTP 400/)
  })

  it('reports a pending adapter with pending: true', async () => {
    for (const name of ['waiting', 'waiting2']) {
      const err = expectError(await run({ name, async: 'true' }), /is pending/)
      assert.ok(err instanceof BridgePendingError)
      assert.equal((err as BridgePendingError).pending, true)
    }
  })

  it('sends responseURL for async bridges when the node has one', async () => {
    const task = createBridgeTask({
      responseURL: (ctx) => `http://node.test/v2/resume/${ctx.runId}`,
    })
    await run({ name: 'waiting', async: 'true' }, {}, task)
    assert.equal(last().body.responseURL, 'http://node.test/v2/resume/run-1')
    await run({ name: 'waiting', async: 'false' }, {}, task)
    assert.equal(last().body.responseURL, undefined)
  })

  it('fails on a garbage body', async () => {
    const err = expectError(
      await run({ name: 'garbage' }),
      /bridge "garbage" returned a reply that is not JSON/,
    )
    assert.match(err.message, /502 Bad Gateway/)
  })

  it('times out on a slow adapter (retryable)', async () => {
    const start = Date.now()
    const err = expectError(
      await run({ name: 'slow' }, { signal: AbortSignal.timeout(100) }),
      /bridge "slow".*timed out/,
    )
    assert.equal(err.retryable, true)
    assert.ok(Date.now() - start < 2000)
  })

  it('refuses a reply over the size cap, naming the cap', async () => {
    const capped = createBridgeTask({ maxResponseBytes: 1024 })
    expectError(
      await run({ name: 'big' }, {}, capped),
      /bridge "big".*exceeds the limit of 1024 bytes/,
    )
    const roomy = await run({ name: 'big' })
    assert.equal(roomy.error, undefined)
  })

  it('reports an unreachable adapter as retryable', async () => {
    const err = expectError(await run({ name: 'down' }), /bridge "down".*connection refused/)
    assert.equal(err.retryable, true)
  })

  it('fails on an unknown bridge name or missing dependencies', async () => {
    expectError(await run({ name: 'nope' }), /parameter "name": no bridge named "nope"/)
    expectError(await run({}), /parameter "name": is required/)
    expectError(
      await run({ name: 'price' }, { deps: { http: client } }),
      /no bridges are configured/,
    )
    expectError(
      await run({ name: 'price' }, { deps: { bridges: staticBridgeRegistry(bridges()) } }),
      /no HTTP client/,
    )
    const broken = { get: async () => Promise.reject(new Error('db down')) }
    const err = expectError(
      await run({ name: 'price' }, { deps: { http: client, bridges: broken } }),
      /could not look up/,
    )
    assert.equal(err.retryable, true)
  })

  it('falls back to a cached reply within cacheTTL', async () => {
    let clock = 1_000_000
    const task = createBridgeTask({ now: () => clock })
    flaky = 'ok'
    const first = await run({ name: 'flaky', cacheTTL: '30', requestData: '{"q": 1}' }, {}, task)
    assert.equal(first.error, undefined)
    flaky = 'fail'
    clock += 29_000
    const cached = await run({ name: 'flaky', cacheTTL: '30', requestData: '{"q": 1}' }, {}, task)
    assert.equal(cached.value, first.value)
    // Different data: no cached reply.
    expectError(
      await run({ name: 'flaky', cacheTTL: '30', requestData: '{"q": 2}' }, {}, task),
      /overloaded/,
    )
    // Too old for a TTL of 30 s.
    clock += 2_000
    expectError(
      await run({ name: 'flaky', cacheTTL: '30s', requestData: '{"q": 1}' }, {}, task),
      /overloaded/,
    )
    // Without cacheTTL nothing is remembered or used.
    flaky = 'ok'
    await run({ name: 'flaky', requestData: '{"q": 3}' }, {}, task)
    flaky = 'fail'
    expectError(
      await run({ name: 'flaky', cacheTTL: '30', requestData: '{"q": 3}' }, {}, task),
      /overloaded/,
    )
    expectError(await run({ name: 'flaky', cacheTTL: 'soon' }, {}, task), /parameter "cacheTTL"/)
  })

  it('reads an asynchronous answer (PATCH /v2/resume) like a synchronous reply', () => {
    const reply = { jobRunID: 'r', data: { result: 12345678901234567890n }, statusCode: 200 }
    const ok = resumedBridgeResult('slow', { value: reply, error: null })
    assert.equal(ok.error, undefined)
    assert.match(String(ok.value), /"result":12345678901234567890/)
    const failed = resumedBridgeResult('slow', {
      value: { statusCode: 500 },
      error: 'upstream down',
    })
    assert.match(failed.error?.message ?? '', /bridge "slow" failed: upstream down/)
    const inner = resumedBridgeResult('slow', {
      value: { jobRunID: 'r', error: { message: 'no such pair' }, statusCode: 400 },
      error: null,
    })
    assert.match(inner.error?.message ?? '', /no such pair/)
    const still = resumedBridgeResult('slow', { value: { pending: true }, error: null })
    assert.ok(still.error instanceof BridgePendingError)
    assert.match(resumedBridgeResult('slow', 'nope').error?.message ?? '', /not an object/)
  })
})
