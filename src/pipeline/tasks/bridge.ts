import type { HttpResponse } from '../http-client.ts'
import { stringifyJson } from '../json.ts'
import {
  defineTask,
  paramBool,
  paramJson,
  paramOptionalString,
  paramString,
  parseDuration,
} from '../params.ts'
import { ok, type TaskContext, type TaskDefinition, TaskError, type TaskResult } from '../task.ts'
import { httpTaskError, paramHeaders } from './http.ts'

/**
 * Chainlink's `bridge` task: a POST to an operator-registered external adapter.
 *
 *   fetch [type="bridge" name="coingecko" requestData="{\"data\": {\"from\": $(from)}}"]
 *   parse [type="jsonparse" path="data,result"]
 *
 * Request. The JSON body is
 *   `{"id": <run id>, "data": {...}, "meta": <jobRun.meta>?, "responseURL": ...?}`:
 * - when `requestData` is a map with a `data` key, its top-level keys are sent as they are (this
 *   is what Chainlink does: it posts requestData verbatim, and jobs conventionally write
 *   `{"data": {...}}`); otherwise requestData itself becomes `data`. So `{"from": "ETH"}` and
 *   `{"data": {"from": "ETH"}}` send the same `data`.
 * - `id` is the run id unless requestData sets one; `meta` is `$(jobRun.meta)` when that is a
 *   map (as Chainlink's withRunInfo); `includeInputAtKey` puts the first input at that key.
 * - `async="true"` adds `responseURL` when the node configured one (createBridgeTask option).
 * - Headers: `Content-Type: application/json`, the task's `headers` (Chainlink's alternating
 *   array, or an object), and `Authorization: Bearer <outgoingToken>` when the bridge has one.
 *
 * Network policy. Bridge URLs are configured by the operator in the node's own registry, never
 * taken from a job, so they are trusted destinations: bridge requests bypass the SSRF guard
 * (Chainlink likewise uses its unrestricted HTTP client for bridges, as adapters usually run on
 * the operator's own hosts, e.g. http://localhost:8080).
 *
 * Reply (`{"jobRunID", "data", "result", "statusCode", "error"?}`):
 * - success (2xx and no `error`): the value is the response body as a string, so a following
 *   `jsonparse path="data,result"` works as in Chainlink.
 * - a `statusCode` in the body overrides the HTTP status (as Chainlink's eaJSONResponseStatus);
 *   a status outside 2xx, or a non-null `error`/`errorMessage`, is a TaskError carrying the
 *   adapter's error (retryable for 5xx, 429 and network failures).
 * - `{"pending": true}` (or an `X-Chainlink-Pending` header) is a `BridgePendingError`
 *   (`pending: true`): the runner suspends the run, and the adapter's later
 *   `PATCH /v2/resume/<runId>` (`resumedBridgeResult`) gives the task its outcome.
 * - a body that is not JSON is an error naming the bridge (Chainlink would pass it on and let
 *   the next task fail; failing here names the culprit and lets the cache step in).
 *
 * `cacheTTL` (seconds, or a duration like `30s`): a successful reply is remembered; when a
 * later request of the same task with the same data fails, a remembered reply younger than
 * cacheTTL is returned instead (Chainlink's bridge cache fallback). The cache is in memory, per
 * task factory (`createBridgeTask`).
 */

/** An external adapter registered by the operator. */
export type Bridge = {
  name: string
  url: string
  /** Sent as `Authorization: Bearer <outgoingToken>`. */
  outgoingToken?: string
  /** Minimum confirmations for runlog jobs using this bridge (not used by the task). */
  confirmations?: number
}

export type BridgeRegistry = { get(name: string): Promise<Bridge | undefined> }

/** A registry over a fixed list; names are case-insensitive (Chainlink lowercases them). */
export function staticBridgeRegistry(bridges: readonly Bridge[]): BridgeRegistry {
  const byName = new Map(bridges.map((b) => [b.name.toLowerCase(), b]))
  return { get: async (name) => byName.get(name.toLowerCase()) }
}

/** The adapter answered `pending`: the run should wait for an asynchronous answer. */
export class BridgePendingError extends TaskError {
  override name = 'BridgePendingError'
  readonly pending = true
}

/** The default cap on an adapter's reply. */
export const DEFAULT_BRIDGE_REPLY_BYTES = 1024 * 1024

