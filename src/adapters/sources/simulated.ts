import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A SIMULATED price source for local development and tests: it serves made-up prices on
 * 127.0.0.1, following a seeded random walk, so the local network runs without internet.
 * Every reply says `"simulated": true`.
 */
export type SimulatedSource = {
  url: string
  /** URL of the price of `pair`. */
  priceUrl(pair: string): string
  /** Every price served, in order. */
  served: { pair: string; price: string }[]
  stop(): Promise<void>
}

export type SimulatedSourceParameters = {
  /** Starting price per pair, e.g. `{ 'ETH-USD': 3000 }`. */
  pairs: Record<string, number>
  seed?: number
  /** Largest relative step of the walk per request (default 0.002). */
  volatility?: number
  name?: string
}

/** mulberry32: a small seedable PRNG, so a seed reproduces the same price path. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export async function startSimulatedSource(
  params: SimulatedSourceParameters,
): Promise<SimulatedSource> {
  const random = prng(params.seed ?? 1)
  const volatility = params.volatility ?? 0.002
  const prices = new Map(Object.entries(params.pairs))
  const served: SimulatedSource['served'] = []
  const name = params.name ?? 'simulated-exchange'

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-orakel-simulated': 'true' })
      res.end(JSON.stringify(body))
    }
    if (url.pathname !== '/price') return send(404, { error: 'not found', simulated: true })
    const pair = url.searchParams.get('pair') ?? ''
    const current = prices.get(pair)
    if (current === undefined) return send(404, { error: `unknown pair ${pair}`, simulated: true })
    const next = current * (1 + (random() * 2 - 1) * volatility)
    prices.set(pair, next)
    const price = next.toFixed(2)
    served.push({ pair, price })
    send(200, { source: name, simulated: true, pair, price: Number(price), timestamp: Date.now() })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    priceUrl: (pair) => `${url}/price?pair=${encodeURIComponent(pair)}`,
    served,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
