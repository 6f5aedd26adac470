import type { Logger } from '../common.ts'
import { isPending } from '../pipeline/runner.ts'
import { resumedBridgeResult } from '../pipeline/tasks/bridge.ts'
import type { BridgeRepository } from '../store/bridges.ts'
import type { RunRepository } from '../store/runs.ts'
import type { DirectRequestJob, DirectRequestService } from './directrequest.ts'

/**
 * `PATCH /v2/resume/<runId>`: an asynchronous external adapter brings the answer a suspended
 * run waits for. The caller must present the incoming token of the bridge the waiting task
 * names; the answer (`{"value", "error"}`) becomes that task's result and the run goes on.
 * Exactly one answer resumes a run: a second, or one for a run that is not waiting, is refused.
 */
export type ResumeDeps = {
  runs: Pick<RunRepository, 'get' | 'resumeSuspended'>
  bridges: Pick<BridgeRepository, 'verifyIncoming'>
  byId: ReadonlyMap<bigint, DirectRequestJob>
  directRequest: Pick<DirectRequestService, 'resume'>
  logger: Logger
}

export async function resumeRun(
  deps: ResumeDeps,
  runId: string,
  token: string,
  body: unknown,
): Promise<{ status: number; body: object }> {
  const refuse = (status: number, error: string) => ({ status, body: { error } })
  const run = await deps.runs.get(runId)
  if (run?.state !== 'suspended' || run.pendingTask === undefined) {
    return refuse(404, `no run ${runId} is waiting for an asynchronous answer`)
  }
  const job = deps.byId.get(run.jobId)
  const task = job?.parsed.pipeline.byId.get(run.pendingTask)
  if (!job || !task) return refuse(409, `the job of run ${runId} is no longer active`)
  const bridge = (task.params.name ?? '').trim()
  if (!(await deps.bridges.verifyIncoming(bridge, token))) {
    deps.logger.warn({ run_id: runId, bridge }, 'resume refused: wrong incoming token')
    return refuse(401, `the token is not the incoming token of bridge "${bridge}"`)
  }
  const result = resumedBridgeResult(bridge, body)
  if (result.error && isPending(result.error)) {
    return { status: 202, body: { runId, state: 'suspended', pending: run.pendingTask } }
  }
  const resumed = await deps.runs.resumeSuspended(runId, run.pendingTask, result)
  if (!resumed) return refuse(409, `run ${runId} was resumed already or is no longer waiting`)
  deps.logger.info(
    { run_id: runId, task: run.pendingTask, bridge, failed: result.error !== undefined },
    'run resumed by its adapter',
  )
  deps.directRequest.resume(job, runId, resumed.inputs as Record<string, unknown>, resumed.previous)
  return { status: 200, body: { runId, state: 'running' } }
}