export type BridgeTaskOptions = {
  /** Where adapters POST async answers; `responseURL` is sent only when this is set. */
  responseURL?: (ctx: TaskContext) => string
  /** Largest adapter reply accepted, in bytes; default 1 MiB (DEFAULT_BRIDGE_REPLY_BYTES). */
  maxResponseBytes?: number
  /** Maximum remembered replies for cacheTTL; default 1000. */
  maxCacheEntries?: number
  /** Clock for the cache (tests). */
  now?: () => number
}

type CacheEntry = { at: number; body: string }

export function createBridgeTask(options: BridgeTaskOptions = {}): TaskDefinition {
  const cache = new Map<string, CacheEntry>()
  const maxEntries = options.maxCacheEntries ?? 1000
  const now = options.now ?? Date.now

  return defineTask({
    type: 'bridge',
    params: ['name', 'requestData', 'includeInputAtKey', 'async', 'cacheTTL', 'headers'],
    async run(ctx: TaskContext): Promise<TaskResult> {
      const name = paramString(ctx, 'name').trim()
      if (name === '') throw new TaskError('is empty', { param: 'name' })
      const isAsync = paramBool(ctx, 'async', false)
      const cacheTtlMs = cacheTtl(ctx)
      const extraHeaders = paramHeaders(ctx, 'headers') ?? {}
      const payload = requestPayload(ctx)
      const registry = ctx.deps.bridges
      if (!registry)
        throw new TaskError('no bridges are configured on this node', { details: `task ${ctx.id}` })
      const client = ctx.deps.http
      if (!client)
        throw new TaskError('no HTTP client is configured on this node', {
          details: `task ${ctx.id}`,
        })
      let bridge: Bridge | undefined
      try {
        bridge = await registry.get(name)
      } catch (cause) {
        throw new TaskError(`could not look up bridge "${name}"`, { cause, retryable: true })
      }
      if (!bridge) throw new TaskError(`no bridge named "${name}"`, { param: 'name' })

      const cacheKey = `${name.toLowerCase()}\u0000${ctx.id}\u0000${stringifyJson(payload)}`
      const body: Record<string, unknown> = { id: ctx.runId, ...payload }
      if (isAsync && options.responseURL) body.responseURL = options.responseURL(ctx)

      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        ...extraHeaders,
      }
      if (bridge.outgoingToken) headers.Authorization = `Bearer ${bridge.outgoingToken}`

      let outcome: { text: string } | { error: TaskError }
      try {
        const res = await client.request({
          method: 'POST',
          url: bridge.url,
          headers,
          body: stringifyJson(body),
          maxResponseBytes: options.maxResponseBytes ?? DEFAULT_BRIDGE_REPLY_BYTES,
          trustedDestination: true,
          signal: ctx.signal,
        })
        outcome = readReply(name, res)
      } catch (err) {
        const error = httpTaskError(err)
        outcome = {
          error: new TaskError(`bridge "${name}": ${error.shortMessage}`, {
            cause: err,
            retryable: error.retryable,
            metaMessages: error.metaMessages,
          }),
        }
      }

      if ('text' in outcome) {
        if (cacheTtlMs > 0) remember(cacheKey, outcome.text)
        return ok(outcome.text)
      }
      if (cacheTtlMs > 0 && !(outcome.error instanceof BridgePendingError)) {
        const hit = cache.get(cacheKey)
        if (hit && now() - hit.at <= cacheTtlMs) return ok(hit.body)
      }
      return { error: outcome.error }
    },
  })

  function remember(key: string, body: string) {
    cache.delete(key)
    cache.set(key, { at: now(), body })
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value!)
  }
}

/** The bridge task with no async response URL and its own in-memory cache. */
export const bridgeTask: TaskDefinition = createBridgeTask()

/** cacheTTL in ms: whole seconds (Chainlink) or a duration such as `30s`. */
function cacheTtl(ctx: TaskContext): number {
  const text = paramOptionalString(ctx, 'cacheTTL')?.trim()
  if (text === undefined || text === '') return 0
  if (/^\d+$/.test(text)) return Number(text) * 1000
  return parseDuration(text, 'cacheTTL')
}

