import { setTimeout as sleep } from 'node:timers/promises'
import { errorMessage } from '../errors.ts'
import type { HttpClient } from '../pipeline/http-client.ts'
import { stringifyJson } from '../pipeline/json.ts'
import type { AdapterReply } from './sdk.ts'

/**
 * The asynchronous half of a pending reply: the adapter sends its final reply to the request's
 * `responseURL` (the node's `PATCH /v2/resume/<runId>`).
 *
 *   PATCH <responseURL>
 *   Authorization: Bearer <callback token>      (the bridge's incoming token, when configured)
 *   Content-Type: application/json
 *
 *   {"value": <the final reply>, "error": null}              on success
 *   {"value": <the final error reply>, "error": "<message>"}  on failure
 *
 * The final reply is exactly what a synchronous request would have got
 * (`{"jobRunID", "data": {..., "result"}, "result", "statusCode"}` or the errored form), so the
 * node can treat `value` as the bridge task's response body. Network failures, 5xx and 429 are
 * retried after each of `retryDelaysMs`; any other status ends the attempt (a 401 means a wrong
 * token, a 404 an unknown or finished run).
 */

export type CallbackParams = {
  http: HttpClient
  url: string
  token?: string | undefined
  reply: AdapterReply
  /** Waits before each retry; default [250, 1000, 4000]. */
  retryDelaysMs?: readonly number[]
  /** Deadline per attempt; default 10 s. */
  timeoutMs?: number
  signal?: AbortSignal
}

export type CallbackOutcome = {
  delivered: boolean
  attempts: number
  /** The node's HTTP status on the last attempt. */
  status?: number
  /** Why it was not delivered. */
  error?: string
}

export function callbackBody(reply: AdapterReply): string {
  const failed = reply.status < 200 || reply.status > 299
  const error = failed
    ? String((reply.body.error as { message?: unknown })?.message ?? `status ${reply.status}`)
    : null
  return stringifyJson({ value: reply.body, error })
}

export async function sendCallback(params: CallbackParams): Promise<CallbackOutcome> {
  const delays = params.retryDelaysMs ?? [250, 1000, 4000]
  const headers: Record<string, string> = { 'Content-Type': 'application/json' }
  if (params.token) headers.Authorization = `Bearer ${params.token}`
  const body = callbackBody(params.reply)
  let last: CallbackOutcome = { delivered: false, attempts: 0 }
  for (let attempt = 0; attempt <= delays.length; attempt++) {
    if (attempt > 0) {
      try {
        await sleep(delays[attempt - 1]!, undefined, { signal: params.signal })
      } catch {
        return { ...last, error: `${last.error ?? 'not delivered'} (stopped)` }
      }
    }
    try {
      const res = await params.http.request({
        method: 'PATCH',
        url: params.url,
        headers,
        body,
        // The node's own URL, handed over by the node itself: not a job-chosen destination.
        trustedDestination: true,
        timeoutMs: params.timeoutMs ?? 10_000,
        signal: params.signal,
      })
      last = {
        delivered: res.status >= 200 && res.status < 300,
        attempts: attempt + 1,
        status: res.status,
      }
      if (last.delivered) return last
      last.error = `the node answered HTTP ${res.status}`
      if (res.status < 500 && res.status !== 429) return last
    } catch (err) {
      last = { delivered: false, attempts: attempt + 1, error: errorMessage(err) }
      if (params.signal?.aborted) return last
    }
  }
  return last
}
