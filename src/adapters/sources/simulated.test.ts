import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { type SimulatedSource, startSimulatedSource } from './simulated.ts'

type PriceReply = {
  source: string
  simulated: boolean
  pair: string
  price: number
  timestamp: number
}

const started: SimulatedSource[] = []
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
