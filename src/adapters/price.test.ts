import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { ConfigError } from '../config/config.ts'
import { createHttpClient } from '../pipeline/http-client.ts'
import { parseAdapterText } from './config.ts'
import { createPriceAdapter, type PriceConfig, PriceConfigSchema } from './price.ts'
import { type AdapterServer, serveAdapter } from './server.ts'
import {
  parseFault,
  type SimulatedExchanges,
  startSimulatedExchanges,
} from './sources/simulated.ts'

const http = createHttpClient()
const cleanup: (() => unknown)[] = [() => http.close()]
after(async () => {
  for (const f of cleanup.reverse()) await f()
})

type SourceLine = { name: string; origin: string; status: string; value?: number; reason?: string }
type Reply = {
  status: number
  body: {
    result?: number
    data?: {
      result: number
      usedOrigins: number
      sources: SourceLine[]
      origins: { origin: string; sources: string[]; status: string; note?: string }[]
    }
    error?: { message: string; details?: string; sources?: SourceLine[]; usedOrigins?: number }
  }
}

async function exchanges(params: Parameters<typeof startSimulatedExchanges>[0]) {
  const set = await startSimulatedExchanges(params)
  cleanup.push(() => set.stop())
  return set
}

function configFor(
  set: SimulatedExchanges,
  overrides: Partial<PriceConfig> = {},
  derivedFrom: Record<string, string> = {},
): PriceConfig {
  return PriceConfigSchema.parse({
    minSources: 3,
    timeoutMs: 2000,
    sources: set.exchanges.map((e) => ({
      name: e.name,
      url: `${e.url}/price?pair={pair}`,
      path: 'price',
      timestampPath: 'timestamp',
      ...(derivedFrom[e.name] ? { derivedFrom: derivedFrom[e.name] } : {}),
    })),
    ...overrides,
  })
}

async function serve(config: PriceConfig): Promise<AdapterServer> {
  const server = await serveAdapter(createPriceAdapter({ config, http }))
  cleanup.push(() => server.close())
  return server
}

