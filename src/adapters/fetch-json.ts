import { z } from 'zod'
import { BaseError, errorMessage } from '../errors.ts'
import { type HttpClient, HttpError, redactUrl } from '../pipeline/http-client.ts'
import { parseJson } from '../pipeline/json.ts'
import { getPath, splitPath } from '../pipeline/json-path.ts'
import { type Credential, checkRequestHeaders, credentialFor } from './credentials.ts'
import { AdapterError } from './errors.ts'

/**
 * One JSON document from an HTTP API, for the reference adapters: the request goes through the
 * node's HTTP client (SSRF guard, size cap, timeouts), credentials for the URL are added from
 * the adapter's secrets, and the body is parsed exactly (`parseJson`: big numbers stay exact).
 * Each way of failing is its own `kind`, so a caller can say why a source was dropped.
 */

export type FetchFailure =
  | 'network'
  | 'refused'
  | 'timeout'
  | 'too-large'
  | 'status'
  | 'json'
  | 'path'

export class FetchJsonError extends BaseError {
  override name = 'FetchJsonError'
  readonly kind: FetchFailure
  constructor(
    kind: FetchFailure,
    message: string,
    params: { cause?: unknown; details?: string } = {},
  ) {
    super(message, { ...params, retryable: kind === 'network' || kind === 'timeout' })
    this.kind = kind
  }
}

export type FetchJsonParameters = {
  http: HttpClient
  url: string
  method?: string
  /** Sent as JSON. */
  body?: unknown
  /** Headers without credentials (see `checkRequestHeaders`). */
  headers?: Record<string, string>
  credentials?: readonly Credential[]
  /** The URL is the operator's (a configured source): no SSRF guard. */
  trusted?: boolean
  /** The operator lets requests reach private addresses. */
  allowUnrestrictedNetworkAccess?: boolean
  timeoutMs?: number
  maxResponseBytes?: number
  signal?: AbortSignal
}

export type FetchedJson = { status: number; json: unknown }

export async function fetchJson(p: FetchJsonParameters): Promise<FetchedJson> {
  let url: URL
  try {
    url = new URL(p.url)
  } catch (cause) {
    throw new FetchJsonError('network', `${redactUrl(p.url)} is not a URL`, { cause })
  }
  const headers: Record<string, string> = { Accept: 'application/json', ...p.headers }
  const credential = p.credentials ? credentialFor(p.credentials, url) : undefined
  if (credential) {
    Object.assign(headers, credential.headers)
    for (const [k, v] of Object.entries(credential.query)) url.searchParams.set(k, v)
  }
  let body: string | undefined
  if (p.body !== undefined) {
    body = JSON.stringify(p.body)
    headers['Content-Type'] = 'application/json'
  }
  const shown = redactUrl(url)
  let res: Awaited<ReturnType<HttpClient['request']>>
  try {
    res = await p.http.request({
      method: p.method ?? 'GET',
      url: url.toString(),
      headers,
      body,
      trustedDestination: p.trusted === true,
      allowUnrestrictedNetworkAccess: p.allowUnrestrictedNetworkAccess === true,
      sensitiveHeaders: credential ? Object.keys(credential.headers) : undefined,
      timeoutMs: p.timeoutMs,
      maxResponseBytes: p.maxResponseBytes,
      signal: p.signal,
    })
  } catch (err) {
    const kind: FetchFailure =
      err instanceof HttpError &&
      (err.kind === 'refused' || err.kind === 'timeout' || err.kind === 'too-large')
        ? err.kind
        : 'network'
    // The client's message already names the method and the (redacted) URL.
    throw new FetchJsonError(kind, errorMessage(err), { cause: err })
  }
  const text = Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength).toString(
    'utf8',
  )
  if (res.status < 200 || res.status > 299) {
    throw new FetchJsonError('status', `${shown} answered HTTP ${res.status}`, {
      details: snippet(text),
    })
  }
  try {
    return { status: res.status, json: parseJson(text) }
  } catch (cause) {
    throw new FetchJsonError('json', `${shown} answered a body that is not JSON`, {
      cause,
      details: snippet(text),
    })
  }
}

