import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { BaseError } from '../../errors.ts'

/**
 * SIMULATED price sources for local development and tests: made-up exchanges on 127.0.0.1, so
 * the local network runs without internet. Every reply says `"simulated": true` and carries the
 * header `x-orakel-simulated: true`.
 *
 * All exchanges of a set follow one seeded random walk per pair (`createPricePath`); exchange
 * `i` answers its n-th request for a pair with step n of the walk, moved by the exchange's own
 * offset. A seed therefore reproduces what every exchange answers, whatever the order in which
 * exchanges are asked. Each exchange has a latency (fixed + seeded jitter) and a fault mode:
 *
 *   none          correct prices
 *   down          the port refuses connections          (`down`, `down:refused`)
 *   down:503      HTTP 503 with a JSON error
 *   slow:<ms>     answers after an extra delay
 *   stale[:<ms>]  the price freezes and the timestamp is <ms> old (default 15 minutes)
 *   wrong:<pct>   prices off by <pct> percent (`wrong:30` is ×1.3, `wrong:-50` is ×0.5)
 *   malformed     HTTP 200 whose body is cut-off JSON
 */

export type SimulatedSource = {
  url: string
  /** URL of the price of `pair`. */
  priceUrl(pair: string): string
  /** Every price served, in order. */
  served: { pair: string; price: string }[]
  stop(): Promise<void>
}

export type FaultMode =
  | { kind: 'none' }
  | { kind: 'down'; how: 'refused' | '503' }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'stale'; ageMs: number }
  | { kind: 'wrong'; percent: number }
  | { kind: 'malformed' }

export class SimulatedSourceError extends BaseError {
  override name = 'SimulatedSourceError'
}

export const DEFAULT_STALE_AGE_MS = 15 * 60_000

/** Reads a fault mode as written above (`down`, `slow:2000`, `wrong:30`, ...). */
export function parseFault(text: string): FaultMode {
  const [kind, arg, ...rest] = text.trim().split(':')
  const bad = (why: string) =>
    new SimulatedSourceError(`invalid fault ${JSON.stringify(text)}: ${why}`, {
      details:
        'expected none, down, down:refused, down:503, slow:<ms>, stale, stale:<ms>, wrong:<percent> or malformed',
    })
  if (rest.length > 0) throw bad('too many ":"')
  const number = (what: string, min: number) => {
    if (arg === undefined || !/^-?\d+(\.\d+)?$/.test(arg)) throw bad(`${what} must be a number`)
    const n = Number(arg)
    if (n < min) throw bad(`${what} must be at least ${min}`)
    return n
  }
  switch (kind) {
    case 'none':
    case 'malformed':
      if (arg !== undefined) throw bad(`${kind} takes no argument`)
      return { kind }
    case 'down':
      if (arg === undefined || arg === 'refused') return { kind, how: 'refused' }
      if (arg === '503') return { kind, how: '503' }
      throw bad('down takes "refused" or "503"')
    case 'slow':
      return { kind, delayMs: number('the delay (ms)', 0) }
    case 'stale':
      return { kind, ageMs: arg === undefined ? DEFAULT_STALE_AGE_MS : number('the age (ms)', 0) }
    case 'wrong': {
      const percent = number('the error (percent)', -99.999)
      if (percent === 0) throw bad('wrong:0 is not wrong; use none')
      return { kind, percent }
    }
    default:
      throw bad(`unknown fault ${JSON.stringify(kind)}`)
  }
}

/** The fault as `parseFault` reads it. */
export function describeFault(fault: FaultMode): string {
  switch (fault.kind) {
    case 'down':
      return fault.how === 'refused' ? 'down' : 'down:503'
    case 'slow':
      return `slow:${fault.delayMs}`
    case 'stale':
      return `stale:${fault.ageMs}`
    case 'wrong':
      return `wrong:${fault.percent}`
    default:
      return fault.kind
  }
}

