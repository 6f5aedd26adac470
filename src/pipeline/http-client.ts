import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import { BaseError } from '../errors.ts'
import {
  type AllowAddress,
  checkHost,
  createGuardedLookup,
  type Resolve,
  SsrfError,
} from './ssrf.ts'

/**
 * The node's HTTP client, shared by the `http` and `bridge` tasks.
 *
 * SSRF policy (see ssrf.ts for what is refused). A request is *unrestricted* when either
 *   - the node allows it (`allowUnrestricted`) AND the request asks for it
 *     (`allowUnrestrictedNetworkAccess`, from the job's task), or
 *   - the request is to an operator-configured destination (`trustedDestination`, used by
 *     bridges: their URLs come from the node's own configuration, never from a job).
 * Otherwise it is *guarded*. The policy is fixed per request and applies to every redirect hop:
 * each hop's scheme must be http(s), its host is checked by name / IP literal before anything
 * is sent, and a name is resolved by the guarded `lookup` that node's `net` connects with, so
 * the checked addresses are the connected addresses (no DNS-rebinding gap).
 *
 * Guarded and unrestricted requests use separate keep-alive agents, so a socket opened to a
 * private address for an unrestricted request is never reused by a guarded one. The four agents
 * (guarded/unrestricted × http/https) live as long as the client.
 *
 * Testing hooks (both also useful to operators): `resolve` replaces DNS, and `allowAddress`
 * lets chosen (address, host name) pairs through the guard — tests map a fake public name such
 * as `public.test` to 127.0.0.1 and allow exactly that pair, so the guard stays active for
 * every other host (including `127.0.0.1` itself) and redirects out of it are still refused.
 */

export type HttpRequest = {
  method: string
  url: string
  headers?: Record<string, string>
  body?: string | Uint8Array
  /** Deadline for the whole exchange, redirects included. */
  timeoutMs?: number
  maxResponseBytes?: number
  /** The job's wish to reach private addresses; honoured only if the node allows it. */
  allowUnrestrictedNetworkAccess?: boolean
  /** The URL was configured by the operator (a bridge): the SSRF guard does not apply. */
  trustedDestination?: boolean
  /**
   * More header names holding credentials (e.g. `X-Api-Key`): like Authorization and Cookie,
   * they are dropped when a redirect leaves the request's origin.
   */
  sensitiveHeaders?: readonly string[]
  signal?: AbortSignal
}

export type HttpResponse = {
  status: number
  headers: Record<string, string>
  body: Uint8Array
  /** The URL that answered, after redirects (credentials and query removed). */
  url: string
}

export type HttpClient = {
  request(req: HttpRequest): Promise<HttpResponse>
}

export type HttpErrorKind =
  | 'invalid-request'
  | 'refused'
  | 'network'
  | 'timeout'
  | 'aborted'
  | 'too-large'
  | 'redirect'

export class HttpError extends BaseError {
  override name = 'HttpError'
  readonly kind: HttpErrorKind
  /** The request's URL without credentials or query. */
  readonly url: string
  readonly method: string
  constructor(
    kind: HttpErrorKind,
    method: string,
    url: string,
    reason: string,
    params: {
      cause?: unknown
      details?: string
      metaMessages?: string[]
      retryable?: boolean
    } = {},
  ) {
    super(`HTTP ${method} ${url}: ${reason}`, params)
    this.kind = kind
    this.url = url
    this.method = method
  }
}

export type HttpClientOptions = {
  /** Node-level permission for jobs to request unrestricted network access. */
  allowUnrestricted?: boolean
  /** Response size cap in bytes; default 10 MiB. */
  maxResponseBytes?: number
  /** Default deadline per request; default 15 s (Chainlink's default HTTP timeout). */
  defaultTimeoutMs?: number
  /** Redirects followed at most; default 10. */
  maxRedirects?: number
  /** Name resolution; defaults to dns.lookup (all addresses). */
  resolve?: Resolve
  /** Exceptions to the SSRF guard: (address, host name) pairs to let through. */
  allowAddress?: AllowAddress
}

export const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
export const DEFAULT_TIMEOUT_MS = 15_000
export const DEFAULT_MAX_REDIRECTS = 10

/** A URL safe to show: no userinfo, and the query replaced by `?…`. */
export function redactUrl(url: URL | string): string {
  if (typeof url === 'string') {
    try {
      return redactUrl(new URL(url))
    } catch {
      const stripped = url
        .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, '$1')
        .replace(/\?.*$/s, '?…')
      return JSON.stringify(stripped.length > 80 ? `${stripped.slice(0, 80)}…` : stripped)
    }
  }
  const path =
    url.protocol === 'http:' || url.protocol === 'https:' ? url.pathname : url.pathname.slice(0, 80)
  return `${url.protocol}//${url.host}${path}${url.search ? '?…' : ''}`
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])
/** Headers dropped when a redirect leaves the original origin. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization']
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'transfer-encoding']

type Agents = { http: http.Agent; https: https.Agent }

/** Cancellation of one exchange: the deadline or the caller's signal. */
type Cancel = { error: HttpError | undefined; onCancel: ((err: HttpError) => void) | undefined }