async function ask(server: AdapterServer, data: unknown): Promise<Reply> {
  const res = await fetch(`${server.url}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'run-1', data }),
  })
  return { status: res.status, body: (await res.json()) as Reply['body'] }
}

describe('price adapter', () => {
  it('7 sources: 3 honest, 2 liars (×1.3, ×13), 1 down, 1 malformed: answers within the honest range and names the dropped', async () => {
    const set = await exchanges({
      pairs: { 'ETH-USD': 3000 },
      seed: 11,
      count: 7,
      spread: 0.002, // honest exchanges within 0.4 % of each other
      faults: {
        4: parseFault('wrong:30'),
        5: parseFault('wrong:1200'),
        6: parseFault('down'),
        7: parseFault('malformed'),
      },
    })
    const server = await serve(configFor(set))
    const reply = await ask(server, { pair: 'ETH-USD' })
    assert.equal(reply.status, 200, JSON.stringify(reply.body))
    const data = reply.body.data!
    const honest = set.exchanges.slice(0, 3).map((e) => Number(e.served.at(-1)!.price))
    assert.ok(Math.max(...honest) / Math.min(...honest) < 1.005, `${honest}`)
    assert.ok(
      data.result >= Math.min(...honest) && data.result <= Math.max(...honest),
      `${data.result} within ${honest}`,
    )
    assert.equal(reply.body.result, data.result)
    assert.equal(data.usedOrigins, 3)

    const byName = Object.fromEntries(data.sources.map((s) => [s.name, s]))
    for (const i of [1, 2, 3]) {
      assert.equal(byName[`sim-exchange-${i}`]!.status, 'used')
      assert.equal(byName[`sim-exchange-${i}`]!.value, honest[i - 1])
    }
    for (const [name, factor] of [
      ['sim-exchange-4', '+30'],
      ['sim-exchange-5', '+1200'],
    ] as const) {
      const line = byName[name]!
      assert.equal(line.status, 'outlier', name)
      assert.match(
        line.reason!,
        /^outlier: [\d.]+ is \+\d+(\.\d+)? % from the median [\d.]+, beyond the cutoff of ±[\d.]+ \(modified z-score > 3.5\)$/,
      )
      const pct = Number(/is ([+-][\d.]+) %/.exec(line.reason!)![1])
      assert.ok(Math.abs(pct - Number(factor)) < Number(factor) * 0.01 + 0.5, `${name}: ${pct}`)
    }
    assert.equal(byName['sim-exchange-6']!.status, 'failed')
    assert.match(byName['sim-exchange-6']!.reason!, /^failed \(network\): .*connection refused/)
    assert.equal(byName['sim-exchange-7']!.status, 'failed')
    assert.match(byName['sim-exchange-7']!.reason!, /^failed \(json\): .* not JSON/)
  })

  it('refuses with a clear error when fewer than minSources independent sources remain', async () => {
    const set = await exchanges({
      pairs: { 'ETH-USD': 3000 },
      seed: 12,
      count: 5,
      faults: { 4: parseFault('down:503'), 5: parseFault('wrong:-40') },
    })
    const server = await serve(configFor(set, { minSources: 4 }))
    const reply = await ask(server, { base: 'eth', quote: 'usd' })
    assert.equal(reply.status, 502)
    const error = reply.body.error!
    assert.equal(
      error.message,
      'price for ETH-USD refused: 3 independent sources left, minSources is 4',
    )
    assert.match(error.details!, /sim-exchange-4: failed \(status\): .* answered HTTP 503/)
    assert.match(
      error.details!,
      /sim-exchange-5: outlier: .* is -(39|40)(\.\d+)? % from the median/,
    )
    assert.equal(error.usedOrigins, 3)
    assert.deepEqual(
      error.sources!.map((s) => s.status),
      ['used', 'used', 'used', 'failed', 'outlier'],
    )

    const none = await serve(
      configFor(set, { minSources: 1, sources: configFor(set).sources.slice(3, 4) }),
    )
    const nothing = await ask(none, { from: 'ETH', to: 'USD' })
    assert.equal(nothing.status, 502)
    assert.equal(nothing.body.error!.message, 'price for ETH-USD refused: no source answered')
  })

  it('counts sources derived from one origin as one, and says so', async () => {
    // sim-exchange-1..3 mirror one feed that lies by +30 %; 4 and 5 are independent and honest.
    const set = await exchanges({
      pairs: { 'BTC-USD': 60000 },
      seed: 13,
      count: 5,
      faults: { 1: parseFault('wrong:30'), 2: parseFault('wrong:30'), 3: parseFault('wrong:30') },
    })
    const mirrors = {
      'sim-exchange-1': 'feed-x',
      'sim-exchange-2': 'feed-x',
      'sim-exchange-3': 'feed-x',
    }
    const server = await serve(configFor(set, { minSources: 2 }, mirrors))
    const reply = await ask(server, { pair: 'BTC/USD' })
    assert.equal(reply.status, 200, JSON.stringify(reply.body))
    const data = reply.body.data!
    const honest = set.exchanges.slice(3).map((e) => Number(e.served.at(-1)!.price))
    assert.ok(data.result >= Math.min(...honest) && data.result <= Math.max(...honest))
    assert.deepEqual(
      data.origins.map((o) => [o.origin, o.sources, o.status]),
      [
        ['feed-x', ['sim-exchange-1', 'sim-exchange-2', 'sim-exchange-3'], 'outlier'],
        ['sim-exchange-4', ['sim-exchange-4'], 'used'],
        ['sim-exchange-5', ['sim-exchange-5'], 'used'],
      ],
    )
    assert.equal(
      data.origins[0]!.note,
      'sim-exchange-1, sim-exchange-2, sim-exchange-3 derive from feed-x: counted as one source (their median)',
    )
    assert.equal(data.sources[0]!.origin, 'feed-x')
    assert.match(
      data.sources[0]!.reason!,
      /\(the median of origin feed-x: sim-exchange-1, sim-exchange-2, sim-exchange-3\)/,
    )

    // Five live sources but three origins: minSources 4 is not met.
    const strict = await serve(configFor(set, { minSources: 4 }, mirrors))
    const refused = await ask(strict, { pair: 'BTC-USD' })
    assert.equal(refused.status, 502)
    assert.match(refused.body.error!.message, /2 independent sources left, minSources is 4/)
  })

  it('drops stale sources (timestampPath older than maxAgeMs)', async () => {
    const set = await exchanges({
      pairs: { 'X-Y': 5 },
      seed: 14,
      count: 3,
      faults: { 3: parseFault('stale:600000') },
    })
    const server = await serve(configFor(set, { minSources: 2, maxAgeMs: 60_000 }))
    const reply = await ask(server, { pair: 'X-Y' })
    assert.equal(reply.status, 200, JSON.stringify(reply.body))
    const stale = reply.body.data!.sources[2]!
    assert.equal(stale.status, 'failed')
    assert.match(stale.reason!, /^failed: stale, the price is 60\d s old \(maxAgeMs 60000\)$/)
    assert.equal(reply.body.data!.usedOrigins, 2)
  })

  it('refuses bad input with the path named', async () => {
    const set = await exchanges({ pairs: { X: 5 }, count: 1 })
    const server = await serve(configFor(set, { minSources: 1 }))
    const bad = await ask(server, { pair: 'ETH USD' })
    assert.equal(bad.status, 400)
    assert.match(bad.body.error!.message, /data\.pair: must match pattern/)
    const extra = await ask(server, { pair: 'ETH-USD', minSources: 1 })
    assert.equal(extra.status, 400)
    assert.match(extra.body.error!.message, /data\.minSources: is not allowed here/)
  })
})

describe('PriceConfigSchema', () => {
  it('reads a TOML config with defaults', () => {
    const config = parseAdapterText(
      `minSources = 2
[[sources]]
name = "a"
url = "https://a.example/price?symbol={base}{quote}"
path = "data,price"
[[sources]]
name = "b"
url = "https://b.example/v1/{pair}"
path = ["result", "0"]
derivedFrom = "a"
`,
      'price.toml',
      PriceConfigSchema,
    )
    assert.equal(config.minSources, 2)
    assert.equal(config.timeoutMs, 5000)
    assert.equal(config.outlierThreshold, 3.5)
    assert.equal(config.minRelativeMad, 0.001)
    assert.equal(config.sources[1]!.derivedFrom, 'a')
  })

  it('names every problem with its path', () => {
    const text = JSON.stringify({
      minSources: 0,
      sources: [
        { name: 'a', url: 'https://{base}.example/x', path: 'p' },
        { name: 'a', url: 'ftp://x/{pair}', path: 'p' },
        { name: 'c', url: 'https://c.example/{symbol}', path: '' },
      ],
      extra: 1,
    })
    assert.throws(
      () => parseAdapterText(text, 'price.json', PriceConfigSchema),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        const lines = err.metaMessages!.join('\n')
        assert.match(lines, /price\.json:extra: unknown key/)
        assert.match(lines, /price\.json:minSources: /)
        assert.match(
          lines,
          /price\.json:sources\[0\]\.url: placeholders may appear in the path or query only/,
        )
        assert.match(lines, /price\.json:sources\[1\]\.url: expected an http\(s\) URL template/)
        assert.match(lines, /price\.json:sources\[2\]\.url: unknown placeholder \{symbol\}/)
        assert.match(lines, /price\.json:sources\[2\]\.path: /)
        return true
      },
    )
  })
})