/** The value at a Chainlink-style path (`"data,price"` or `["data", "price"]`). */
export function readPath(json: unknown, path: string | readonly string[]): unknown {
  try {
    return getPath(json, splitPath(path))
  } catch (cause) {
    throw new FetchJsonError('path', `path ${JSON.stringify(path)}: ${errorMessage(cause)}`, {
      cause,
    })
  }
}

function snippet(text: string): string {
  if (text === '') return 'empty body'
  return `body: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`
}

/** Settings of the adapters that fetch a URL named by the request (http-json, event). */
export const FetchAdapterConfigSchema = z.strictObject({
  /** Let requests reach private and loopback addresses (the SSRF guard is on by default). */
  allowUnrestrictedNetworkAccess: z.boolean().default(false),
  timeoutMs: z.int().min(1).max(120_000).default(10_000),
  maxResponseBytes: z
    .int()
    .min(1)
    .default(1024 * 1024),
})
export type FetchAdapterConfig = z.infer<typeof FetchAdapterConfigSchema>

export type FetchAdapterParameters = {
  config: FetchAdapterConfig
  /** Created with `allowUnrestricted` matching the config. */
  http: HttpClient
  credentials?: readonly Credential[]
}

/** The JSON Schema of the request fields every fetching adapter takes. */
export const REQUESTED_FETCH_PROPERTIES = {
  url: { type: 'string', pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', maxLength: 2048 },
  method: { enum: ['GET', 'POST'] },
  body: { description: 'sent as JSON (POST)' },
  headers: {
    type: 'object',
    description: 'extra headers without credentials; those come from the adapter secrets',
    additionalProperties: { type: 'string' },
  },
} as const

export type RequestedFetch = {
  url: string
  method?: string
  body?: unknown
  headers?: Record<string, string>
}

/**
 * Fetches the JSON a request names, under the adapter's policy: no credentials in the request
 * (400), the SSRF guard unless the operator lifted it, credentials added from the secrets.
 * Failures are AdapterErrors: 400 for a refused address, 504 for a timeout, 502 otherwise.
 */
export async function fetchRequestedJson(
  deps: FetchAdapterParameters,
  req: RequestedFetch,
  signal: AbortSignal,
): Promise<unknown> {
  const url = new URL(req.url)
  if (url.username || url.password) {
    throw new AdapterError(
      'data.url: credentials may not come from the request (remove user:password@); the adapter adds them from its secrets',
      { statusCode: 400 },
    )
  }
  const headers = checkRequestHeaders(req.headers)
  try {
    const { json } = await fetchJson({
      http: deps.http,
      url: req.url,
      method: req.method ?? 'GET',
      body: req.body,
      headers,
      credentials: deps.credentials,
      allowUnrestrictedNetworkAccess: deps.config.allowUnrestrictedNetworkAccess,
      timeoutMs: deps.config.timeoutMs,
      maxResponseBytes: deps.config.maxResponseBytes,
      signal,
    })
    return json
  } catch (err) {
    if (!(err instanceof FetchJsonError)) throw err
    const statusCode = err.kind === 'refused' ? 400 : err.kind === 'timeout' ? 504 : 502
    throw new AdapterError(err.shortMessage, { statusCode, cause: err, details: err.details })
  }
}

/** `readPath` for a path named by the request: a miss is a 502 naming `data.path`. */
export function readRequestedPath(json: unknown, path: string | readonly string[]): unknown {
  try {
    return readPath(json, path)
  } catch (err) {
    throw new AdapterError(`data.path: the document has no value there (${errorMessage(err)})`, {
      statusCode: 502,
      cause: err,
    })
  }
}
