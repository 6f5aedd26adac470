import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createHttpClient, HttpError } from '../http-client.ts'
import { SsrfError } from '../ssrf.ts'
import type { TaskDeps, TaskError, TaskResult } from '../task.ts'
import { testContext } from '../testing.ts'
import { httpTask } from './http.ts'

type Seen = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }

let server: http.Server
let port: number
let base: string
let connections = 0
const seen: Seen[] = []

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      const u = new URL(req.url ?? '/', 'http://x')
      if (u.pathname === '/price') {
        res.setHeader('content-type', 'application/json')
        res.end('{"price": 123.45, "big": 123456789012345678901234567890}')
      } else if (u.pathname === '/echo') {
        res.end(JSON.stringify({ method: req.method, headers: req.headers, body }))
      } else if (u.pathname === '/status') {
        res.statusCode = Number(u.searchParams.get('code'))
        res.end(`{"error":"status ${res.statusCode}"}`)
      } else if (u.pathname === '/redirect') {
        res.statusCode = 302
        res.setHeader('location', u.searchParams.get('to') ?? '/price')
        res.end()
      } else if (u.pathname === '/slow') {
        const t = setTimeout(() => res.end('late'), 5000)
        res.on('close', () => clearTimeout(t))
      } else if (u.pathname === '/big') {
        res.on('error', () => {})
        const chunk = Buffer.alloc(65536, 97)
        for (let i = 0; i < 40; i++) res.write(chunk)
        res.end()
      } else {
        res.statusCode = 404
        res.end('nope')
      }
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

/** Fake DNS: `public.test` stands for a public host (it is really the local server). */
const names: Record<string, string[]> = {
  'public.test': ['127.0.0.1'],
  'private.test': ['10.0.0.5'],
  'internal.test': ['127.0.0.1'],
  localhost: ['127.0.0.1'],
}
const resolve = async (host: string) => {
  const found = names[host]
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
  return found
}
const client = createHttpClient({
  allowUnrestricted: true,
  resolve,
  allowAddress: (ip, host) => host === 'public.test' && ip === '127.0.0.1',
  maxResponseBytes: 1024 * 1024,
})
after(() => client.close())

const nodeDefault: TaskDeps = { http: client }
const nodePermissive: TaskDeps = { http: client, allowUnrestrictedNetworkAccess: true }

function run(
  params: Record<string, string>,
  deps: TaskDeps = nodePermissive,
  extra = {},
): Promise<TaskResult> {
  return Promise.resolve(httpTask.run(testContext({ type: 'http', params, deps, ...extra })))
}
function unrestricted(params: Record<string, string>) {
  return run({ allowUnrestrictedNetworkAccess: 'true', ...params })
}
function expectError(result: TaskResult, pattern: RegExp): TaskError {
  assert.ok(result.error, `expected an error, got ${JSON.stringify(result.value)}`)
  assert.match(result.error.message, pattern)
  return result.error
}
function lastSeen(): Seen {
  return seen[seen.length - 1]!
}

