import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createLogger, type Logger } from '../common.ts'
import { errorMessage } from '../errors.ts'
import { createHttpClient, type HttpClient, redactUrl } from '../pipeline/http-client.ts'
import { stringifyJson } from '../pipeline/json.ts'
import { type CallbackOutcome, sendCallback } from './callback.ts'
import { AdapterError } from './errors.ts'
import { type Adapter, type AdapterReply, errorReply, parseAdapterRequest } from './sdk.ts'

/**
 * Serves an adapter over HTTP on 127.0.0.1 (node:http, keep-alive):
 *
 *   POST /         a run: Chainlink's external-adapter request and reply (sdk.ts)
 *   GET  /schema   {"name", "input", "output"}: the node checks job parameters against it
 *   GET  /health   {"status": "ok", "adapter": name}
 *
 * - `token`: POST must carry `Authorization: Bearer <token>` (the bridge's outgoing token), else
 *   401. `/schema` and `/health` are open: schemas are not secrets.
 * - `maxBodyBytes` (default 1 MiB): a larger request body is refused with 413.
 * - Pending replies: the final reply goes to the request's `responseURL` with `callbackToken`
 *   (callback.ts). With `callbackOrigins` set, a `responseURL` elsewhere is refused with 400, so
 *   the callback token cannot be sent to an address the operator did not expect.
 */

export type ServeAdapterOptions = {
  /** Default 0: any free port. */
  port?: number
  token?: string | undefined
  callbackToken?: string | undefined
  /** Origins (`http://127.0.0.1:6688`) a `responseURL` may have; any when unset. */
  callbackOrigins?: readonly string[] | undefined
  maxBodyBytes?: number
  /** For callbacks; default a new client. */
  http?: HttpClient
  logger?: Logger
  callbackRetryDelaysMs?: readonly number[]
}

export type AdapterServer = {
  url: string
  port: number
  /** Resolves when every pending answer has been delivered (or given up). */
  idle(): Promise<void>
  /** Outcomes of the callbacks sent so far, in order. */
  callbacks: CallbackOutcome[]
  close(): Promise<void>
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

export async function serveAdapter(
  adapter: Adapter,
  options: ServeAdapterOptions = {},
): Promise<AdapterServer> {
  const logger = options.logger ?? createLogger({ silent: true })
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const ownHttp = options.http ? undefined : createHttpClient()
  const http = options.http ?? ownHttp!
  const tokenDigest = options.token ? digest(`Bearer ${options.token}`) : undefined
  const callbackOrigins = options.callbackOrigins?.map((o) => new URL(o).origin)
  const inFlight = new Set<Promise<unknown>>()
  const callbacks: CallbackOutcome[] = []
  const stopping = new AbortController()
  const schemaText = stringifyJson(adapter.schema)

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err: errorMessage(err) }, 'adapter request failed')
      if (!res.headersSent) send(res, errorReply(null, err))
      else res.destroy()
    })
  })
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    const method = req.method ?? 'GET'
    if (path === '/schema' || path === '/health') {
      if (method !== 'GET' && method !== 'HEAD')
        return refuse(req, res, 405, `${path} accepts GET`, { Allow: 'GET' })
      if (path === '/schema') return sendText(res, 200, schemaText)
      return sendText(res, 200, JSON.stringify({ status: 'ok', adapter: adapter.name }))
    }
    if (path !== '/')
      return refuse(
        req,
        res,
        404,
        `no such path ${JSON.stringify(path)}: POST / runs the adapter, GET /schema describes it`,
      )
    if (method !== 'POST')
      return refuse(req, res, 405, 'POST / runs the adapter', { Allow: 'POST' })
    if (tokenDigest && !authorized(req.headers.authorization, tokenDigest)) {
      return refuse(req, res, 401, 'missing or wrong bearer token', {
        'WWW-Authenticate': 'Bearer',
      })
    }
    const declared = Number(req.headers['content-length'])
    if (declared > maxBodyBytes) return refuse(req, res, 413, tooLarge(maxBodyBytes))
    const text = await readBody(req, maxBodyBytes)
    if (text === undefined) return refuse(req, res, 413, tooLarge(maxBodyBytes))

    let request: ReturnType<typeof parseAdapterRequest>
    try {
      request = parseAdapterRequest(text)
      if (
        request.responseURL &&
        callbackOrigins &&
        !callbackOrigins.includes(new URL(request.responseURL).origin)
      ) {
        throw new AdapterError(
          `"responseURL" ${redactUrl(request.responseURL)} is not at an allowed callback origin`,
          {
            statusCode: 400,
            details: `allowed: ${callbackOrigins.join(', ')}`,
          },
        )
      }
    } catch (err) {
      return send(res, errorReply(null, err))
    }
    const abort = new AbortController()
    res.on('close', () => {
      if (!res.writableFinished) abort.abort(new Error('the client closed the connection'))
    })
    const started = performance.now()
    const execution = await adapter.execute(request, abort.signal)
    const log = { adapter: adapter.name, run_id: request.id, status: execution.reply.status }
    logger.debug({ ...log, duration_ms: performance.now() - started }, 'adapter request')
    send(res, execution.reply)
    if (execution.kind === 'pending' && request.responseURL) {
      const url = request.responseURL
      track(
        execution.final.then(async (reply) => {
          const outcome = await sendCallback({
            http,
            url,
            token: options.callbackToken,
            reply,
            retryDelaysMs: options.callbackRetryDelaysMs,
            signal: stopping.signal,
          })
          callbacks.push(outcome)
          const fields = { ...log, status: reply.status, url: redactUrl(url), ...outcome }
          if (outcome.delivered) logger.info(fields, 'pending answer delivered')
          else logger.warn(fields, 'pending answer not delivered')
        }),
      )
    }
  }

  function track(p: Promise<unknown>) {
    const settled = p.catch((err: unknown) =>
      logger.error({ err: errorMessage(err) }, 'callback failed'),
    )
    inFlight.add(settled)
    void settled.finally(() => inFlight.delete(settled))
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    callbacks,
    async idle() {
      while (inFlight.size > 0) await Promise.all([...inFlight])
    },
    async close() {
      stopping.abort()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await Promise.all([...inFlight])
      ownHttp?.close()
    },
  }
}

function tooLarge(max: number): string {
  return `the request body exceeds the limit of ${max} bytes`
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

function authorized(header: string | undefined, expected: Buffer): boolean {
  return header !== undefined && timingSafeEqual(digest(header), expected)
}

/** The body as text, or undefined once it passes `max` bytes (the rest is discarded). */
function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let total = 0
    let over = false
    req.on('data', (chunk: Buffer) => {
      total += chunk.length
      if (total > max) over = true
      if (!over) chunks.push(chunk)
    })
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks, total).toString('utf8')))
    req.on('error', reject)
  })
}

/** An error reply for a request refused before it reached the adapter. */
function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v)
  if (status === 413) {
    // Do not read the rest of an oversized body: answer and close the connection.
    res.setHeader('Connection', 'close')
    res.on('finish', () => req.destroy())
  } else {
    req.resume()
  }
  send(res, errorReply(null, new AdapterError(message, { statusCode: status })))
}

function send(res: ServerResponse, reply: AdapterReply): void {
  sendText(res, reply.status, stringifyJson(reply.body))
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  })
  res.end(text)
}
