import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createHttpClient, HttpError, redactUrl } from './http-client.ts'
import { SsrfError } from './ssrf.ts'

/** A local test server on 127.0.0.1 that records what it receives. */
type Seen = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }

let server: http.Server
let base: string
let port: number
let connections = 0
const seen: Seen[] = []

function route(req: http.IncomingMessage, res: http.ServerResponse, body: string) {
  const u = new URL(req.url ?? '/', 'http://x')
  const p = u.pathname
  if (p === '/echo') {
    res.setHeader('content-type', 'application/json')
    res.setHeader('x-multi', ['a', 'b'])
    res.end(JSON.stringify({ method: req.method, headers: req.headers, body }))
  } else if (p === '/ok') {
    res.end('ok')
  } else if (p === '/status') {
    res.statusCode = Number(u.searchParams.get('code'))
    res.end(`status ${res.statusCode}`)
  } else if (p === '/redirect') {
    res.statusCode = Number(u.searchParams.get('code') ?? 302)
    res.setHeader('location', u.searchParams.get('to') ?? '/ok')
    res.end()
  } else if (p === '/loop') {
    res.statusCode = 302
    res.setHeader('location', '/loop')
    res.end()
  } else if (p === '/slow') {
    const t = setTimeout(() => res.end('late'), 5000)
    res.on('close', () => clearTimeout(t))
  } else if (p === '/stream') {
    // Streams `n` bytes in 64 KiB chunks without a content-length.
    let left = Number(u.searchParams.get('n'))
    const chunk = Buffer.alloc(65536, 120)
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length)
        left -= n
        if (!res.write(chunk.subarray(0, n))) return void res.once('drain', pump)
      }
      res.end()
    }
    res.on('error', () => {})
    pump()
  } else if (p === '/declared') {
    res.setHeader('content-length', String(50 * 1024 * 1024))
    res.write('x')
    res.on('error', () => {})
  } else {
    res.statusCode = 404
    res.end('not found')
  }
}

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      route(req, res, body)
    })
  })
  server.on('connection', () => connections++)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  port = (server.address() as AddressInfo).port
  base = `http://127.0.0.1:${port}`
})

after(() => {
  server.closeAllConnections()
  server.close()
})

const names: Record<string, string[]> = {
  'public.test': ['127.0.0.1'],
  'other.test': ['127.0.0.1'],
  'private.test': ['10.0.0.5'],
  'loop.test': ['127.0.0.1'],
}
let resolveCalls: string[] = []
async function resolve(host: string): Promise<string[]> {
  resolveCalls.push(host)
  const found = names[host]
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
  return found
}
/** Treats 127.0.0.1 as public for the fake public names only. */
const allowAddress = (ip: string, host: string) =>
  ip === '127.0.0.1' && (host === 'public.test' || host === 'other.test')

