import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import {
  describeFault,
  parseFault,
  type SimulatedExchanges,
  type SimulatedSource,
  SimulatedSourceError,
  startSimulatedExchanges,
  startSimulatedSource,
} from './simulated.ts'

type PriceReply = {
  source: string
  simulated: boolean
  pair: string
  price: number
  timestamp: number
}

const started: (SimulatedSource | SimulatedExchanges)[] = []
async function start(params: Parameters<typeof startSimulatedSource>[0]) {
  const source = await startSimulatedSource(params)
  started.push(source)
  return source
}

after(async () => {
  await Promise.all(started.map((s) => s.stop().catch(() => {})))
})

async function prices(source: SimulatedSource, pair: string, n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const res = await fetch(source.priceUrl(pair))
    assert.equal(res.status, 200)
    out.push(((await res.json()) as PriceReply).price)
  }
  return out
}

describe('startSimulatedSource', () => {
  it('serves a simulated JSON price on 127.0.0.1', async () => {
    const source = await start({ pairs: { 'ETH-USD': 3000 }, name: 'test-exchange' })
    assert.match(source.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(source.priceUrl('ETH-USD'), `${source.url}/price?pair=ETH-USD`)
    const before = Date.now()
    const res = await fetch(source.priceUrl('ETH-USD'))
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    assert.equal(res.headers.get('x-orakel-simulated'), 'true')
    const body = (await res.json()) as PriceReply
    assert.equal(body.simulated, true)
    assert.equal(body.source, 'test-exchange')
    assert.equal(body.pair, 'ETH-USD')
    assert.equal(typeof body.price, 'number')
    // One step of the default volatility (0.002) from 3000, rounded to cents.
    assert.ok(
      body.price >= 3000 * 0.998 - 0.01 && body.price <= 3000 * 1.002 + 0.01,
      `${body.price}`,
    )
    assert.equal(Math.round(body.price * 100) / 100, body.price)
    assert.ok(body.timestamp >= before && body.timestamp <= Date.now() + 1)
  })

  it('defaults the source name', async () => {
    const source = await start({ pairs: { 'BTC-USD': 60000 } })
    const body = (await (await fetch(source.priceUrl('BTC-USD'))).json()) as PriceReply
    assert.equal(body.source, 'simulated-exchange')
  })

  it('encodes the pair in priceUrl', async () => {
    const source = await start({ pairs: { 'A/B &C': 5 } })
    const url = source.priceUrl('A/B &C')
    assert.ok(url.endsWith('/price?pair=A%2FB%20%26C'), url)
    const body = (await (await fetch(url)).json()) as PriceReply
    assert.equal(body.pair, 'A/B &C')
  })

  it('gives the same price path for the same seed', async () => {
    const params = { pairs: { 'ETH-USD': 3000, 'BTC-USD': 60000 }, seed: 42, volatility: 0.05 }
    const a = await start(params)
    const b = await start(params)
    const pathA = await prices(a, 'ETH-USD', 8)
    const pathB = await prices(b, 'ETH-USD', 8)
    assert.deepEqual(pathA, pathB)
    assert.ok(new Set(pathA).size > 1, `the walk moves: ${pathA}`)
    for (const p of pathA) assert.ok(p > 3000 * 0.95 ** 8 && p < 3000 * 1.05 ** 8, `${p}`)
  })

  it('gives a different price path for a different seed', async () => {
    const a = await start({ pairs: { X: 100 }, seed: 1, volatility: 0.05 })
    const b = await start({ pairs: { X: 100 }, seed: 2, volatility: 0.05 })
    assert.notDeepEqual(await prices(a, 'X', 5), await prices(b, 'X', 5))
  })

  it('keeps the price constant at zero volatility', async () => {
    const source = await start({ pairs: { X: 12.345 }, volatility: 0 })
    assert.deepEqual(await prices(source, 'X', 3), [12.35, 12.35, 12.35])
  })

  it('answers 404 JSON for an unknown pair', async () => {
    const source = await start({ pairs: { 'ETH-USD': 3000 } })
    const res = await fetch(source.priceUrl('DOGE-USD'))
    assert.equal(res.status, 404)
    assert.equal(res.headers.get('content-type'), 'application/json')
    assert.equal(res.headers.get('x-orakel-simulated'), 'true')
    assert.deepEqual(await res.json(), { error: 'unknown pair DOGE-USD', simulated: true })

    const missing = await fetch(`${source.url}/price`)
    assert.equal(missing.status, 404)
    assert.deepEqual(await missing.json(), { error: 'unknown pair ', simulated: true })
    assert.deepEqual(source.served, [])
  })

  it('answers 404 for an unknown path', async () => {
    const source = await start({ pairs: { 'ETH-USD': 3000 } })
    for (const path of ['/', '/prices?pair=ETH-USD', '/price/ETH-USD']) {
      const res = await fetch(`${source.url}${path}`)
      assert.equal(res.status, 404, path)
      assert.deepEqual(await res.json(), { error: 'not found', simulated: true })
    }
    assert.deepEqual(source.served, [])
  })

  it('records every price served, in order, per pair', async () => {
    const source = await start({ pairs: { A: 10, B: 20 }, seed: 7 })
    const replies: PriceReply[] = []
    for (const pair of ['A', 'B', 'A', 'UNKNOWN', 'A']) {
      const res = await fetch(source.priceUrl(pair))
      if (res.ok) replies.push((await res.json()) as PriceReply)
      else await res.body?.cancel()
    }
    assert.equal(source.served.length, 4)
    assert.deepEqual(
      source.served.map((s) => s.pair),
      ['A', 'B', 'A', 'A'],
    )
    for (const [i, s] of source.served.entries()) {
      assert.match(s.price, /^\d+\.\d{2}$/)
      assert.equal(Number(s.price), replies[i]!.price)
    }
  })

  it('closes the port on stop(), so a later fetch fails', async () => {
    const source = await startSimulatedSource({ pairs: { X: 1 } })
    const res = await fetch(source.priceUrl('X'))
    assert.equal(res.status, 200)
    await res.text()
    await source.stop()
    await assert.rejects(fetch(source.priceUrl('X')), TypeError)
  })
})

describe('parseFault', () => {
  it('reads every fault mode and describes it back', () => {
    const cases: [string, ReturnType<typeof parseFault>, string][] = [
      ['none', { kind: 'none' }, 'none'],
      ['down', { kind: 'down', how: 'refused' }, 'down'],
      ['down:refused', { kind: 'down', how: 'refused' }, 'down'],
      ['down:503', { kind: 'down', how: '503' }, 'down:503'],
      ['slow:2000', { kind: 'slow', delayMs: 2000 }, 'slow:2000'],
      ['stale', { kind: 'stale', ageMs: 900_000 }, 'stale:900000'],
      ['stale:60000', { kind: 'stale', ageMs: 60_000 }, 'stale:60000'],
      ['wrong:30', { kind: 'wrong', percent: 30 }, 'wrong:30'],
      ['wrong:-12.5', { kind: 'wrong', percent: -12.5 }, 'wrong:-12.5'],
      ['malformed', { kind: 'malformed' }, 'malformed'],
    ]
    for (const [text, fault, described] of cases) {
      assert.deepEqual(parseFault(text), fault, text)
      assert.equal(describeFault(fault), described, text)
    }
  })

  it('refuses anything else, quoting it', () => {
    for (const [text, pattern] of [
      ['flaky', /invalid fault "flaky": unknown fault "flaky"/],
      ['slow', /the delay \(ms\) must be a number/],
      ['slow:-1', /must be at least 0/],
      ['wrong:x', /the error \(percent\) must be a number/],
      ['wrong:0', /wrong:0 is not wrong/],
      ['wrong:-100', /must be at least -99.999/],
      ['down:500', /down takes "refused" or "503"/],
      ['malformed:1', /takes no argument/],
      ['slow:1:2', /too many ":"/],
    ] as const) {
      assert.throws(
        () => parseFault(text),
        (err: unknown) => err instanceof SimulatedSourceError && pattern.test(err.shortMessage),
        text,
      )
    }
  })
})

describe('startSimulatedExchanges', () => {
  async function startSet(params: Parameters<typeof startSimulatedExchanges>[0]) {
    const set = await startSimulatedExchanges(params)
    started.push(set)
    return set
  }
  const get = async (url: string) => {
    const res = await fetch(url)
    return { status: res.status, headers: res.headers, text: await res.text() }
  }
  const price = async (url: string) => (JSON.parse((await get(url)).text) as PriceReply).price

  it('serves several labelled exchanges near one price, each with its own offset', async () => {
    const set = await startSet({ pairs: { 'ETH-USD': 3000 }, seed: 5, count: 4, volatility: 0 })
    assert.deepEqual(
      set.exchanges.map((e) => e.name),
      ['sim-exchange-1', 'sim-exchange-2', 'sim-exchange-3', 'sim-exchange-4'],
    )
    assert.equal(new Set(set.exchanges.map((e) => e.url)).size, 4)
    const prices: number[] = []
    for (const exchange of set.exchanges) {
      assert.ok(Math.abs(exchange.offset) <= 0.001, `${exchange.offset}`)
      const res = await get(exchange.priceUrl('ETH-USD'))
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('x-orakel-simulated'), 'true')
      const body = JSON.parse(res.text) as PriceReply
      assert.equal(body.simulated, true)
      assert.equal(body.source, exchange.name)
      assert.equal(body.price, Number((3000 * (1 + exchange.offset)).toPrecision(8)))
      prices.push(body.price)
    }
    assert.ok(new Set(prices).size > 1, `offsets differ: ${prices}`)
  })

  it("reproduces every exchange's answers from the seed, in any order of requests", async () => {
    const params = {
      pairs: { 'ETH-USD': 3000, 'BTC-USD': 60000 },
      seed: 99,
      count: 3,
      volatility: 0.01,
    }
    const a = await startSet(params)
    const b = await startSet(params)
    const c = await startSet({ ...params, seed: 100 })
    const walk = async (set: SimulatedExchanges, order: number[]) => {
      const seen: Record<string, number[]> = {}
      for (const i of order) {
        const exchange = set.exchanges[i]!
        for (const pair of ['ETH-USD', 'BTC-USD']) {
          seen[`${exchange.name} ${pair}`] ??= []
          seen[`${exchange.name} ${pair}`]!.push(await price(exchange.priceUrl(pair)))
        }
      }
      return seen
    }
    const forward = await walk(a, [0, 1, 2, 0, 1, 2, 0, 1, 2])
    const shuffled = await walk(b, [2, 2, 1, 0, 2, 1, 0, 0, 1])
    assert.deepEqual(forward, shuffled)
    assert.notDeepEqual(forward, await walk(c, [0, 1, 2, 0, 1, 2, 0, 1, 2]))
  })

  it('fault modes: down (refused and 503), slow, stale, wrong by x %, malformed', async () => {
    const pairs = { X: 100 }
    const base = { pairs, seed: 3, count: 6, volatility: 0.001 }
    const honest = await startSet(base)
    const set = await startSet({
      ...base,
      faults: {
        1: parseFault('down'),
        2: parseFault('down:503'),
        3: parseFault('slow:150'),
        4: parseFault('stale:60000'),
        5: parseFault('wrong:30'),
        6: parseFault('malformed'),
      },
    })
    const [refused, unavailable, slow, stale, wrong, malformed] = set.exchanges
    await assert.rejects(fetch(refused!.priceUrl('X')), TypeError)

    const outage = await get(unavailable!.priceUrl('X'))
    assert.equal(outage.status, 503)
    assert.deepEqual(JSON.parse(outage.text), {
      error: 'service unavailable (simulated outage)',
      simulated: true,
    })

    const t0 = performance.now()
    assert.equal(await price(slow!.priceUrl('X')), await price(honest.exchanges[2]!.priceUrl('X')))
    assert.ok(performance.now() - t0 >= 140, 'the slow exchange waits')

    const before = Date.now()
    const first = JSON.parse((await get(stale!.priceUrl('X'))).text) as PriceReply
    const second = JSON.parse((await get(stale!.priceUrl('X'))).text) as PriceReply
    assert.equal(first.price, second.price, 'the price is frozen')
    // The exchange stamps its answer 60 s in the past, at a time between `before` and now.
    assert.ok(before - second.timestamp <= 60_000 && Date.now() - second.timestamp >= 60_000)

    for (let i = 0; i < 3; i++) {
      const lie = await price(wrong!.priceUrl('X'))
      const truth = await price(honest.exchanges[4]!.priceUrl('X'))
      assert.ok(Math.abs(lie / truth - 1.3) < 1e-6, `${lie} / ${truth}`)
    }

    const broken = await get(malformed!.priceUrl('X'))
    assert.equal(broken.status, 200)
    assert.equal(broken.headers.get('x-orakel-simulated'), 'true')
    assert.match(broken.text, /"simulated":true/)
    assert.throws(() => JSON.parse(broken.text), SyntaxError)
  })

  it('changes fault modes at run time, listening again after "down"', async () => {
    const set = await startSet({ pairs: { X: 100 }, count: 1, faults: { 1: parseFault('down') } })
    const exchange = set.exchanges[0]!
    assert.equal(describeFault(exchange.fault), 'down')
    await assert.rejects(fetch(exchange.priceUrl('X')), TypeError)
    await exchange.setFault({ kind: 'none' })
    assert.equal((await get(exchange.priceUrl('X'))).status, 200)
    await exchange.setFault({ kind: 'down', how: 'refused' })
    await assert.rejects(fetch(exchange.priceUrl('X')), TypeError)
  })

  it('listens on consecutive ports from portBase', async () => {
    const probe = await startSimulatedSource({ pairs: { X: 1 } })
    const free = Number(new URL(probe.url).port)
    await probe.stop()
    const set = await startSet({ pairs: { X: 1 }, count: 2, portBase: free })
    assert.deepEqual(
      set.exchanges.map((e) => e.port),
      [free, free + 1],
    )
  })

  it('refuses a bad count, faults for missing exchanges and bad prices', async () => {
    await assert.rejects(startSimulatedExchanges({ pairs: { X: 1 }, count: 0 }), /count must be/)
    await assert.rejects(
      startSimulatedExchanges({ pairs: { X: 1 }, count: 2, faults: { 3: { kind: 'malformed' } } }),
      /a fault is set for exchange 3, but there are 2/,
    )
    await assert.rejects(
      startSimulatedExchanges({ pairs: { X: -1 } }),
      /the starting price of X must be a positive number/,
    )
  })
})
