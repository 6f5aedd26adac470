import { createHash, timingSafeEqual } from 'node:crypto'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import { type Context, Hono } from 'hono'
import { routePath } from 'hono/route'
import { Counter, type Registry } from 'prom-client'
import { z } from 'zod'
import type { Common } from '../common.ts'
import { BaseError } from '../errors.ts'
import { JobSpecError, type ParsedJob, parseJobSpec } from '../pipeline/job-spec.ts'
import { parseJson, stringifyJson } from '../pipeline/json.ts'
import type { TaskRegistry } from '../pipeline/pipeline.ts'
import { TASKS } from '../pipeline/tasks/index.ts'
import {
  BridgeExistsError,
  type BridgeInfo,
  BridgeValidationError,
  createBridgeRepository,
} from '../store/bridges.ts'
import { type Credential, createCredentialRepository } from '../store/credentials.ts'
import { createJobRepository, type Job, JobExistsError } from '../store/jobs.ts'
import { createRunRepository, type Run, type RunWithTasks } from '../store/runs.ts'

/**
 * The node's REST API (JSON over HTTP, hono on node:http). Everything but `GET /health` and
 * the login itself needs `Authorization: Bearer <API token or session>`. Routes and error
 * format: docs/api.md.
 */

export class ApiError extends BaseError {
  override name = 'ApiError'
  readonly status: number
  readonly body: unknown
  constructor(
    status: number,
    message: string,
    params: { details?: unknown; cause?: unknown } = {},
  ) {
    super(message, {
      cause: params.cause,
      details: typeof params.details === 'string' ? params.details : undefined,
    })
    this.status = status
    this.body = params.details
  }
}

export type ApiServerOptions = {
  host: string
  /** 0 picks a free port. */
  port: number
  /** Enables `POST /v2/sessions` (password login) when set. */
  adminPassword?: string | undefined
  /** Failed logins allowed per client IP in any 60 s before 429. */
  loginRateLimitPerMinute: number
  sessionTtlHours: number
  /** Called after a job is stored; when it throws, the job is removed again and the call fails. */
  onJobCreated?: ((job: Job, parsed: ParsedJob) => Promise<void> | void) | undefined
  /**
   * Checks a parsed job before it is stored (e.g. bridge parameters against adapter schemas);
   * any problem returned refuses the job with 422 and the list as details.
   */
  checkJob?:
    | ((parsed: ParsedJob) => Promise<{ task: string; path: string; message: string }[]>)
    | undefined
  /** Called after a job is (soft-)deleted. */
  onJobDeleted?: ((job: Job) => Promise<void> | void) | undefined
  /**
   * `PATCH /v2/resume/<runId>` from an asynchronous external adapter: `token` is the
   * `Authorization: Bearer` value (the bridge's incoming token, checked by the callee), `body`
   * the request body as exact JSON. Without it the route answers 404.
   */
  resume?:
    | ((runId: string, token: string, body: unknown) => Promise<{ status: number; body: object }>)
    | undefined
  /** A running job's state (e.g. an offchainaggregation job's DKG and rounds), in `GET /v2/jobs/:id`. */
  jobStatus?: ((jobId: bigint) => object | undefined) | undefined
  /**
   * `GET /v2/reputation/<oracle>?contract=<reputation>&specId=<id>`: the oracle's reputation
   * record read from the chain. Without it the route answers 404.
   */
  reputation?:
    | ((q: { contract: string; oracle: string; specId: string }) => Promise<object>)
    | undefined
  /** What `GET /v2/status` returns. */
  status?: (() => Promise<object>) | undefined
  /** Task types job specs may use; default: all built-in tasks. */
  tasks?: TaskRegistry | undefined
  /** Request body limit in bytes; default 1 MiB. */
  maxBodyBytes?: number | undefined
  /** Clock for the login rate limit (tests). */
  now?: (() => number) | undefined
}