async function refused(p: Promise<unknown>, pattern: RegExp): Promise<HttpError> {
  const err = await p.then(
    () => assert.fail('expected the request to be refused'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof HttpError, String(err))
  assert.equal(err.kind, 'refused', err.message)
  assert.equal(err.retryable, false)
  assert.match(err.message, pattern)
  return err
}

describe('http client: requests', () => {
  const client = createHttpClient({ allowUnrestricted: true, resolve })
  after(() => client.close())
  const get = (path: string, extra: Record<string, unknown> = {}) =>
    client.request({
      method: 'GET',
      url: `${base}${path}`,
      allowUnrestrictedNetworkAccess: true,
      ...extra,
    })

  it('GETs a body with status and flattened headers', async () => {
    const res = await get('/echo', { headers: { 'X-Key': 'v1' } })
    assert.equal(res.status, 200)
    assert.equal(res.headers['content-type'], 'application/json')
    assert.equal(res.headers['x-multi'], 'a, b')
    const echo = JSON.parse(Buffer.from(res.body).toString())
    assert.equal(echo.method, 'GET')
    assert.equal(echo.headers['x-key'], 'v1')
  })

  it('POSTs a string or byte body with content-length', async () => {
    const res = await client.request({
      method: 'post',
      url: `${base}/echo`,
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
      allowUnrestrictedNetworkAccess: true,
    })
    const echo = JSON.parse(Buffer.from(res.body).toString())
    assert.equal(echo.method, 'POST')
    assert.equal(echo.body, '{"a":1}')
    assert.equal(echo.headers['content-length'], '7')
    const res2 = await get('/echo', { method: 'PUT', body: new Uint8Array([104, 105]) })
    assert.equal(JSON.parse(Buffer.from(res2.body).toString()).body, 'hi')
  })

  it('returns non-2xx responses rather than throwing', async () => {
    const res = await get('/status?code=503')
    assert.equal(res.status, 503)
    assert.equal(Buffer.from(res.body).toString(), 'status 503')
  })

  it('reuses kept-alive connections', async () => {
    await get('/ok')
    const before = connections
    for (let i = 0; i < 20; i++) await get('/ok')
    assert.equal(connections, before)
  })

  it('follows redirects, turning POST into GET on 302/303 and keeping it on 307', async () => {
    const r302 = await get(`/redirect?code=302&to=/echo`, { method: 'POST', body: 'x' })
    assert.equal(JSON.parse(Buffer.from(r302.body).toString()).method, 'GET')
    assert.match(r302.url, /\/echo$/)
    const r303 = await get(`/redirect?code=303&to=/echo`, { method: 'PUT', body: 'x' })
    const e303 = JSON.parse(Buffer.from(r303.body).toString())
    assert.equal(e303.method, 'GET')
    assert.equal(e303.body, '')
    const r307 = await get(`/redirect?code=307&to=/echo`, { method: 'POST', body: 'kept' })
    const e307 = JSON.parse(Buffer.from(r307.body).toString())
    assert.equal(e307.method, 'POST')
    assert.equal(e307.body, 'kept')
  })

  it('stops after 10 redirects', async () => {
    const err = await get('/loop').catch((e: unknown) => e)
    assert.ok(err instanceof HttpError)
    assert.equal(err.kind, 'redirect')
    assert.match(err.message, /more than 10 redirects/)
  })

  it('refuses redirects to non-http(s) schemes', async () => {
    for (const to of ['file:///etc/passwd', 'ftp://127.0.0.1/x', 'gopher://127.0.0.1:70/x']) {
      const err = await get(`/redirect?to=${encodeURIComponent(to)}`).catch((e: unknown) => e)
      assert.ok(err instanceof HttpError)
      assert.equal(err.kind, 'invalid-request')
      assert.match(err.message, /unsupported scheme/)
      assert.match(err.message, /redirect #1/)
    }
  })

  it('refuses unsupported schemes and invalid URLs', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://example.com/x', 'data:text/plain,hi']) {
      const err = await client.request({ method: 'GET', url }).catch((e: unknown) => e)
      assert.ok(err instanceof HttpError, url)
      assert.match(err.message, /unsupported scheme/)
    }
    for (const url of ['not a url', '', 'http://', 'http://[::1']) {
      const err = await client.request({ method: 'GET', url }).catch((e: unknown) => e)
      assert.ok(err instanceof HttpError, url)
      assert.equal(err.kind, 'invalid-request')
      assert.match(err.message, /invalid URL/)
    }
  })

  it('enforces the response cap while streaming', async () => {
    const ok = await get('/stream?n=100000', { maxResponseBytes: 100000 })
    assert.equal(ok.body.length, 100000)
    const err = await get('/stream?n=3000000', { maxResponseBytes: 1_000_000 }).catch(
      (e: unknown) => e,
    )
    assert.ok(err instanceof HttpError)
    assert.equal(err.kind, 'too-large')
    assert.match(err.message, /exceeds the limit of 1000000 bytes/)
    const declared = await get('/declared').catch((e: unknown) => e)
    assert.ok(declared instanceof HttpError)
    assert.equal(declared.kind, 'too-large')
  })

  it('applies the client default cap (10 MiB)', async () => {
    const err = await get('/stream?n=11000000').catch((e: unknown) => e)
    assert.ok(err instanceof HttpError)
    assert.equal(err.kind, 'too-large')
    assert.match(err.message, /10485760/)
  })

  it('times out (retryable)', async () => {
    const start = Date.now()
    const err = await get('/slow', { timeoutMs: 100 }).catch((e: unknown) => e)
    assert.ok(err instanceof HttpError)
    assert.equal(err.kind, 'timeout')
    assert.equal(err.retryable, true)
    assert.match(err.message, /timed out after 100 ms/)
    assert.ok(Date.now() - start < 2000)
  })

  it('honours an abort signal', async () => {
    const err = await get('/slow', { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e)
    assert.ok(err instanceof HttpError)
    assert.equal(err.kind, 'timeout')
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 50)
    const aborted = await get('/slow', { signal: ac.signal }).catch((e: unknown) => e)
    assert.ok(aborted instanceof HttpError)
    assert.equal(aborted.kind, 'aborted')
    const pre = await get('/ok', { signal: AbortSignal.abort() }).catch((e: unknown) => e)
    assert.ok(pre instanceof HttpError)
    assert.equal(pre.kind, 'aborted')
  })

  it('reports network failures as retryable', async () => {
    const s = http.createServer()
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
    const closedPort = (s.address() as AddressInfo).port
    await new Promise<void>((r) => s.close(() => r()))
    const err = await client
      .request({
        method: 'GET',
        url: `http://127.0.0.1:${closedPort}/`,
        allowUnrestrictedNetworkAccess: true,
      })
      .catch((e: unknown) => e)
    assert.ok(err instanceof HttpError)
    assert.equal(err.kind, 'network')
    assert.equal(err.retryable, true)
    assert.match(err.message, /connection refused \(ECONNREFUSED\)/)
    const dns = await client
      .request({ method: 'GET', url: 'http://nowhere.test/', allowUnrestrictedNetworkAccess: true })
      .catch((e: unknown) => e)
    assert.ok(dns instanceof HttpError)
    assert.match(dns.message, /ENOTFOUND/)
  })

  it('reports invalid header names as invalid requests', async () => {
    const err = await get('/ok', { headers: { 'bad header': 'x' } }).catch((e: unknown) => e)
    assert.ok(err instanceof HttpError)
    assert.equal(err.kind, 'invalid-request')
    assert.equal(err.retryable, false)
  })

  it('serves many concurrent requests over a bounded set of kept-alive sockets', async () => {
    const n = 2000
    const concurrency = 32
    const before = connections
    let next = 0
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < n) {
          next++
          const res = await get('/ok')
          assert.equal(res.status, 200)
        }
      }),
    )
    // Throughput is measured by `npm run bench:pipeline`, not asserted here.
    assert.ok(
      connections - before <= concurrency,
      `${connections - before} connections for ${n} requests`,
    )
  })
})

