import {
  createPublicClient,
  defineChain,
  HttpRequestError,
  http,
  type PublicClient,
  TimeoutError,
} from 'viem'
import type { Logger } from '../common.ts'
import { BaseError } from '../errors.ts'

export class RpcPoolError extends BaseError {
  override name = 'RpcPoolError'
}

export type CreateRpcPoolParameters = {
  /** JSON-RPC URLs in order of preference. */
  urls: readonly string[]
  /** The chain every endpoint must serve (`eth_chainId`). */
  chainId: number
  /** An endpoint whose head is more than this many blocks behind the best head is left out. */
  maxLagBlocks: number
  logger: Logger
  /** How long an endpoint that failed is left out before it is checked again (default 30 s). */
  cooldownMs?: number
  /** Time limit of one health-check request (default 5 s). */
  timeoutMs?: number
  /** `client()` re-checks the endpoints when the last check is older than this (default 5 s). */
  refreshIntervalMs?: number
}

export type RpcEndpointStatus = {
  /** The URL with credentials and API keys replaced by `***`. */
  url: string
  healthy: boolean
  /** Why the endpoint is left out; undefined while healthy or not yet checked. */
  reason: string | undefined
  /** The head block it reported at its last successful check. */
  head: bigint | undefined
}

export type RpcPool = {
  /**
   * A client for the first healthy endpoint in the order given (checking the endpoints first
   * when the last check is stale). Throws `RpcPoolError` naming every endpoint's reason when
   * none is healthy.
   */
  client(): Promise<PublicClient>
  /** Checks every endpoint not cooling down (chain id, head, lag); returns the new status. */
  refresh(): Promise<RpcEndpointStatus[]>
  /** Per endpoint, in the order given. */
  status(): RpcEndpointStatus[]
  /** Takes the endpoint behind `client` out for a cool-down after a failed request. */
  reportFailure(client: PublicClient, error: unknown): void
}

type Endpoint = {
  url: string
  redacted: string
  client: PublicClient
  healthy: boolean
  checked: boolean
  reason: string | undefined
  head: bigint | undefined
  cooldownUntil: number
}

/**
 * A pool of JSON-RPC endpoints for one chain that hands out a healthy viem `PublicClient`.
 *
 * An endpoint is healthy when it answers, serves `chainId`, and its head is at most
 * `maxLagBlocks` behind the best head among the endpoints. One that errors is left out for
 * `cooldownMs` and then checked again; one on the wrong chain or lagging is checked again on
 * every refresh and comes back as soon as it is right.
 */
