import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { Hex } from 'viem'
import type { OracleRequestLog } from '../chain/operator-events.ts'
import { DecimalError } from '../pipeline/decimal.ts'
import { JsonPathError } from '../pipeline/json-path.ts'
import { ManualOracleError, observe } from './manual-oracle.ts'

// --- diet CBOR, encoded by hand -------------------------------------------------------------

/** A CBOR head: major type and argument (up to 2 bytes of argument is all these tests need). */
function head(major: number, arg: number): number[] {
  const m = major << 5
  if (arg < 24) return [m | arg]
  if (arg < 0x100) return [m | 24, arg]
  if (arg < 0x10000) return [m | 25, arg >> 8, arg & 0xff]
  throw new Error(`argument ${arg} too large for this test encoder`)
}

function text(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)]
  return [...head(3, bytes.length), ...bytes]
}

function int(n: number): number[] {
  return n >= 0 ? head(0, n) : head(1, -1 - n)
}

function array(items: number[][]): number[] {
  return [...head(4, items.length), ...items.flat()]
}

function toHexData(bytes: number[]): Hex {
  return `0x${bytes.map((b) => b.toString(16).padStart(2, '0')).join('')}`
}

function request(entries: number[][]): OracleRequestLog {
  return {
    specId: `0x${'11'.repeat(32)}`,
    requester: '0x000000000000000000000000000000000000dEaD',
    requestId: `0x${'22'.repeat(32)}`,
    payment: 10n ** 17n,
    callbackAddr: '0x000000000000000000000000000000000000bEEF',
    callbackFunctionId: '0x12345678',
    cancelExpiration: 1_700_000_000n,
    dataVersion: 2n,
    data: toHexData(entries.flat()),
  }
}

// --- a local HTTP source -------------------------------------------------------------------

const ONE_MIB = 1 << 20
const routes: Record<string, { status?: number; type?: string; body: string }> = {
  '/price': { body: JSON.stringify({ data: { price: 3012.34 }, source: 'test' }) },
  '/list': { body: JSON.stringify({ data: [{ price: '1.5' }, { price: '2.25' }] }) },
  '/negative': { body: JSON.stringify({ value: -5 }) },
  '/huge': { body: JSON.stringify({ value: 2 ** 200 }) },
  '/object': { body: JSON.stringify({ value: { nested: 1 } }) },
  '/html': { type: 'text/html', body: '<html>not json</html>' },
  '/fail': { status: 500, body: JSON.stringify({ error: 'boom' }) },
  '/unavailable': { status: 503, body: 'try later' },
  '/big': { body: JSON.stringify({ value: 1, pad: 'x'.repeat(ONE_MIB) }) },
  // Under 1 Mi characters but over 1 MiB of UTF-8 (3 bytes per character).
  '/big-utf8': { body: JSON.stringify({ value: 1, pad: '\u20ac'.repeat(400_000) }) },
  '/bom': { body: '\ufeff{"value": 3}' },
  '/just-under': { body: JSON.stringify({ value: 7, pad: 'x'.repeat(ONE_MIB - 100) }) },
}