describe('http client: SSRF guard', () => {
  const guarded = createHttpClient({ resolve, allowAddress })
  const permissive = createHttpClient({ allowUnrestricted: true, resolve, allowAddress })
  after(() => {
    guarded.close()
    permissive.close()
  })

  /** Asserts the server saw no new connection while `fn` ran. */
  async function noConnection(fn: () => Promise<unknown>) {
    const before = connections
    await fn()
    assert.equal(connections, before, 'a connection was made')
  }

  it('refuses loopback, private, mapped and metadata hosts before connecting', async () => {
    await noConnection(async () => {
      const cases: Array<[string, RegExp]> = [
        [`${base}/ok`, /127\.0\.0\.1.*loopback/],
        [`http://localhost:${port}/ok`, /localhost is refused by name/],
        [`http://app.localhost:${port}/ok`, /localhost is refused by name/],
        [`http://[::1]:${port}/ok`, /loopback/],
        ['http://[::ffff:10.0.0.1]/', /private/],
        [`http://[::ffff:7f00:1]:${port}/`, /loopback/],
        [`http://0x7f000001:${port}/ok`, /127\.0\.0\.1.*loopback/],
        [`http://2130706433:${port}/ok`, /loopback/],
        [`http://0177.0.0.1:${port}/ok`, /loopback/],
        [`http://127.1:${port}/ok`, /loopback/],
        ['http://169.254.169.254/latest/meta-data/', /metadata/],
        ['http://[fd00:ec2::254]/', /metadata/],
        ['http://0.0.0.0/', /unspecified/],
        ['https://192.168.1.1/', /private/],
      ]
      for (const [url, pattern] of cases)
        await refused(guarded.request({ method: 'GET', url }), pattern)
    })
  })

  it('refuses a name that resolves to a private address, without connecting', async () => {
    resolveCalls = []
    await noConnection(() =>
      refused(
        guarded.request({ method: 'GET', url: 'http://private.test/' }),
        /private\.test \(10\.0\.0\.5\)/,
      ),
    )
    assert.deepEqual(resolveCalls, ['private.test'])
    const err = await guarded
      .request({ method: 'GET', url: 'http://private.test/' })
      .catch((e: unknown) => e)
    assert.ok((err as HttpError).walk((e) => e instanceof SsrfError))
  })

  it('lets an allowed public name through', async () => {
    const res = await guarded.request({ method: 'GET', url: `http://public.test:${port}/ok` })
    assert.equal(Buffer.from(res.body).toString(), 'ok')
  })

  it('re-checks every redirect hop: allowed host → private IP literal', async () => {
    const before = seen.length
    const to = encodeURIComponent(`http://127.0.0.1:${port}/ok`)
    await refused(
      guarded.request({ method: 'GET', url: `http://public.test:${port}/redirect?to=${to}` }),
      /127\.0\.0\.1.*loopback.*after redirect #1/s,
    )
    assert.deepEqual(
      seen.slice(before).map((s) => s.url),
      [`/redirect?to=${to}`],
    )
  })

  it('re-checks every redirect hop: allowed host → name resolving privately', async () => {
    const to = encodeURIComponent(`http://private.test:${port}/ok`)
    await refused(
      guarded.request({ method: 'GET', url: `http://public.test:${port}/redirect?to=${to}` }),
      /private\.test.*10\.0\.0\.5.*after redirect #1/s,
    )
    const to2 = encodeURIComponent(`http://localhost:${port}/ok`)
    await refused(
      guarded.request({
        method: 'GET',
        url: `http://public.test:${port}/redirect?code=307&to=${to2}`,
      }),
      /localhost/,
    )
  })

  it('drops credentials on a cross-origin redirect', async () => {
    const to = encodeURIComponent(`http://other.test:${port}/echo`)
    const res = await guarded.request({
      method: 'GET',
      url: `http://public.test:${port}/redirect?to=${to}`,
      headers: { Authorization: 'Bearer secret', 'X-Keep': 'yes' },
    })
    const echo = JSON.parse(Buffer.from(res.body).toString())
    assert.equal(echo.headers.authorization, undefined)
    assert.equal(echo.headers['x-keep'], 'yes')
    assert.equal(echo.headers.host, `other.test:${port}`)
  })

  it("drops the request's sensitive headers too on a cross-origin redirect, only there", async () => {
    const headers = { 'X-Api-Key': 'k', 'X-Keep': 'yes', Cookie: 'c=1' }
    const to = encodeURIComponent(`http://other.test:${port}/echo`)
    const away = await guarded.request({
      method: 'GET',
      url: `http://public.test:${port}/redirect?to=${to}`,
      headers,
      sensitiveHeaders: ['x-api-key'],
    })
    const echo = JSON.parse(Buffer.from(away.body).toString())
    assert.equal(echo.headers['x-api-key'], undefined)
    assert.equal(echo.headers.cookie, undefined)
    assert.equal(echo.headers['x-keep'], 'yes')
    const same = await guarded.request({
      method: 'GET',
      url: `http://public.test:${port}/redirect?to=/echo`,
      headers,
      sensitiveHeaders: ['X-Api-Key'],
    })
    assert.equal(JSON.parse(Buffer.from(same.body).toString()).headers['x-api-key'], 'k')
  })

  it('allows private hosts only with both the node permission and the request flag', async () => {
    const url = `${base}/ok`
    const asked = await refused(
      guarded.request({ method: 'GET', url, allowUnrestrictedNetworkAccess: true }),
      /loopback/,
    )
    assert.match(asked.message, /this node does not allow it/)
    await refused(permissive.request({ method: 'GET', url }), /loopback/)
    const res = await permissive.request({
      method: 'GET',
      url,
      allowUnrestrictedNetworkAccess: true,
    })
    assert.equal(res.status, 200)
    const named = await permissive.request({
      method: 'GET',
      url: `http://loop.test:${port}/ok`,
      allowUnrestrictedNetworkAccess: true,
    })
    assert.equal(named.status, 200)
  })

  it('lets trusted (operator-configured) destinations through regardless', async () => {
    const res = await guarded.request({
      method: 'GET',
      url: `${base}/ok`,
      trustedDestination: true,
    })
    assert.equal(res.status, 200)
  })

  it('never reuses an unrestricted socket for a guarded request', async () => {
    const url = `http://loop.test:${port}/ok`
    const ok = await permissive.request({
      method: 'GET',
      url,
      allowUnrestrictedNetworkAccess: true,
    })
    assert.equal(ok.status, 200)
    await refused(
      permissive.request({ method: 'GET', url }),
      /loop\.test \(127\.0\.0\.1\): loopback/,
    )
  })

  it('keeps credentials and query secrets out of error messages', async () => {
    const err = await refused(
      guarded.request({
        method: 'GET',
        url: `http://user:hunter2@127.0.0.1:${port}/p?apikey=s3cret`,
      }),
      /loopback/,
    )
    assert.doesNotMatch(err.message, /hunter2|s3cret|user/)
    assert.match(err.message, /http:\/\/127\.0\.0\.1:\d+\/p\?…/)
    assert.equal(redactUrl('http://a:b@x.test/p?q=1#h'), 'http://x.test/p?…')
    assert.doesNotMatch(redactUrl('bad://a:secret@x y?k=secret'), /secret/)
  })
})
