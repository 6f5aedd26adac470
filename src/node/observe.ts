import { randomUUID } from 'node:crypto'
import { errorMessage } from '../errors.ts'
import type { ParsedJob } from '../pipeline/job-spec.ts'
import { parseDuration } from '../pipeline/params.ts'
import { runPipeline } from '../pipeline/runner.ts'
import type { TaskDeps } from '../pipeline/task.ts'
import { revealValue } from './commitreveal/feed.ts'

/**
 * One observation of a committee job (`commitreveal`, `offchainaggregation`): its pipeline run
 * once, and the integer its one final task gives, or why there is none (a failed task, an
 * asynchronous adapter, a value that is not an integer).
 */
export type ObservedJob = {
  id: bigint
  externalJobID: string
  parsed: ParsedJob
}

export type ObserveDeps = {
  taskDeps: TaskDeps
  defaultTimeoutMs: number
  signal?: AbortSignal
}

export async function observeValue(
  deps: ObserveDeps,
  job: ObservedJob,
  jobRun: Record<string, unknown>,
): Promise<{ value: bigint } | { reason: string }> {
  const spec = job.parsed.spec
  const result = await runPipeline({
    pipeline: job.parsed.pipeline,
    runId: randomUUID(),
    vars: {
      jobSpec: {
        databaseID: job.id,
        externalJobID: job.externalJobID,
        name: spec.name ?? '',
      },
      jobRun,
    },
    deps: deps.taskDeps,
    defaultTimeoutMs: spec.maxTaskDuration
      ? parseDuration(spec.maxTaskDuration)
      : deps.defaultTimeoutMs,
    ...(deps.signal ? { signal: deps.signal } : {}),
  })
  if (result.pending.length > 0) {
    return {
      reason: `the pipeline waits for an asynchronous adapter, which ${spec.type} jobs do not support`,
    }
  }
  if (result.failed) {
    const errors = result.errors.filter((e) => e !== undefined).map((e) => e.shortMessage)
    return { reason: `the pipeline failed: ${errors.join('; ') || 'stopped'}` }
  }
  try {
    return { value: revealValue(result.outputs[0]) }
  } catch (err) {
    return { reason: errorMessage(err) }
  }
}