/** mulberry32: a small seedable PRNG, so a seed reproduces the same price path. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** FNV-1a of a string: a per-pair seed, so adding a pair does not change the others' paths. */
function hash(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** A seeded random walk per pair: step 0 is the starting price. */
export type PricePath = {
  has(pair: string): boolean
  /** The price of `pair` after `step` steps. */
  at(pair: string, step: number): number
}

export type PricePathParameters = {
  /** Starting price per pair, e.g. `{ 'ETH-USD': 3000 }`. */
  pairs: Record<string, number>
  seed?: number
  /** Largest relative step of the walk (default 0.002). */
  volatility?: number
}

export function createPricePath(params: PricePathParameters): PricePath {
  const seed = params.seed ?? 1
  const volatility = params.volatility ?? 0.002
  const walks = new Map<string, { random: () => number; values: number[] }>()
  for (const [pair, start] of Object.entries(params.pairs)) {
    if (!Number.isFinite(start) || start <= 0) {
      throw new SimulatedSourceError(`the starting price of ${pair} must be a positive number`)
    }
    walks.set(pair, { random: prng(seed ^ hash(pair)), values: [start] })
  }
  return {
    has: (pair) => walks.has(pair),
    at(pair, step) {
      const walk = walks.get(pair)
      if (!walk) throw new SimulatedSourceError(`unknown pair ${pair}`)
      while (walk.values.length <= step) {
        const last = walk.values[walk.values.length - 1]!
        walk.values.push(last * (1 + (walk.random() * 2 - 1) * volatility))
      }
      return walk.values[step]!
    },
  }
}

export type SimulatedExchangeParameters = {
  name: string
  path: PricePath
  /** This exchange's relative offset from the path (0.001 is +0.1 %); default 0. */
  offset?: number
  /** Fixed delay before each answer; default 0. */
  latencyMs?: number
  /** Up to this much more delay, drawn from the exchange's seeded PRNG; default 0. */
  jitterMs?: number
  fault?: FaultMode
  /** Seeds the jitter; default 1. */
  seed?: number
  /** Default 0: any free port. */
  port?: number
  /** Decimal places of the prices served; default: 8 significant digits. */
  decimals?: number
}

export type SimulatedExchange = SimulatedSource & {
  readonly name: string
  readonly port: number
  readonly offset: number
  readonly fault: FaultMode
  /** Changes the fault mode (and stops or starts listening for `down`). */
  setFault(fault: FaultMode): Promise<void>
}

type Send = (status: number, text: string) => void

export async function startSimulatedExchange(
  params: SimulatedExchangeParameters,
): Promise<SimulatedExchange> {
  const { name, path } = params
  const offset = params.offset ?? 0
  const jitter = prng(params.seed ?? 1)
  const steps = new Map<string, number>()
  const frozen = new Map<string, number>()
  const served: SimulatedSource['served'] = []
  const timers = new Set<NodeJS.Timeout>()
  let fault: FaultMode = params.fault ?? { kind: 'none' }
  let listening = false

  const format = (price: number) =>
    params.decimals === undefined
      ? String(Number(price.toPrecision(8)))
      : price.toFixed(params.decimals)

  function answer(pair: string, send: Send) {
    const json = (status: number, body: Record<string, unknown>) =>
      send(status, JSON.stringify(body))
    if (!path.has(pair)) return json(404, { error: `unknown pair ${pair}`, simulated: true })
    if (fault.kind === 'down') {
      return json(503, { error: 'service unavailable (simulated outage)', simulated: true })
    }
    let timestamp = Date.now()
    let value: number
    if (fault.kind === 'stale') {
      if (!frozen.has(pair)) frozen.set(pair, path.at(pair, steps.get(pair) ?? 0) * (1 + offset))
      value = frozen.get(pair)!
      timestamp -= fault.ageMs
    } else {
      const step = (steps.get(pair) ?? 0) + 1
      steps.set(pair, step)
      value = path.at(pair, step) * (1 + offset)
      if (fault.kind === 'wrong') value *= 1 + fault.percent / 100
    }
    const price = format(value)
    if (fault.kind === 'malformed') {
      // Cut-off JSON, still visibly simulated.
      return send(
        200,
        `{"source":${JSON.stringify(name)},"simulated":true,"pair":${JSON.stringify(pair)},"price":${price.slice(0, 2)}`,
      )
    }
    served.push({ pair, price })
    json(200, { source: name, simulated: true, pair, price: Number(price), timestamp })
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const send: Send = (status, text) => {
      if (res.destroyed) return
      res.writeHead(status, { 'content-type': 'application/json', 'x-orakel-simulated': 'true' })
      res.end(text)
    }
    if (url.pathname !== '/price') {
      return send(404, JSON.stringify({ error: 'not found', simulated: true }))
    }
    const pair = url.searchParams.get('pair') ?? ''
    const delay =
      (params.latencyMs ?? 0) +
      (params.jitterMs ? jitter() * params.jitterMs : 0) +
      (fault.kind === 'slow' ? fault.delayMs : 0)
    if (delay <= 0) return answer(pair, send)
    const timer = setTimeout(() => {
      timers.delete(timer)
      answer(pair, send)
    }, delay)
    timers.add(timer)
  })
  server.keepAliveTimeout = 65_000

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        listening = true
        resolve((server.address() as AddressInfo).port)
      })
    })
  const unlisten = () =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve()
      listening = false
      server.close(() => resolve())
      server.closeAllConnections()
    })

  // A "down" exchange still owns a port: it listens once to get one, then stops listening.
  const port = await listen(params.port ?? 0)
  if (fault.kind === 'down' && fault.how === 'refused') await unlisten()
  const url = `http://127.0.0.1:${port}`

  return {
    name,
    port,
    offset,
    url,
    priceUrl: (pair) => `${url}/price?pair=${encodeURIComponent(pair)}`,
    served,
    get fault() {
      return fault
    },
    async setFault(next) {
      if (fault.kind === 'stale' && next.kind !== 'stale') frozen.clear()
      fault = next
      const refuse = next.kind === 'down' && next.how === 'refused'
      if (refuse) await unlisten()
      else if (!listening) await listen(port)
    },
    async stop() {
      for (const t of timers) clearTimeout(t)
      timers.clear()
      await unlisten()
    },
  }
}

