import type { Pipeline, TaskNode } from './pipeline.ts'
import { type TaskDeps, TaskError, type TaskResult } from './task.ts'
import { Vars } from './vars.ts'

/**
 * Runs a pipeline: every task starts as soon as all of its inputs have finished, so independent
 * branches run in parallel. A task's value becomes the variable named after it. A failed task
 * passes its error on as an input; a task with `failEarly="true"` that fails stops the run.
 * A task whose error is marked `pending` (an asynchronous external adapter) suspends the run:
 * its successors do not start, the other branches finish, and the run ends with `pending`
 * naming it; it is resumed later with that task's result in `previous`.
 * Results go to a `RunStore` as they happen so a run can be persisted and resumed.
 */

/** Whether a task's error means "the answer comes later" rather than a failure. */
export const isPending = (error: unknown): boolean =>
  (error as { pending?: unknown } | undefined)?.pending === true

export type TaskRunRecord = {
  runId: string
  taskId: string
  type: string
  /** Position of the task's value among its successors' inputs. */
  index: number
  value?: unknown
  error?: TaskError
  attempts: number
  startedAt: Date
  finishedAt: Date
}

export type RunResult = {
  runId: string
  /** Values of the terminal tasks (undefined where one failed), in topological order. */
  outputs: unknown[]
  /** Errors of the terminal tasks (undefined where one succeeded). */
  errors: (TaskError | undefined)[]
  /** Whether any terminal task failed or the run was stopped (never when it is pending). */
  failed: boolean
  /** Tasks waiting for an asynchronous answer: the run is suspended, not finished. */
  pending: string[]
  /** The task that stopped the run through failEarly or cancellation, if any. */
  stoppedBy: string | undefined
  tasks: Map<string, TaskRunRecord>
  startedAt: Date
  finishedAt: Date
}

/** Where the runner reports progress; the database implements it in the node. */
export type RunStore = {
  taskFinished(record: TaskRunRecord): Promise<void> | void
  runFinished(result: RunResult): Promise<void> | void
}

export type RunParameters = {
  pipeline: Pipeline
  runId: string
  /** `jobSpec`, `jobRun` and any other starting variables. */
  vars?: Record<string, unknown>
  deps?: TaskDeps
  store?: RunStore
  /** Results of tasks that finished in an earlier attempt of this run: not run again. */
  previous?: ReadonlyMap<string, TaskResult>
  /** Timeout of a task that sets none (the job's maxTaskDuration). */
  defaultTimeoutMs?: number
  signal?: AbortSignal
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })

