import { checkBridgeRequestData, parseAdapterSchemaDocument } from '../adapters/schema.ts'
import type { Logger } from '../common.ts'
import { errorMessage } from '../errors.ts'
import type { HttpClient } from '../pipeline/http-client.ts'
import type { ParsedJob } from '../pipeline/job-spec.ts'
import type { BridgeRepository } from '../store/bridges.ts'

/**
 * The job-creation check of `bridge` tasks (whitepaper §2.2: adapters describe their inputs by
 * JSON Schema): each names a bridge the node knows, and its `requestData` fits the input schema
 * the adapter serves at `GET <bridge url>/schema`. An adapter that serves no schema (most
 * adapters written for Chainlink) is not checked; the job is still accepted.
 */

export type BridgeViolation = { task: string; path: string; message: string }

export type BridgeSchemaDeps = {
  bridges: Pick<BridgeRepository, 'get'>
  http: HttpClient
  logger: Logger
  /** Deadline of each `GET /schema` (default 3 s). */
  timeoutMs?: number
}

/** The violations of `job`'s bridge tasks; empty when every one fits. */
export async function checkJobBridges(
  job: ParsedJob,
  deps: BridgeSchemaDeps,
): Promise<BridgeViolation[]> {
  const violations: BridgeViolation[] = []
  const schemas = new Map<string, Awaited<ReturnType<typeof fetchSchema>>>()
  for (const task of job.pipeline.tasks) {
    if (task.type !== 'bridge') continue
    const name = (task.params.name ?? '').trim()
    if (name === '' || name.includes('$(')) continue // the task itself reports these
    const bridge = await deps.bridges.get(name)
    if (!bridge) {
      violations.push({ task: task.id, path: 'name', message: `no bridge named "${name}"` })
      continue
    }
    if (!schemas.has(bridge.url)) schemas.set(bridge.url, await fetchSchema(bridge.url, deps))
    const schema = schemas.get(bridge.url)
    if (!schema) continue
    for (const v of checkBridgeRequestData(schema.input, task.params.requestData ?? '')) {
      violations.push({ task: task.id, path: v.path, message: v.message })
    }
  }
  return violations
}

/** The adapter's schema document, or undefined when it serves none (logged). */
async function fetchSchema(url: string, deps: BridgeSchemaDeps) {
  const at = `${url.replace(/\/+$/, '')}/schema`
  try {
    const res = await deps.http.request({
      method: 'GET',
      url: at,
      timeoutMs: deps.timeoutMs ?? 3000,
      maxResponseBytes: 1024 * 1024,
      trustedDestination: true,
    })
    if (res.status !== 200) {
      deps.logger.info({ url: at, status: res.status }, 'adapter serves no schema; not checked')
      return undefined
    }
    return parseAdapterSchemaDocument(JSON.parse(Buffer.from(res.body).toString('utf8')), at)
  } catch (err) {
    deps.logger.warn({ url: at, err: errorMessage(err) }, 'adapter schema unavailable; not checked')
    return undefined
  }
}
