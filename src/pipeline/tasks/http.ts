import { HttpError, type HttpResponse, redactUrl } from '../http-client.ts'
import { stringifyJson } from '../json.ts'
import { defineTask, describe, paramBool, paramJson, paramString, toText } from '../params.ts'
import { ok, type TaskContext, TaskError, type TaskResult } from '../task.ts'

/**
 * Chainlink's `http` task:
 *
 *   fetch [type="http" method=POST url="https://api.example.com/price"
 *          requestData="{\"pair\": $(pair)}" headers="[\"X-Api-Key\", \"k\"]"
 *          allowUnrestrictedNetworkAccess="false"]
 *
 * - `method`: GET by default.
 * - `url`: http(s) only.
 * - `requestData`: a JSON template; when given (and not empty) it is sent as the JSON body with
 *   `Content-Type: application/json` (a `Content-Type` in `headers` wins).
 * - `headers`: Chainlink's format, a JSON array of alternating names and values
 *   (`["X-Key", "v", "Accept", "text/plain"]`); a JSON object `{"X-Key": "v"}` works too.
 * - `allowUnrestrictedNetworkAccess`: "true" lets the task reach private/loopback addresses,
 *   but only when the node allows it too (`deps.allowUnrestrictedNetworkAccess`, and the HTTP
 *   client's own `allowUnrestricted`). Unlike Chainlink — which defaults to unrestricted when
 *   the URL has no variables — the default here is always the SSRF guard.
 * - `timeout` is applied by the runner through `ctx.signal`, which aborts the request.
 *
 * The value is the response body as a string (like Chainlink); a non-2xx status is an error
 * naming the status (retryable for 5xx and 429).
 */
export const httpTask = defineTask({
  type: 'http',
  params: ['method', 'url', 'requestData', 'headers', 'allowUnrestrictedNetworkAccess'],
  async run(ctx: TaskContext): Promise<TaskResult> {
    const client = ctx.deps.http
    if (!client)
      throw new TaskError('no HTTP client is configured on this node', {
        details: `task ${ctx.id}`,
      })
    const method = paramString(ctx, 'method', 'GET').trim().toUpperCase()
    if (!/^[A-Z]+$/.test(method))
      throw new TaskError(`"${method}" is not an HTTP method`, { param: 'method' })
    const url = paramString(ctx, 'url')
    const jobWantsUnrestricted = paramBool(ctx, 'allowUnrestrictedNetworkAccess', false)
    const nodeAllows = ctx.deps.allowUnrestrictedNetworkAccess === true
    const headers = paramHeaders(ctx, 'headers') ?? {}

    let body: string | undefined
    if (ctx.params.requestData !== undefined && ctx.params.requestData.trim() !== '') {
      const data = paramJson(ctx, 'requestData')
      body = stringifyJson(data)
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
        headers['Content-Type'] = 'application/json'
      }
    }

    let res: HttpResponse
    try {
      res = await client.request({
        method,
        url,
        headers,
        body,
        allowUnrestrictedNetworkAccess: jobWantsUnrestricted && nodeAllows,
        signal: ctx.signal,
      })
    } catch (err) {
      throw httpTaskError(err, jobWantsUnrestricted && !nodeAllows)
    }
    const text = Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength).toString(
      'utf8',
    )
    if (res.status < 200 || res.status > 299) {
      throw new TaskError(`${method} ${redactUrl(url)} returned HTTP ${res.status}`, {
        details:
          text.length > 0
            ? `response: ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`
            : undefined,
        retryable: res.status >= 500 || res.status === 429,
      })
    }
    return ok(text)
  },
})

/** A task error from an HttpClient failure, keeping its retryability. */
export function httpTaskError(err: unknown, nodeRefusedUnrestricted = false): TaskError {
  if (err instanceof HttpError) {
    const meta =
      err.kind === 'refused' && nodeRefusedUnrestricted
        ? ['The task set allowUnrestrictedNetworkAccess="true", but this node does not allow it.']
        : err.metaMessages
    return new TaskError(err.shortMessage, {
      cause: err,
      retryable: err.retryable,
      metaMessages: meta,
    })
  }
  if (err instanceof TaskError) return err
  return new TaskError(err instanceof Error ? err.message : String(err), { cause: err })
}

/**
 * Request headers from a task parameter: a JSON array of alternating names and values
 * (Chainlink's format) or a JSON object of names to values. Undefined when absent or empty.
 */
export function paramHeaders(ctx: TaskContext, name: string): Record<string, string> | undefined {
  const raw = ctx.params[name]
  if (raw === undefined || raw.trim() === '') return undefined
  const value = paramJson(ctx, name)
  const out: Record<string, string> = {}
  const add = (key: unknown, v: unknown, where: string) => {
    const k = toText(`${name}${where}`, key)
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) {
      throw new TaskError(`"${k}" is not a valid header name`, { param: name })
    }
    const text = toText(`${name}.${k}`, v)
    if (/[\r\n\0]/.test(text))
      throw new TaskError(`the value of header "${k}" contains a line break`, { param: name })
    out[k] = text
  }
  if (Array.isArray(value)) {
    if (value.length % 2 !== 0) {
      throw new TaskError(
        `expected alternating names and values (an even number of strings), got ${value.length}`,
        {
          param: name,
        },
      )
    }
    for (let i = 0; i < value.length; i += 2) add(value[i], value[i + 1], `[${i}]`)
  } else if (value instanceof Map) {
    for (const [k, v] of value) add(k, v, '')
  } else if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    for (const [k, v] of Object.entries(value)) add(k, v, '')
  } else {
    throw new TaskError(`expected a JSON array of names and values, got ${describe(value)}`, {
      param: name,
    })
  }
  return out
}