export type ApiServer = {
  /** `http://host:port`, without a trailing slash. */
  url: string
  port: number
  close(): Promise<void>
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

type Env = { Variables: { credential: Credential; secret: string } }

/** The JSON of a response: exact numbers (bigints, Decimals), as `stringifyJson` writes them. */
function send(c: Context, status: number, value: unknown, headers: Record<string, string> = {}) {
  return c.newResponse(stringifyJson(value), status as 200, {
    'content-type': 'application/json; charset=utf-8',
    ...headers,
  })
}

function errorBody(message: string, details?: unknown) {
  return { error: details === undefined ? { message } : { message, details } }
}

const iso = (d: Date | undefined) => (d ? d.toISOString() : null)

export const jobView = (j: Job) => ({
  id: j.id.toString(),
  externalJobID: j.externalJobID,
  type: j.type,
  name: j.name ?? null,
  hash: j.hash,
  contractAddress: j.contractAddress ?? null,
  evmChainID: j.evmChainID === undefined ? null : j.evmChainID.toString(),
  createdAt: iso(j.createdAt),
  specToml: j.specToml,
})

export const runView = (r: Run | RunWithTasks) => ({
  id: r.id.toString(),
  runId: r.runId,
  jobId: r.jobId.toString(),
  state: r.state,
  inputs: r.inputs,
  outputs: r.outputs ?? null,
  errors: r.errors ?? null,
  requestId: r.requestId ?? null,
  logBlockHash: r.logBlockHash ?? null,
  logIndex: r.logIndex ?? null,
  pendingTask: r.pendingTask ?? null,
  createdAt: iso(r.createdAt),
  finishedAt: iso(r.finishedAt),
  ...('tasks' in r
    ? {
        tasks: r.tasks.map((t) => ({
          taskId: t.taskId,
          type: t.type,
          value: t.value ?? null,
          error: t.error ?? null,
          attempts: t.attempts,
          startedAt: iso(t.startedAt),
          finishedAt: iso(t.finishedAt),
        })),
      }
    : {}),
})

const bridgeView = (b: BridgeInfo) => ({
  name: b.name,
  url: b.url,
  confirmations: b.confirmations,
  createdAt: iso(b.createdAt),
  updatedAt: iso(b.updatedAt),
})

const sha256 = (s: string) => createHash('sha256').update(s).digest()
/** Compares without leaking where the strings differ (or, through hashing, their lengths). */
const sameSecret = (a: string, b: string) => timingSafeEqual(sha256(a), sha256(b))

/** Failed attempts per client in a sliding 60 s window. */
function createLoginLimiter(limit: number, now: () => number) {
  const failures = new Map<string, number[]>()
  const WINDOW = 60_000
  const recent = (ip: string) => {
    const t = now()
    const list = (failures.get(ip) ?? []).filter((at) => at > t - WINDOW)
    if (list.length) failures.set(ip, list)
    else failures.delete(ip)
    return list
  }
  return {
    /** Seconds to wait, when `ip` used up its failed attempts; else undefined. */
    retryAfter(ip: string): number | undefined {
      const list = recent(ip)
      if (list.length < limit) return undefined
      return Math.max(1, Math.ceil((list[list.length - limit]! + WINDOW - now()) / 1000))
    },
    fail(ip: string) {
      if (failures.size > 10_000) for (const key of [...failures.keys()]) recent(key)
      failures.set(ip, [...recent(ip), now()])
    },
  }
}

const tooLarge = (max: number) => new ApiError(413, `the request body is larger than ${max} bytes`)

/** The request body as UTF-8 text, read up to `max` bytes (413 beyond). */
async function readText(c: Context, max: number): Promise<string> {
  const body = c.req.raw.body
  if (!body) return ''
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => {})
      throw tooLarge(max)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

const contentType = (c: Context) =>
  (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()

const jsonOf = async (c: Context, max: number): Promise<unknown> => {
  if (contentType(c) !== 'application/json') {
    throw new ApiError(415, 'the request body must be JSON (content-type: application/json)')
  }
  const text = await readText(c, max)
  try {
    return JSON.parse(text)
  } catch (cause) {
    throw new ApiError(400, 'the request body is not valid JSON', {
      details: cause instanceof Error ? cause.message : undefined,
    })
  }
}

function validate<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  throw new ApiError(400, 'invalid request body', {
    details: result.error.issues.map((i) => ({
      path: i.path.join('.'),
      message: i.message,
    })),
  })
}

const pageParam = (c: Context, name: string, fallback: number, max: number) => {
  const raw = c.req.query(name)
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw) || Number(raw) > max) {
    throw new ApiError(400, `query parameter "${name}" must be a whole number from 0 to ${max}`)
  }
  return Number(raw)
}