describe('http task', () => {
  it('GETs and returns the body as a string', async () => {
    const result = await unrestricted({ url: `${base}/price` })
    assert.equal(result.value, '{"price": 123.45, "big": 123456789012345678901234567890}')
    assert.equal(lastSeen().method, 'GET')
    assert.equal(lastSeen().body, '')
    assert.equal(lastSeen().headers['content-type'], undefined)
  })

  it('POSTs requestData as JSON with interpolated values', async () => {
    const result = await run(
      {
        method: 'POST',
        url: '$(endpoint)',
        requestData: '{"pair": $(pair), "amount": $(amount), "note": "id $(id)"}',
        allowUnrestrictedNetworkAccess: 'true',
      },
      nodePermissive,
      { vars: { endpoint: `${base}/echo`, pair: ['ETH', 'USD'], amount: 10n ** 20n, id: 7 } },
    )
    assert.equal(result.error, undefined)
    const s = lastSeen()
    assert.equal(s.method, 'POST')
    assert.equal(s.headers['content-type'], 'application/json')
    assert.equal(s.body, '{"pair":["ETH","USD"],"amount":100000000000000000000,"note":"id 7"}')
  })

  it('sends headers given as a Chainlink array or a JSON object', async () => {
    await unrestricted({
      url: `${base}/echo`,
      headers: '["X-Key", "secret", "Accept", "text/plain"]',
    })
    assert.equal(lastSeen().headers['x-key'], 'secret')
    assert.equal(lastSeen().headers.accept, 'text/plain')
    const result = await run(
      {
        url: `${base}/echo`,
        method: 'put',
        headers: '{"X-Other": "$(v)", "Content-Type": "text/plain"}',
        requestData: '{"a": 1}',
        allowUnrestrictedNetworkAccess: 'true',
      },
      nodePermissive,
      { vars: { v: 'from-var' } },
    )
    assert.equal(result.error, undefined)
    assert.equal(lastSeen().method, 'PUT')
    assert.equal(lastSeen().headers['x-other'], 'from-var')
    assert.equal(lastSeen().headers['content-type'], 'text/plain')
  })

  it('rejects malformed headers', async () => {
    expectError(
      await unrestricted({ url: `${base}/echo`, headers: '["X-Key"]' }),
      /parameter "headers".*even number/,
    )
    expectError(
      await unrestricted({ url: `${base}/echo`, headers: '"X-Key: v"' }),
      /parameter "headers"/,
    )
    expectError(
      await unrestricted({ url: `${base}/echo`, headers: '["Bad Name", "v"]' }),
      /not a valid header name/,
    )
    expectError(
      await unrestricted({ url: `${base}/echo`, headers: '["X", "a\\r\\nB: c"]' }),
      /line break/,
    )
  })

  it('fails on non-2xx statuses, naming the status', async () => {
    const e404 = expectError(
      await unrestricted({ url: `${base}/status?code=404` }),
      /returned HTTP 404/,
    )
    assert.equal(e404.retryable, false)
    assert.match(e404.message, /status 404/)
    const e503 = expectError(
      await unrestricted({ url: `${base}/status?code=503` }),
      /returned HTTP 503/,
    )
    assert.equal(e503.retryable, true)
  })

  it('times out through ctx.signal', async () => {
    const start = Date.now()
    const result = await run(
      { url: `${base}/slow`, allowUnrestrictedNetworkAccess: 'true' },
      nodePermissive,
      {
        signal: AbortSignal.timeout(100),
      },
    )
    const err = expectError(result, /timed out/)
    assert.equal(err.retryable, true)
    assert.ok(Date.now() - start < 2000)
  })

  it('fails when the response is over the cap', async () => {
    expectError(await unrestricted({ url: `${base}/big` }), /exceeds the limit of 1048576 bytes/)
  })

  it('fails on garbage URLs and unsupported schemes', async () => {
    expectError(await unrestricted({ url: 'not a url' }), /invalid URL/)
    expectError(await unrestricted({ url: 'http://' }), /invalid URL/)
    expectError(await unrestricted({ url: 'file:///etc/passwd' }), /unsupported scheme "file"/)
    expectError(await unrestricted({ url: 'ftp://127.0.0.1/pub' }), /unsupported scheme "ftp"/)
    expectError(
      await unrestricted({ url: 'javascript:alert(1)' }),
      /unsupported scheme "javascript"/,
    )
  })

  it('checks its parameters and dependencies', async () => {
    expectError(await run({}), /parameter "url": is required/)
    expectError(await run({ url: `${base}/price`, method: 'GE T' }), /not an HTTP method/)
    expectError(await run({ url: `${base}/price` }, {}), /no HTTP client/)
    expectError(
      await run({ url: `${base}/price`, allowUnrestrictedNetworkAccess: 'yes' }),
      /parameter "allowUnrestrictedNetworkAccess"/,
    )
    expectError(
      await run({ url: `${base}/echo`, requestData: '{"a": ' }),
      /parameter "requestData"/,
    )
  })
})