export function createHttpClient(options: HttpClientOptions = {}): HttpClient & { close(): void } {
  const allowUnrestricted = options.allowUnrestricted ?? false
  const defaultMaxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
  const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS
  const allowAddress = options.allowAddress

  const guardLookup = createGuardedLookup({
    resolve: options.resolve,
    allowAddress,
  }) as unknown as LookupFunction
  const openLookup = options.resolve
    ? (createGuardedLookup({ resolve: options.resolve, check: false }) as unknown as LookupFunction)
    : undefined
  const makeAgents = (lookup: LookupFunction | undefined): Agents => {
    const agentOptions: http.AgentOptions = { keepAlive: true, scheduling: 'lifo' }
    if (lookup) Object.assign(agentOptions, { lookup })
    return { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) }
  }
  const guarded = makeAgents(guardLookup)
  const open = makeAgents(openLookup)

  async function request(req: HttpRequest): Promise<HttpResponse> {
    let method = (req.method || 'GET').toUpperCase()
    let url: URL
    try {
      url = new URL(req.url)
    } catch (cause) {
      throw new HttpError('invalid-request', method, redactUrl(req.url), 'invalid URL', { cause })
    }
    const unrestricted =
      req.trustedDestination === true ||
      (allowUnrestricted && req.allowUnrestrictedNetworkAccess === true)
    const agents = unrestricted ? open : guarded
    const maxBytes = req.maxResponseBytes ?? defaultMaxBytes
    const timeoutMs = req.timeoutMs ?? defaultTimeoutMs
    let headers: Record<string, string> = req.headers ? { ...req.headers } : {}
    const credentialHeaders = req.sensitiveHeaders?.length
      ? [...CREDENTIAL_HEADERS, ...req.sensitiveHeaders.map((h) => h.toLowerCase())]
      : CREDENTIAL_HEADERS
    let body = req.body
    const hint =
      !unrestricted && req.allowUnrestrictedNetworkAccess === true
        ? ['The task asked for allowUnrestrictedNetworkAccess, but this node does not allow it.']
        : undefined

    const cancel: Cancel = { error: undefined, onCancel: undefined }
    const fire = (err: HttpError) => {
      if (cancel.error) return
      cancel.error = err
      cancel.onCancel?.(err)
    }
    const timer = setTimeout(
      () =>
        fire(
          new HttpError('timeout', method, redactUrl(url), `timed out after ${timeoutMs} ms`, {
            retryable: true,
          }),
        ),
      timeoutMs,
    )
    const signal = req.signal
    const onAbort = () => fire(abortError(method, url, signal?.reason))
    if (signal) {
      if (signal.aborted) {
        clearTimeout(timer)
        throw abortError(method, url, signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
    }

    try {
      for (let hop = 0; ; hop++) {
        if (url.protocol !== 'http:' && url.protocol !== 'https:') {
          throw new HttpError(
            'invalid-request',
            method,
            redactUrl(url),
            `unsupported scheme "${url.protocol.slice(0, -1)}" (only http and https)`,
            hop > 0 ? { details: `reached by redirect #${hop}` } : {},
          )
        }
        if (!unrestricted) {
          const refused = checkHost(url.hostname, allowAddress)
          if (refused) throw refusedError(method, url, refused, hop, hint)
        }
        const res = await send(agents, url, method, headers, body, cancel, hint, hop)
        const status = res.statusCode ?? 0
        const location = res.headers.location
        if (!REDIRECTS.has(status) || location === undefined) {
          const bytes = await readBody(res, method, url, maxBytes, cancel)
          return { status, headers: flattenHeaders(res.headers), body: bytes, url: redactUrl(url) }
        }
        res.resume()
        if (hop >= maxRedirects) {
          throw new HttpError(
            'redirect',
            method,
            redactUrl(url),
            `more than ${maxRedirects} redirects`,
          )
        }
        let next: URL
        try {
          next = new URL(location, url)
        } catch (cause) {
          throw new HttpError('redirect', method, redactUrl(url), 'redirected to an invalid URL', {
            cause,
          })
        }
        if (
          status === 303
            ? method !== 'HEAD'
            : (status === 301 || status === 302) && method === 'POST'
        ) {
          method = 'GET'
          body = undefined
          headers = dropHeaders(headers, BODY_HEADERS)
        }
        if (next.origin !== url.origin) headers = dropHeaders(headers, credentialHeaders)
        url = next
      }
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      cancel.onCancel = undefined
    }
  }

  function close(): void {
    for (const a of [guarded.http, guarded.https, open.http, open.https]) a.destroy()
  }

  return { request, close }
}

function abortError(method: string, url: URL, reason: unknown): HttpError {
  const timedOut = (reason as { name?: string } | undefined)?.name === 'TimeoutError'
  return new HttpError(
    timedOut ? 'timeout' : 'aborted',
    method,
    redactUrl(url),
    timedOut ? 'timed out' : 'aborted',
    { cause: reason, retryable: timedOut },
  )
}

function refusedError(
  method: string,
  url: URL,
  err: SsrfError,
  hop: number,
  hint?: string[],
): HttpError {
  const where = hop > 0 ? ` (after redirect #${hop})` : ''
  return new HttpError('refused', method, redactUrl(url), `${err.shortMessage}${where}`, {
    cause: err,
    metaMessages: [...(hint ?? []), ...(err.metaMessages ?? [])],
    retryable: false,
  })
}

function dropHeaders(
  headers: Record<string, string>,
  names: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) if (!names.includes(k.toLowerCase())) out[k] = v
  return out
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const key in headers) {
    const v = headers[key]
    if (v !== undefined) out[key] = Array.isArray(v) ? v.join(', ') : v
  }
  return out
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed temporarily',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed while sending',
}