/** The request body's fields apart from `id` / `responseURL`. */
function requestPayload(ctx: TaskContext): Record<string, unknown> {
  const raw = ctx.params.requestData
  let data: unknown = {}
  if (raw !== undefined && raw.trim() !== '') data = paramJson(ctx, 'requestData')
  const payload = bridgePayload(data)

  let meta: unknown
  try {
    meta = ctx.vars.get('jobRun.meta')
  } catch {
    meta = undefined
  }
  if (meta instanceof Map || isPlainObject(meta)) payload.meta = meta

  const key = paramOptionalString(ctx, 'includeInputAtKey')
  if (key && ctx.inputs.length > 0) {
    const first = ctx.inputs[0]!
    if (first.error)
      throw new TaskError(`input 0 failed: ${first.error.shortMessage}`, { cause: first.error })
    payload[key] = first.value
  }
  return payload
}

/**
 * The body fields a resolved `requestData` sends (besides `id`, `meta` and `responseURL`): a
 * map with a `data` key is sent as it is, anything else becomes `data`. Shared with the
 * job-creation check of adapter schemas (src/adapters/schema.ts), so both read requestData alike.
 */
export function bridgePayload(requestData: unknown): Record<string, unknown> {
  const data = requestData instanceof Map ? Object.fromEntries(requestData) : requestData
  return isPlainObject(data) && Object.hasOwn(data, 'data') ? { ...data } : { data }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return (
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    !(v instanceof Uint8Array) &&
    v.constructor === Object
  )
}

/** Success text, or the adapter's error. */
function readReply(name: string, res: HttpResponse): { text: string } | { error: TaskError } {
  const text = Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength).toString(
    'utf8',
  )
  const snippet = text.length > 300 ? `${text.slice(0, 300)}…` : text
  let reply: unknown
  try {
    reply = JSON.parse(text)
  } catch {
    const retryable = res.status >= 500 || res.status === 429
    const what =
      res.status >= 200 && res.status < 300 ? 'a reply that is not JSON' : `HTTP ${res.status}`
    return {
      error: new TaskError(`bridge "${name}" returned ${what}`, {
        details: snippet === '' ? 'empty body' : `response: ${snippet}`,
        retryable,
      }),
    }
  }
  const obj = isPlainObject(reply) ? reply : undefined

  if (obj?.pending === true || res.headers['x-chainlink-pending'] !== undefined) {
    return {
      error: new BridgePendingError(
        `bridge "${name}" is pending: the adapter will answer asynchronously`,
        {
          details: 'the run waits for PATCH /v2/resume/<runId>',
        },
      ),
    }
  }

  const bodyStatus = typeof obj?.statusCode === 'number' ? obj.statusCode : undefined
  const status = bodyStatus ?? res.status
  const adapterError = errorText(obj?.error) ?? errorText(obj?.errorMessage)
  if (adapterError !== undefined || status < 200 || status > 299) {
    const reason = adapterError ?? `HTTP ${status}`
    const statusNote =
      adapterError !== undefined && (status < 200 || status > 299) ? ` (status ${status})` : ''
    return {
      error: new TaskError(`bridge "${name}" failed: ${reason}${statusNote}`, {
        details: `response: ${snippet}`,
        retryable: status >= 500 || status === 429,
      }),
    }
  }
  return { text }
}

/**
 * The outcome of an asynchronous bridge task from the adapter's callback body (`PATCH
 * /v2/resume/<runId>`, Chainlink's resume request): `{"value": <the final reply>, "error":
 * null | message}`. `value` is read like a synchronous reply, so an adapter error inside it
 * fails the task too; a reply that is still pending is a `BridgePendingError` again.
 */
export function resumedBridgeResult(name: string, body: unknown): TaskResult {
  if (!isPlainObject(body)) {
    return {
      error: new TaskError(`bridge "${name}" resumed the run with a body that is not an object`),
    }
  }
  const error = errorText(body.error)
  if (error !== undefined) return { error: new TaskError(`bridge "${name}" failed: ${error}`) }
  const text = stringifyJson(body.value ?? null)
  const outcome = readReply(name, {
    status: 200,
    headers: {},
    body: Buffer.from(text, 'utf8'),
    url: 'resume',
  })
  return 'text' in outcome ? ok(outcome.text) : { error: outcome.error }
}

/** The adapter's error as text; undefined when absent, null or empty. */
function errorText(e: unknown): string | undefined {
  if (e === undefined || e === null || e === '' || e === false) return undefined
  if (typeof e === 'string') return e
  if (typeof e === 'object') {
    const { name, message } = e as { name?: unknown; message?: unknown }
    if (typeof message === 'string')
      return typeof name === 'string' && name !== '' ? `${name}: ${message}` : message
  }
  return JSON.stringify(e)
}