let server: Server
let base: string
before(async () => {
  server = createServer((req, res) => {
    const route = routes[new URL(req.url ?? '/', 'http://127.0.0.1').pathname]
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end('{"error":"not found"}')
      return
    }
    res.writeHead(route.status ?? 200, { 'content-type': route.type ?? 'application/json' })
    res.end(route.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

after(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

/** Asserts `promise` rejects with an instance of `cls` whose message contains every part. */
async function rejectsWith(
  promise: Promise<unknown>,
  cls: new (...args: never[]) => Error,
  ...parts: string[]
): Promise<Error> {
  let caught: unknown
  await assert.rejects(promise, (err: unknown) => {
    caught = err
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`)
    for (const part of parts) assert.ok(err.message.includes(part), `${part} in: ${err.message}`)
    return true
  })
  return caught as Error
}

// --- tests ---------------------------------------------------------------------------------

describe('observe', () => {
  it('fetches get, follows a comma path and multiplies by times exactly', async () => {
    const url = `${base}/price`
    const result = await observe(
      request([text('get'), text(url), text('path'), text('data,price'), text('times'), int(100)]),
    )
    assert.equal(result.value, 301234n)
    assert.equal(typeof result.value, 'bigint')
    assert.equal(result.observed, '3012.34')
    assert.deepEqual(result.params, { get: url, path: 'data,price', times: 100 })
  })

  it('encodes a long URL with a 1-byte length (0x78)', async () => {
    const url = `${base}/price?padding=${'p'.repeat(40)}`
    const data = [text('get'), text(url), text('path'), text('data,price'), text('times'), int(100)]
    assert.equal(data[1]![0], 0x78)
    assert.equal((await observe(request(data))).value, 301234n)
  })

  it('accepts path as a CBOR string array, with array indices', async () => {
    const result = await observe(
      request([
        text('get'),
        text(`${base}/list`),
        text('path'),
        array([text('data'), text('1'), text('price')]),
        text('times'),
        int(1000),
      ]),
    )
    assert.equal(result.value, 2250n)
    assert.equal(result.observed, '2.25')
    assert.deepEqual(result.params.path, ['data', '1', 'price'])
  })

  it('defaults times to 1 and truncates toward zero', async () => {
    const result = await observe(
      request([text('get'), text(`${base}/list`), text('path'), text('data,0,price')]),
    )
    assert.equal(result.value, 1n)
    assert.equal(result.observed, '1.5')
  })

  it('accepts times as a decimal string, exactly', async () => {
    const result = await observe(
      request([
        text('get'),
        text(`${base}/price`),
        text('path'),
        text('data,price'),
        text('times'),
        text('1e18'),
      ]),
    )
    assert.equal(result.value, 3012340000000000000000n)
  })

  it('rejects a request without get, naming "get"', async () => {
    const err = await rejectsWith(
      observe(request([text('path'), text('data,price'), text('times'), int(100)])),
      ManualOracleError,
      '"get"',
    )
    assert.equal(err.name, 'ManualOracleError')
  })

  it('rejects a get that is not a string', async () => {
    await rejectsWith(
      observe(request([text('get'), int(5), text('path'), text('x')])),
      ManualOracleError,
      '"get"',
    )
  })

  it('rejects a request without path, naming "path"', async () => {
    await rejectsWith(
      observe(request([text('get'), text(`${base}/price`), text('times'), int(100)])),
      ManualOracleError,
      '"path"',
    )
  })

  it('reports a source that does not answer JSON', async () => {
    const url = `${base}/html`
    const err = await rejectsWith(
      observe(request([text('get'), text(url), text('path'), text('data')])),
      ManualOracleError,
      url,
      'did not answer JSON',
    )
    assert.ok(err.cause instanceof SyntaxError)
  })

  it('names the HTTP status of a failing source, as retryable', async () => {
    const url = `${base}/fail`
    const err = await rejectsWith(
      observe(request([text('get'), text(url), text('path'), text('data')])),
      ManualOracleError,
      url,
      'HTTP 500',
    )
    assert.equal((err as ManualOracleError).retryable, true)
    await rejectsWith(
      observe(request([text('get'), text(`${base}/unavailable`), text('path'), text('data')])),
      ManualOracleError,
      'HTTP 503',
    )
  })

  it('reports a source that cannot be reached, as retryable', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/price`
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const err = await rejectsWith(
      observe(request([text('get'), text(url), text('path'), text('data')])),
      ManualOracleError,
      `fetching ${url} failed`,
    )
    assert.equal((err as ManualOracleError).retryable, true)
    assert.ok(err.cause !== undefined)
  })

  it('passes on the JsonPathError for a missing key', async () => {
    await rejectsWith(
      observe(request([text('get'), text(`${base}/price`), text('path'), text('data,volume')])),
      JsonPathError,
      '"data.volume"',
      'no such key',
    )
  })

  it('rejects a negative result as not fitting a uint256', async () => {
    await rejectsWith(
      observe(
        request([
          text('get'),
          text(`${base}/negative`),
          text('path'),
          text('value'),
          text('times'),
          int(100),
        ]),
      ),
      ManualOracleError,
      '-500',
      'does not fit a uint256',
    )
  })

  it('rejects a negative times the same way', async () => {
    await rejectsWith(
      observe(
        request([
          text('get'),
          text(`${base}/price`),
          text('path'),
          text('data,price'),
          text('times'),
          int(-1),
        ]),
      ),
      ManualOracleError,
      'does not fit a uint256',
    )
  })

  it('rejects a result above 2^256 - 1', async () => {
    await rejectsWith(
      observe(
        request([
          text('get'),
          text(`${base}/huge`),
          text('path'),
          text('value'),
          text('times'),
          text('1e180'),
        ]),
      ),
      ManualOracleError,
      'does not fit a uint256',
    )
  })

  it('rejects an observed value that is not a number', async () => {
    await rejectsWith(
      observe(request([text('get'), text(`${base}/object`), text('path'), text('value')])),
      DecimalError,
      'observed value',
    )
  })

  it('rejects a reply over 1 MiB', async () => {
    assert.ok(routes['/big']!.body.length > ONE_MIB)
    const url = `${base}/big`
    await rejectsWith(
      observe(request([text('get'), text(url), text('path'), text('value')])),
      ManualOracleError,
      url,
      'more than 1 MiB',
    )
  })

  it('counts the 1 MiB limit in bytes, not characters', async () => {
    const body = routes['/big-utf8']!.body
    assert.ok(body.length < ONE_MIB && Buffer.byteLength(body) > ONE_MIB)
    await rejectsWith(
      observe(request([text('get'), text(`${base}/big-utf8`), text('path'), text('value')])),
      ManualOracleError,
      'more than 1 MiB',
    )
  })

  it('ignores a UTF-8 byte order mark, as res.text() does', async () => {
    const result = await observe(
      request([text('get'), text(`${base}/bom`), text('path'), text('value')]),
    )
    assert.equal(result.value, 3n)
  })

  it('accepts a reply just under 1 MiB', async () => {
    assert.ok(Buffer.byteLength(routes['/just-under']!.body) <= ONE_MIB)
    const result = await observe(
      request([text('get'), text(`${base}/just-under`), text('path'), text('value')]),
    )
    assert.equal(result.value, 7n)
  })
})