export async function runPipeline(params: RunParameters): Promise<RunResult> {
  const { pipeline, runId } = params
  const startedAt = new Date()
  const vars = new Vars(params.vars ?? {})
  const deps = params.deps ?? {}
  const results = new Map<string, TaskResult>()
  const records = new Map<string, TaskRunRecord>()
  const stop = new AbortController()
  const onOuterAbort = () => stop.abort()
  params.signal?.addEventListener('abort', onOuterAbort, { once: true })
  let stoppedBy: string | undefined

  const remaining = new Map(pipeline.tasks.map((t) => [t.id, t.inputs.length]))
  let running = 0
  let finish!: () => void
  const allDone = new Promise<void>((resolve) => {
    finish = resolve
  })

  const pending: string[] = []
  const complete = async (
    task: TaskNode,
    result: TaskResult,
    record: TaskRunRecord | undefined,
  ) => {
    if (result.error && isPending(result.error)) {
      // Not a result yet: nothing is recorded and nothing after it starts.
      pending.push(task.id)
      return
    }
    results.set(task.id, result)
    if (result.error === undefined) vars.set(task.id, result.value)
    else vars.fail(task.id, result.error.shortMessage)
    if (record) {
      records.set(task.id, record)
      await params.store?.taskFinished(record)
    }
    if (result.error && task.failEarly && !stop.signal.aborted) {
      stoppedBy = task.id
      stop.abort()
    }
    for (const out of task.outputs) {
      const left = remaining.get(out)! - 1
      remaining.set(out, left)
      if (left === 0) start(pipeline.byId.get(out)!)
    }
  }

  const execute = async (task: TaskNode): Promise<TaskRunRecord> => {
    const started = new Date()
    const inputs = task.inputs.map((id) => results.get(id)!)
    const timeoutMs = task.timeoutMs ?? params.defaultTimeoutMs
    let attempts = 0
    let result: TaskResult
    for (;;) {
      attempts++
      result = await attempt(task, inputs, timeoutMs)
      if (!result.error || attempts > task.retries || stop.signal.aborted) break
      const backoff = Math.min(task.minBackoffMs * 2 ** (attempts - 1), task.maxBackoffMs)
      await sleep(backoff, stop.signal)
    }
    return {
      runId,
      taskId: task.id,
      type: task.type,
      index: task.index,
      ...(result.error ? { error: result.error } : { value: result.value }),
      attempts,
      startedAt: started,
      finishedAt: new Date(),
    }
  }

  const attempt = async (
    task: TaskNode,
    inputs: TaskResult[],
    timeoutMs: number | undefined,
  ): Promise<TaskResult> => {
    if (stop.signal.aborted)
      return { error: new TaskError('the run was stopped before this task ran') }
    const controller = new AbortController()
    const abort = () => controller.abort()
    stop.signal.addEventListener('abort', abort, { once: true })
    let timer: NodeJS.Timeout | undefined
    try {
      const run = Promise.resolve()
        .then(() =>
          task.definition.run({
            id: task.id,
            type: task.type,
            runId,
            params: task.params,
            inputs,
            vars,
            signal: controller.signal,
            deps,
          }),
        )
        .catch(
          (err: unknown): TaskResult => ({
            error: err instanceof TaskError ? err : new TaskError(String(err), { cause: err }),
          }),
        )
      if (timeoutMs === undefined) return await run
      const timeout = new Promise<TaskResult>((resolve) => {
        timer = setTimeout(() => {
          controller.abort()
          resolve({
            error: new TaskError(`task ${task.id} timed out after ${timeoutMs} ms`, {
              retryable: true,
            }),
          })
        }, timeoutMs)
      })
      return await Promise.race([run, timeout])
    } finally {
      clearTimeout(timer)
      stop.signal.removeEventListener('abort', abort)
    }
  }

  function start(task: TaskNode): void {
    running++
    const previous = params.previous?.get(task.id)
    const work = previous
      ? complete(task, previous, undefined)
      : execute(task).then((record) =>
          complete(task, record.error ? { error: record.error } : { value: record.value }, record),
        )
    work
      .catch((err: unknown) => {
        // Only a store failure can land here; record it on the task and go on.
        const error = new TaskError(`recording task ${task.id} failed`, { cause: err })
        results.set(task.id, { error })
      })
      .finally(() => {
        running--
        if (running === 0) finish()
      })
  }

  const roots = pipeline.tasks.filter((t) => t.inputs.length === 0)
  for (const root of roots) start(root)
  if (roots.length === 0) finish()
  await allDone
  params.signal?.removeEventListener('abort', onOuterAbort)
  if (params.signal?.aborted && !stoppedBy) stoppedBy = 'cancelled'

  const outputs: unknown[] = []
  const errors: (TaskError | undefined)[] = []
  for (const terminal of pipeline.terminals) {
    const r = results.get(terminal.id) ?? {
      error: new TaskError(`task ${terminal.id} did not run`),
    }
    outputs.push(r.value)
    errors.push(r.error)
  }
  const suspended = pending.length > 0 && stoppedBy === undefined
  const result: RunResult = {
    runId,
    outputs,
    errors,
    pending: suspended ? pending : [],
    failed: !suspended && (stoppedBy !== undefined || errors.some((e) => e !== undefined)),
    stoppedBy,
    tasks: records,
    startedAt,
    finishedAt: new Date(),
  }
  await params.store?.runFinished(result)
  return result
}