export function createRpcPool(params: CreateRpcPoolParameters): RpcPool {
  if (params.urls.length === 0) throw new RpcPoolError('an RPC pool needs at least one URL')
  if (!Number.isInteger(params.maxLagBlocks) || params.maxLagBlocks < 0) {
    throw new RpcPoolError('maxLagBlocks must be a non-negative integer', {
      details: `got ${params.maxLagBlocks}`,
    })
  }
  const cooldownMs = params.cooldownMs ?? 30_000
  const timeoutMs = params.timeoutMs ?? 5_000
  const refreshIntervalMs = params.refreshIntervalMs ?? 5_000
  const logger = params.logger.child({ component: 'rpc-pool', chain_id: params.chainId })
  const chain = defineChain({
    id: params.chainId,
    name: `chain-${params.chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [...params.urls] } },
  })

  const endpoints: Endpoint[] = params.urls.map((url) => ({
    url,
    redacted: redactRpcUrl(url),
    client: createPublicClient({
      chain,
      // Requests made in the same turn of the event loop go as one JSON-RPC batch: the
      // transaction manager's sends of a tick reach the node together (anvil then mines
      // them in one block instead of one block each).
      transport: http(url, {
        timeout: timeoutMs,
        retryCount: 0,
        batch: { batchSize: 100, wait: 0 },
      }),
      cacheTime: 0,
    }) as PublicClient,
    healthy: false,
    checked: false,
    reason: 'not checked yet',
    head: undefined,
    cooldownUntil: 0,
  }))

  let lastRefresh = 0
  let refreshing: Promise<RpcEndpointStatus[]> | undefined

  const setState = (
    e: Endpoint,
    healthy: boolean,
    reason: string | undefined,
    level: 'warn' | 'error' = 'warn',
  ) => {
    const changed =
      !e.checked || e.healthy !== healthy || (!healthy && kind(e.reason) !== kind(reason))
    e.checked = true
    e.healthy = healthy
    e.reason = reason
    if (!changed) return
    if (healthy)
      logger.info({ url: e.redacted, head: e.head?.toString() }, 'RPC endpoint is healthy')
    else logger[level]({ url: e.redacted, reason }, `RPC endpoint taken out: ${reason}`)
  }

  const fail = (e: Endpoint, error: unknown, what: string) => {
    e.cooldownUntil = Date.now() + cooldownMs
    setState(e, false, `${what}: ${describeError(error, e)}`)
  }

  /** Asks one endpoint for its chain id and head; true when it answered for the right chain. */
  const check = async (e: Endpoint): Promise<boolean> => {
    try {
      const [chainId, head] = await Promise.all([
        e.client.getChainId(),
        e.client.getBlockNumber({ cacheTime: 0 }),
      ])
      if (chainId !== params.chainId) {
        e.head = undefined
        setState(
          e,
          false,
          `wrong chain: serves chain ${chainId}, expected ${params.chainId}`,
          'error',
        )
        return false
      }
      e.head = head
      return true
    } catch (error) {
      fail(e, error, 'unreachable')
      return false
    }
  }

  const doRefresh = async (): Promise<RpcEndpointStatus[]> => {
    const now = Date.now()
    const due = endpoints.filter((e) => e.cooldownUntil <= now)
    const answered = (
      await Promise.all(due.map(async (e) => ((await check(e)) ? e : undefined)))
    ).filter((e) => e !== undefined)
    let best: bigint | undefined
    for (const e of answered) if (best === undefined || e.head! > best) best = e.head
    for (const e of answered) {
      const lag = best! - e.head!
      if (lag > BigInt(params.maxLagBlocks)) {
        setState(
          e,
          false,
          `lagging: head ${e.head} is ${lag} blocks behind the best head ${best} (max ${params.maxLagBlocks})`,
        )
      } else {
        setState(e, true, undefined)
      }
    }
    lastRefresh = Date.now()
    return status()
  }

  const refresh = (): Promise<RpcEndpointStatus[]> => {
    refreshing ??= doRefresh().finally(() => {
      refreshing = undefined
    })
    return refreshing
  }

  const status = (): RpcEndpointStatus[] =>
    endpoints.map((e) => ({ url: e.redacted, healthy: e.healthy, reason: e.reason, head: e.head }))

  return {
    async client() {
      if (Date.now() - lastRefresh >= refreshIntervalMs || endpoints.every((e) => !e.checked)) {
        await refresh()
      }
      const healthy = endpoints.find((e) => e.healthy)
      if (healthy) return healthy.client
      const lines = endpoints.map((e) => `${e.redacted}: ${e.reason ?? 'unknown'}`)
      throw new RpcPoolError('no healthy RPC endpoint', {
        metaMessages: lines,
        details: `${endpoints.length} endpoint(s) for chain ${params.chainId}`,
        retryable: true,
      })
    },
    refresh,
    status,
    reportFailure(client, error) {
      const e = endpoints.find((x) => x.client === client)
      if (e) fail(e, error, 'request failed')
    },
  }
}

/** The first word of a reason ("lagging", "unreachable", ...), to log only real changes. */
function kind(reason: string | undefined): string | undefined {
  return reason?.split(':')[0]
}

/** One line for an RPC failure, without the endpoint's credentials. */
function describeError(error: unknown, e: Pick<Endpoint, 'url' | 'redacted'>): string {
  const parts: string[] = []
  let err: unknown = error
  const seen = new Set<unknown>()
  while (err && typeof err === 'object' && !seen.has(err)) {
    seen.add(err)
    const x = err as { shortMessage?: string; message?: string; code?: unknown; cause?: unknown }
    const text = x.shortMessage ?? x.message?.split('\n')[0]
    if (text && !parts.includes(text)) parts.push(text)
    if (typeof x.code === 'string' && !parts.some((p) => p.includes(x.code as string))) {
      parts.push(x.code)
    }
    err = x.cause
  }
  if (parts.length === 0) parts.push(String(error))
  return parts.join(' / ').split(e.url).join(e.redacted)
}

/**
 * An RPC URL safe to log: user name and password, query values, and path segments that look
 * like API keys (16 or more letters, digits, `-` or `_`, as in `/v3/<key>`) become `***`.
 */
export function redactRpcUrl(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return '<invalid URL>'
  }
  if (u.username) u.username = '***'
  if (u.password) u.password = '***'
  for (const key of [...u.searchParams.keys()]) u.searchParams.set(key, '***')
  u.pathname = u.pathname
    .split('/')
    .map((s) => (/^[A-Za-z0-9_-]{16,}$/.test(s) ? '***' : s))
    .join('/')
  return u.toString().replace(/%2A%2A%2A/g, '***')
}

/** A failure of the connection to the endpoint (as opposed to an error answer). */
export function isTransportError(err: unknown): boolean {
  let e: unknown = err
  const seen = new Set<unknown>()
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e)
    if (e instanceof TimeoutError) return true
    if (
      e instanceof HttpRequestError &&
      (e.status === undefined || e.status >= 500 || e.status === 429)
    ) {
      return true
    }
    e = (e as { cause?: unknown }).cause
  }
  return false
}