describe('http task: SSRF', () => {
  /** Runs with the guard active and asserts a clear refusal with no connection made. */
  async function assertRefused(
    params: Record<string, string>,
    pattern: RegExp,
    deps: TaskDeps = nodeDefault,
  ) {
    const before = connections
    const err = expectError(await run(params, deps), pattern)
    assert.match(err.message, /refused to connect/)
    assert.equal(err.retryable, false)
    assert.ok(
      err.walk((e) => e instanceof SsrfError),
      'caused by an SsrfError',
    )
    assert.ok(
      err.walk((e) => e instanceof HttpError),
      'caused by an HttpError',
    )
    assert.equal(connections, before, 'no connection may be made')
    return err
  }

  const cases: Array<[string, string, RegExp]> = [
    ['127.0.0.1', `http://127.0.0.1:${'PORT'}/price`, /127\.0\.0\.1: loopback address/],
    ['localhost', 'http://localhost:PORT/price', /localhost is refused by name/],
    ['[::1]', 'http://[::1]:PORT/price', /\[::1\]: loopback address/],
    ['::ffff:10.0.0.1', 'http://[::ffff:10.0.0.1]/', /private address/],
    ['::ffff:7f00:1', 'http://[::ffff:7f00:1]:PORT/', /loopback address/],
    ['0x7f000001', 'http://0x7f000001:PORT/price', /127\.0\.0\.1: loopback address/],
    ['2130706433', 'http://2130706433:PORT/price', /loopback address/],
    ['169.254.169.254', 'http://169.254.169.254/latest/meta-data/iam/', /cloud metadata address/],
    ['10.1.2.3', 'https://10.1.2.3/', /private address/],
    [
      'a name resolving to a private address',
      'http://private.test/',
      /private\.test \(10\.0\.0\.5\): private/,
    ],
  ]
  for (const [name, url, pattern] of cases) {
    it(`refuses ${name}`, async () => {
      await assertRefused({ url: url.replace('PORT', String(port)) }, pattern)
    })
  }

  it('refuses a redirect from an allowed host to a private one', async () => {
    const before = seen.length
    const to = encodeURIComponent(`http://127.0.0.1:${port}/price`)
    const err = expectError(
      await run({ url: `http://public.test:${port}/redirect?to=${to}` }, nodeDefault),
      /refused to connect to 127\.0\.0\.1: loopback address \(after redirect #1\)/,
    )
    assert.equal(err.retryable, false)
    // The allowed first hop was made; the private second hop never was.
    assert.deepEqual(
      seen.slice(before).map((s) => s.url),
      [`/redirect?to=${to}`],
    )
    const toName = encodeURIComponent('http://private.test/x')
    expectError(
      await run({ url: `http://public.test:${port}/redirect?to=${toName}` }, nodeDefault),
      /private\.test \(10\.0\.0\.5\).*after redirect #1/,
    )
  })

  it('allows the public name itself', async () => {
    const result = await run({ url: `http://public.test:${port}/price` }, nodeDefault)
    assert.equal(result.error, undefined)
  })

  it('refuses when only the job asks for unrestricted access', async () => {
    const err = await assertRefused(
      { url: `${base}/price`, allowUnrestrictedNetworkAccess: 'true' },
      /loopback/,
      nodeDefault,
    )
    assert.match(err.message, /this node does not allow it/)
  })

  it('refuses when only the node allows unrestricted access', async () => {
    await assertRefused({ url: `${base}/price` }, /loopback/, nodePermissive)
    await assertRefused(
      { url: `${base}/price`, allowUnrestrictedNetworkAccess: 'false' },
      /loopback/,
      nodePermissive,
    )
  })

  it('refuses when the HTTP client itself does not allow unrestricted access', async () => {
    const strict = createHttpClient({ resolve })
    try {
      await assertRefused(
        { url: `${base}/price`, allowUnrestrictedNetworkAccess: 'true' },
        /loopback/,
        {
          http: strict,
          allowUnrestrictedNetworkAccess: true,
        },
      )
    } finally {
      strict.close()
    }
  })

  it('allows private addresses with both the job override and the node permission', async () => {
    for (const url of [
      `${base}/price`,
      `http://localhost:${port}/price`,
      `http://0x7f000001:${port}/price`,
      `http://internal.test:${port}/price`,
    ]) {
      const result = await unrestricted({ url })
      assert.equal(result.error, undefined, `${url}: ${result.error?.message}`)
      assert.match(String(result.value), /"price"/)
    }
    // ...and redirects between private hosts under the same (unrestricted) policy.
    const to = encodeURIComponent(`http://localhost:${port}/price`)
    const redirected = await unrestricted({ url: `${base}/redirect?to=${to}` })
    assert.equal(redirected.error, undefined)
  })
})
