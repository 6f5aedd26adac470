import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Credential } from './credentials.ts'
import { FetchAdapterConfigSchema } from './fetch-json.ts'
import { createHttpJsonAdapter } from './http-json.ts'
import { type AdapterServer, serveAdapter } from './server.ts'
import { type JsonApi, startJsonApi, testHttpClient } from './testing.ts'

let api: JsonApi
const http = testHttpClient()
const open = testHttpClient({ allowUnrestricted: true })
const servers: AdapterServer[] = []
const credentials: Credential[] = [
  { url: 'http://api.test/', headers: { 'X-Api-Key': 'k-123' }, query: {} },
  {
    url: 'http://api.test/v2/',
    headers: { Authorization: 'Bearer t-456' },
    query: { apikey: 'q-789' },
  },
]
let base: string

before(async () => {
  api = await startJsonApi({
    '/v1/ticker': (req) =>
      req.headers['x-api-key'] === 'k-123'
        ? [
            200,
            '{"data": {"last": 3012.5, "big": 123456789012345678901234567890, "list": [1, {"x": "y"}]}}',
          ]
        : [401, { error: 'no key' }],
    '/v2/quote': (req) => [200, { auth: req.headers.authorization ?? null, query: req.url }],
    '/echo': (req) => [
      200,
      { method: req.method, body: req.body, trace: req.headers['x-trace'] ?? null },
    ],
    '/away': () => [302, '', { location: `http://other.test:${api.port}/echo-headers` }],
    '/echo-headers': (req) => [200, { key: req.headers['x-api-key'] ?? null }],
    '/down': () => [503, 'maintenance'],
    '/text': () => [200, 'not json'],
  })
  base = `http://api.test:${api.port}`
  // Credentials match by origin: the test API's port is only known now.
  for (const c of credentials) c.url = c.url.replace('api.test', `api.test:${api.port}`)
})

after(async () => {
  await Promise.all(servers.map((s) => s.close()))
  await api.close()
  http.close()
  open.close()
})

async function serve(config: Record<string, unknown> = {}, client = http) {
  const adapter = createHttpJsonAdapter({
    config: FetchAdapterConfigSchema.parse(config),
    http: client,
    credentials,
  })
  const server = await serveAdapter(adapter)
  servers.push(server)
  return server
}

type Body = { result?: unknown; data?: Record<string, unknown>; error?: { message: string } }
async function ask(server: AdapterServer, data: unknown): Promise<{ status: number; body: Body }> {
  const res = await fetch(`${server.url}/`, {
    method: 'POST',
    body: JSON.stringify({ id: '7', data }),
  })
  return { status: res.status, body: (await res.json()) as Body }
}

describe('http-json adapter', () => {
  it('fetches JSON and answers the value at the path, with credentials from the secrets', async () => {
    const server = await serve()
    const res = await ask(server, { url: `${base}/v1/ticker`, path: 'data,last' })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.result, 3012.5)
    assert.deepEqual(res.body.data, { result: 3012.5, url: `${base}/v1/ticker` })
    assert.equal(api.seen.at(-1)!.headers['x-api-key'], 'k-123')

    const exact = await fetch(`${server.url}/`, {
      method: 'POST',
      body: JSON.stringify({ id: '8', data: { url: `${base}/v1/ticker`, path: ['data', 'big'] } }),
    })
    assert.match(await exact.text(), /"result":123456789012345678901234567890[,}]/)
    const nested = await ask(server, { url: `${base}/v1/ticker`, path: 'data,list,1' })
    assert.deepEqual(nested.body.result, { x: 'y' })
    const whole = await ask(server, { url: `${base}/echo` })
    assert.deepEqual(whole.body.result, { method: 'GET', body: '', trace: null })
  })

  it('uses the longest matching credential prefix, headers and query, and redacts the query', async () => {
    const server = await serve()
    const res = await ask(server, { url: `${base}/v2/quote?s=ETH` })
    assert.equal(res.status, 200)
    const result = res.body.result as { auth: string; query: string }
    assert.equal(result.auth, 'Bearer t-456')
    assert.equal(result.query, '/v2/quote?s=ETH&apikey=q-789')
    assert.equal(res.body.data!.url, `${base}/v2/quote?…`)
    assert.ok(!String(res.body.data!.url).includes('q-789'))
  })

  it('refuses credentials in the request, naming the field', async () => {
    const server = await serve()
    const header = await ask(server, { url: `${base}/echo`, headers: { 'X-Api-Key': 'mine' } })
    assert.equal(header.status, 400)
    assert.match(
      header.body.error!.message,
      /data\.headers\.X-Api-Key: credentials may not come from the request/,
    )
    const userinfo = await ask(server, { url: `http://me:pw@api.test:${api.port}/echo` })
    assert.equal(userinfo.status, 400)
    assert.match(
      userinfo.body.error!.message,
      /data\.url: credentials may not come from the request/,
    )
    const plain = await ask(server, {
      url: `${base}/echo`,
      method: 'POST',
      body: { a: 1 },
      headers: { 'X-Trace': 't' },
    })
    assert.deepEqual(plain.body.result, { method: 'POST', body: '{"a":1}', trace: 't' })
  })

  it('does not carry secret headers across a redirect to another origin', async () => {
    const server = await serve()
    const res = await ask(server, { url: `${base}/away` })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.deepEqual(res.body.result, { key: null })
  })

  it('keeps the SSRF guard on unless the operator lifts it', async () => {
    const guarded = await serve()
    const local = `http://127.0.0.1:${api.port}/echo`
    const refused = await ask(guarded, { url: local })
    assert.equal(refused.status, 400)
    assert.match(
      refused.body.error!.message,
      /refused to connect to 127\.0\.0\.1: loopback address/,
    )
    const metadata = await ask(guarded, { url: 'http://169.254.169.254/latest/meta-data' })
    assert.equal(metadata.status, 400)
    const lifted = await serve({ allowUnrestrictedNetworkAccess: true }, open)
    assert.equal((await ask(lifted, { url: local })).status, 200)
  })

  it('answers upstream failures as errors that say what failed', async () => {
    const server = await serve({ maxResponseBytes: 64 })
    const cases: [unknown, number, RegExp][] = [
      [{ url: `${base}/down` }, 502, /answered HTTP 503/],
      [{ url: `${base}/text` }, 502, /answered a body that is not JSON/],
      [{ url: `${base}/v1/ticker`, path: 'data,last' }, 502, /exceeds the limit of 64 bytes/],
      [
        { url: `${base}/echo`, path: 'nope' },
        502,
        /data\.path: the document has no value there .*"nope": no such key/,
      ],
      [{ url: `http://127.0.0.1:1/x` }, 400, /loopback/],
      [{ url: 'ftp://api.test/x' }, 400, /data\.url: must match pattern/],
      [{ path: 'a' }, 400, /data\.url: is required/],
      [{ url: `${base}/echo`, extra: 1 }, 400, /data\.extra: is not allowed here/],
    ]
    for (const [data, status, pattern] of cases) {
      const res = await ask(server, data)
      assert.equal(res.status, status, JSON.stringify(data))
      assert.match(res.body.error!.message, pattern, JSON.stringify(data))
    }
  })
})