export type SimulatedSourceParameters = {
  /** Starting price per pair, e.g. `{ 'ETH-USD': 3000 }`. */
  pairs: Record<string, number>
  seed?: number
  /** Largest relative step of the walk per request (default 0.002). */
  volatility?: number
  name?: string
}

/** One simulated exchange with its own price path and prices in cents. */
export async function startSimulatedSource(
  params: SimulatedSourceParameters,
): Promise<SimulatedSource> {
  return startSimulatedExchange({
    name: params.name ?? 'simulated-exchange',
    path: createPricePath(params),
    decimals: 2,
  })
}

export type SimulatedExchangesParameters = PricePathParameters & {
  /** How many exchanges; default 5. */
  count?: number
  /** Exchange i (from 1) listens on portBase + i − 1; default any free ports. */
  portBase?: number
  /** Offsets are drawn from [−spread, +spread]; default 0.001 (0.1 %). */
  spread?: number
  latencyMs?: number
  jitterMs?: number
  /** Fault per exchange number (from 1); the others have none. */
  faults?: Record<number, FaultMode>
}

export type SimulatedExchanges = {
  seed: number
  exchanges: SimulatedExchange[]
  stop(): Promise<void>
}

/** `count` exchanges named `sim-exchange-1` … on 127.0.0.1, sharing one seeded price path. */
export async function startSimulatedExchanges(
  params: SimulatedExchangesParameters,
): Promise<SimulatedExchanges> {
  const seed = params.seed ?? 1
  const count = params.count ?? 5
  const spread = params.spread ?? 0.001
  if (!Number.isInteger(count) || count < 1) {
    throw new SimulatedSourceError(`count must be a whole number of at least 1, got ${count}`)
  }
  for (const index of Object.keys(params.faults ?? {})) {
    if (!(Number(index) >= 1 && Number(index) <= count)) {
      throw new SimulatedSourceError(`a fault is set for exchange ${index}, but there are ${count}`)
    }
  }
  const path = createPricePath({ ...params, seed })
  const offsets = prng(seed ^ 0x9e3779b9)
  const exchanges: SimulatedExchange[] = []
  try {
    for (let i = 1; i <= count; i++) {
      exchanges.push(
        await startSimulatedExchange({
          name: `sim-exchange-${i}`,
          path,
          offset: (offsets() * 2 - 1) * spread,
          latencyMs: params.latencyMs,
          jitterMs: params.jitterMs,
          fault: params.faults?.[i],
          seed: Math.imul(seed, 31) + i,
          port: params.portBase === undefined ? 0 : params.portBase + i - 1,
        }),
      )
    }
  } catch (err) {
    await Promise.all(exchanges.map((e) => e.stop()))
    throw err
  }
  return {
    seed,
    exchanges,
    stop: async () => {
      await Promise.all(exchanges.map((e) => e.stop()))
    },
  }
}