function networkError(
  method: string,
  url: URL,
  err: unknown,
  hop: number,
  hint?: string[],
): HttpError {
  if (err instanceof HttpError) return err
  if (err instanceof SsrfError) return refusedError(method, url, err, hop, hint)
  const code = (err as NodeJS.ErrnoException)?.code
  const text = err instanceof Error ? err.message : String(err)
  if (
    code === 'ERR_INVALID_HTTP_TOKEN' ||
    code === 'ERR_INVALID_CHAR' ||
    code === 'ERR_HTTP_INVALID_HEADER_VALUE'
  ) {
    return new HttpError('invalid-request', method, redactUrl(url), `invalid request: ${text}`, {
      cause: err,
    })
  }
  const reason = code ? `${NETWORK_REASONS[code] ?? text} (${code})` : text
  return new HttpError('network', method, redactUrl(url), reason, { cause: err, retryable: true })
}

/** One request/response exchange up to the response head. */
function send(
  agents: Agents,
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | Uint8Array | undefined,
  cancel: Cancel,
  hint: string[] | undefined,
  hop: number,
  retried = false,
): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    if (cancel.error) return reject(cancel.error)
    const isHttps = url.protocol === 'https:'
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
    const outHeaders =
      body === undefined ? headers : { ...headers, 'content-length': String(byteLength(body)) }
    let req: http.ClientRequest
    try {
      req = (isHttps ? https : http).request({
        protocol: url.protocol,
        hostname,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method,
        headers: outHeaders,
        agent: isHttps ? agents.https : agents.http,
      })
    } catch (err) {
      return reject(networkError(method, url, err, hop, hint))
    }
    let settled = false
    cancel.onCancel = (err) => req.destroy(err)
    req.on('error', (err) => {
      if (settled) return
      settled = true
      if (cancel.error) return reject(cancel.error)
      // A kept-alive socket the server closed meanwhile: try once more on a fresh one.
      if (
        !retried &&
        req.reusedSocket &&
        (err as NodeJS.ErrnoException).code === 'ECONNRESET' &&
        IDEMPOTENT.has(method)
      ) {
        send(agents, url, method, headers, body, cancel, hint, hop, true).then(resolve, reject)
        return
      }
      reject(networkError(method, url, err, hop, hint))
    })
    req.on('response', (res) => {
      settled = true
      cancel.onCancel = (err) => res.destroy(err)
      resolve(res)
    })
    req.end(body)
  })
}

function byteLength(body: string | Uint8Array): number {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
}

/** The response body, failing as soon as it passes `maxBytes`. */
function readBody(
  res: IncomingMessage,
  method: string,
  url: URL,
  maxBytes: number,
  cancel: Cancel,
): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const tooLarge = () =>
      new HttpError(
        'too-large',
        method,
        redactUrl(url),
        `response exceeds the limit of ${maxBytes} bytes`,
      )
    if (cancel.error) {
      res.destroy()
      return reject(cancel.error)
    }
    const declared = Number(res.headers['content-length'])
    if (declared > maxBytes) {
      res.destroy()
      return reject(tooLarge())
    }
    const chunks: Buffer[] = []
    let total = 0
    let done = false
    const finish = (err: HttpError | undefined, value?: Uint8Array) => {
      if (done) return
      done = true
      if (err) reject(err)
      else resolve(value!)
    }
    res.on('data', (chunk: Buffer) => {
      total += chunk.length
      if (total > maxBytes) {
        finish(tooLarge())
        res.destroy()
        return
      }
      chunks.push(chunk)
    })
    res.on('end', () =>
      finish(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)),
    )
    res.on('error', (err) => finish(cancel.error ?? networkError(method, url, err, 0)))
    res.on('close', () => {
      if (!res.complete) {
        finish(
          cancel.error ??
            new HttpError(
              'network',
              method,
              redactUrl(url),
              'connection closed before the response ended',
              {
                retryable: true,
              },
            ),
        )
      }
    })
  })
}