const LoginBody = z.object({ password: z.string() })
const BridgeBody = z.object({
  name: z.string(),
  url: z.string(),
  confirmations: z.number().int().min(0).max(1000).optional(),
})
const JobJsonBody = z.object({ toml: z.string().min(1) })

function requestCounter(registry: Registry): Counter<'method' | 'route' | 'status'> {
  const name = 'orakel_api_requests_total'
  const existing = registry.getSingleMetric(name)
  if (existing) return existing as Counter<'method' | 'route' | 'status'>
  return new Counter({
    name,
    help: 'HTTP API requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  })
}

/** The API as a hono app (without a listening server). */
export function createApiApp(common: Common<unknown>, options: ApiServerOptions): Hono<Env> {
  const { db, logger, metrics } = common
  const jobs = createJobRepository(db)
  const runs = createRunRepository(db)
  const bridges = createBridgeRepository(db)
  const credentials = createCredentialRepository(db)
  const tasks = options.tasks ?? TASKS
  const limiter = createLoginLimiter(
    Math.max(1, Math.floor(options.loginRateLimitPerMinute)),
    options.now ?? Date.now,
  )
  const requests = requestCounter(metrics)
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES

  const app = new Hono<Env>()

  app.use('*', async (c, next) => {
    const started = performance.now()
    await next()
    const route = routePath(c, -1)
    requests.inc({ method: c.req.method, route, status: String(c.res.status) })
    logger.debug(
      {
        method: c.req.method,
        route,
        status: c.res.status,
        duration_ms: Math.round(performance.now() - started),
      },
      'api request',
    )
  })

  // A declared body over the limit is refused before anything else; a streamed one while it
  // is read (readText).
  app.use('*', async (c, next) => {
    const length = c.req.header('content-length')
    if (length !== undefined && Number(length) > maxBody) throw tooLarge(maxBody)
    await next()
  })

  app.get('/health', (c) => send(c, 200, { status: 'ok' }))

  // Asynchronous adapters answer here; the bridge's incoming token (not an API credential)
  // authenticates them.
  app.patch('/v2/resume/:runId', async (c) => {
    if (!options.resume) throw new ApiError(404, 'this node does not resume runs')
    const token = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1]
    if (!token) {
      throw new ApiError(401, 'the bridge incoming token is required', {
        details: 'send Authorization: Bearer <incoming token of the bridge>',
      })
    }
    if (contentType(c) !== 'application/json') {
      throw new ApiError(415, 'the request body must be JSON (content-type: application/json)')
    }
    let body: unknown
    try {
      body = parseJson(await readText(c, maxBody))
    } catch (cause) {
      if (cause instanceof ApiError) throw cause
      throw new ApiError(400, 'the request body is not valid JSON', {
        details: cause instanceof Error ? cause.message : undefined,
      })
    }
    const outcome = await options.resume(c.req.param('runId'), token, body)
    return send(c, outcome.status, outcome.body)
  })

  // Login needs no credential; the rate limit guards it.
  app.post('/v2/sessions', async (c) => {
    if (!options.adminPassword)
      throw new ApiError(403, 'password login is not enabled on this node')
    const ip = clientIp(c)
    const wait = limiter.retryAfter(ip)
    if (wait !== undefined) {
      return send(c, 429, errorBody('too many failed logins; try again later'), {
        'retry-after': String(wait),
      })
    }
    const body = await jsonOf(c, maxBody).catch((err: unknown) => {
      limiter.fail(ip)
      throw err
    })
    const parsed = LoginBody.safeParse(body)
    if (!parsed.success || !sameSecret(parsed.data.password, options.adminPassword)) {
      limiter.fail(ip)
      logger.warn({ ip }, 'failed API login')
      throw new ApiError(401, 'wrong password')
    }
    const session = await credentials.createSession(options.sessionTtlHours)
    return send(c, 201, { token: session.token, expiresAt: iso(session.expiresAt) })
  })

  app.use('*', async (c, next) => {
    const header = c.req.header('authorization') ?? ''
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header)
    const credential = m ? await credentials.verify(m[1]!) : undefined
    if (!credential) {
      return send(
        c,
        401,
        errorBody(
          m
            ? 'invalid or expired credential'
            : 'authentication required (Authorization: Bearer <token>)',
        ),
        { 'www-authenticate': 'Bearer' },
      )
    }
    c.set('credential', credential)
    c.set('secret', m![1]!)
    await next()
  })

  app.delete('/v2/sessions', async (c) => {
    if (c.get('credential').kind !== 'session') {
      throw new ApiError(
        400,
        'the request was not made with a session (an API token cannot be revoked here)',
      )
    }
    await credentials.revokeSession(c.get('secret'))
    return send(c, 200, { revoked: true })
  })

  app.get('/v2/jobs', async (c) => send(c, 200, { jobs: (await jobs.list()).map(jobView) }))

  app.post('/v2/jobs', async (c) => {
    const type = contentType(c)
    let toml: string
    if (type === 'application/json') toml = validate(JobJsonBody, await jsonOf(c, maxBody)).toml
    else if (type === '' || type === 'text/plain' || type === 'application/toml')
      toml = await readText(c, maxBody)
    else {
      throw new ApiError(415, `unsupported content-type ${type}`, {
        details: 'send the TOML spec as text/plain or application/toml, or JSON {"toml": "..."}',
      })
    }
    const parsed = parseJobSpec(toml, tasks)
    const problems = options.checkJob ? await options.checkJob(parsed) : []
    if (problems.length > 0) {
      throw new ApiError(422, "the job's bridge tasks do not fit their adapters", {
        details: problems,
      })
    }
    const job = await jobs.create(parsed, toml)
    if (options.onJobCreated) {
      try {
        await options.onJobCreated(job, parsed)
      } catch (err) {
        // Undo the create so the same spec can be posted again once the cause is fixed.
        const purged = await jobs.purge(job.id).catch(() => false)
        if (!purged) await jobs.delete(job.id).catch(() => undefined)
        logger.error({ job_id: String(job.id), err }, 'starting a new job failed')
        throw new ApiError(
          err instanceof BaseError && !err.retryable ? 400 : 500,
          `the job was not started: ${err instanceof BaseError ? err.shortMessage : String(err)}`,
          { cause: err, details: err instanceof BaseError ? err.details : undefined },
        )
      }
    }
    logger.info({ job_id: String(job.id), external_job_id: job.externalJobID }, 'job created')
    return send(c, 201, { job: jobView(job), warnings: parsed.warnings })
  })

  const findJob = async (id: string) => {
    const job = await jobs.get(id)
    if (!job) throw new ApiError(404, `no job ${JSON.stringify(id)}`)
    return job
  }

  app.get('/v2/jobs/:id', async (c) => {
    const job = await findJob(c.req.param('id'))
    const status = options.jobStatus?.(job.id)
    return send(c, 200, { job: { ...jobView(job), ...(status ? { status } : {}) } })
  })

  app.delete('/v2/jobs/:id', async (c) => {
    const id = c.req.param('id')
    const job = await jobs.delete(id)
    if (!job) throw new ApiError(404, `no job ${JSON.stringify(id)}`)
    logger.info({ job_id: String(job.id) }, 'job deleted')
    await options.onJobDeleted?.(job)
    return send(c, 200, { job: jobView(job) })
  })

  app.get('/v2/jobs/:id/runs', async (c) => {
    const job = await findJob(c.req.param('id'))
    const limit = pageParam(c, 'limit', 50, 1000)
    const offset = pageParam(c, 'offset', 0, Number.MAX_SAFE_INTEGER)
    const [list, total] = await Promise.all([
      runs.listByJob(job.id, { limit, offset }),
      runs.countByJob(job.id),
    ])
    return send(c, 200, { runs: list.map(runView), total, limit, offset })
  })

  app.get('/v2/runs/:runId', async (c) => {
    const runId = c.req.param('runId')
    const run = await runs.get(runId)
    if (!run) throw new ApiError(404, `no run ${JSON.stringify(runId)}`)
    return send(c, 200, { run: runView(run) })
  })

  app.get('/v2/bridges', async (c) =>
    send(c, 200, { bridges: (await bridges.list()).map(bridgeView) }),
  )

  app.post('/v2/bridges', async (c) => {
    const body = validate(BridgeBody, await jsonOf(c, maxBody))
    const added = await bridges.add(body)
    logger.info({ bridge: added.bridge.name }, 'bridge added')
    return send(c, 201, {
      bridge: bridgeView(added.bridge),
      outgoingToken: added.outgoingToken,
      incomingToken: added.incomingToken,
    })
  })

  app.delete('/v2/bridges/:name', async (c) => {
    const name = c.req.param('name')
    const removed = await bridges.remove(name)
    if (!removed) throw new ApiError(404, `no bridge ${JSON.stringify(name)}`)
    logger.info({ bridge: removed.name }, 'bridge removed')
    return send(c, 200, { bridge: bridgeView(removed) })
  })

  app.get('/v2/keys/eth', async (c) => {
    const rows = await db.query<{ address: string; created_at: Date }>(
      'SELECT address, created_at FROM eth_keys ORDER BY created_at, address',
    )
    return send(c, 200, {
      keys: rows.map((r) => ({ address: r.address, createdAt: iso(new Date(r.created_at)) })),
    })
  })

  app.get('/v2/reputation/:oracle', async (c) => {
    if (!options.reputation) throw new ApiError(404, 'this node reads no reputation contract')
    const contract = c.req.query('contract')
    const specId = c.req.query('specId')
    if (!contract)
      throw new ApiError(400, 'query parameter "contract" (the reputation contract) is missing')
    if (!specId) throw new ApiError(400, 'query parameter "specId" is missing')
    return send(
      c,
      200,
      await options.reputation({ contract, oracle: c.req.param('oracle'), specId }),
    )
  })

  app.get('/v2/status', async (c) => send(c, 200, options.status ? await options.status() : {}))

  app.get('/metrics', async (c) =>
    c.newResponse(await metrics.metrics(), 200, { 'content-type': metrics.contentType }),
  )

  app.notFound((c) => send(c, 404, errorBody(`no route ${c.req.method} ${c.req.path}`)))

  app.onError((err, c) => {
    if (err instanceof ApiError) return send(c, err.status, errorBody(err.shortMessage, err.body))
    if (err instanceof JobSpecError) {
      return send(c, 422, errorBody('invalid job spec', err.issues))
    }
    if (err instanceof JobExistsError || err instanceof BridgeExistsError) {
      return send(c, 409, errorBody(err.shortMessage, err.details))
    }
    if (err instanceof BridgeValidationError) {
      return send(c, 400, errorBody(err.shortMessage, err.details))
    }
    logger.error({ err, method: c.req.method, path: c.req.path }, 'API request failed')
    return send(c, 500, errorBody('internal server error'))
  })

  return app
}

function clientIp(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

/** Starts the API on `host:port`; resolves once it listens. */
export async function createApiServer(
  common: Common<unknown>,
  options: ApiServerOptions,
): Promise<ApiServer> {
  const app = createApiApp(common, options)
  const server = createAdaptorServer({
    fetch: app.fetch,
    overrideGlobalObjects: false,
  }) as Server
  // A slow client must not hold a connection open forever.
  server.requestTimeout = 60_000
  server.headersTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const host = options.host.includes(':') ? `[${options.host}]` : options.host
  const url = `http://${host}:${port}`
  common.logger.info({ url }, 'API listening')
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      }),
  }
}
