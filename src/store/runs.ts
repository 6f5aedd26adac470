import { BaseError } from '../errors.ts'
import { parseJson, stringifyJson } from '../pipeline/json.ts'
import type { RunResult, RunStore, TaskRunRecord } from '../pipeline/runner.ts'
import { TaskError, type TaskResult } from '../pipeline/task.ts'
import type { Db, Queryable } from './db.ts'
import { createGroupCommit } from './group-commit.ts'

/**
 * Job runs and their task runs. A run starts `running`; the runner's RunStore records each
 * task as it finishes and then the run's outcome. JSON values (inputs, outputs, task values)
 * are stored and read back as exact JSON text, so big integers and decimals survive.
 */

export class RunStoreError extends BaseError {
  override name = 'RunStoreError'
}

export type RunState = 'running' | 'completed' | 'errored' | 'cancelled' | 'suspended'

export type TaskRun = {
  taskId: string
  type: string
  /** The task's value (exact JSON: bigints, Decimals); undefined when it failed. */
  value: unknown
  /** The task's error message; undefined when it succeeded. */
  error: string | undefined
  attempts: number
  startedAt: Date
  finishedAt: Date
}

export type Run = {
  id: bigint
  runId: string
  jobId: bigint
  state: RunState
  inputs: unknown
  /** Values of the terminal tasks (null where one failed); undefined until the run ends. */
  outputs: unknown[] | undefined
  /** Error messages of the terminal tasks (null where one succeeded); undefined until the end. */
  errors: (string | null)[] | undefined
  requestId: string | undefined
  logBlockHash: string | undefined
  logIndex: number | undefined
  /** A suspended run: the task waiting for an asynchronous answer. */
  pendingTask: string | undefined
  createdAt: Date
  finishedAt: Date | undefined
}

export type RunWithTasks = Run & { tasks: TaskRun[] }

/**
 * An unfinished run and what its finished tasks returned: `previous` for `runPipeline`; a
 * suspended one names the task waiting for an asynchronous answer.
 */
export type UnfinishedRun = Run & { previous: Map<string, TaskResult> }

type UnfinishedRow = RunRow & { task_results: string | null }

export type NewRun = {
  jobId: bigint
  runId: string
  /** The jobRun variables (logData, logTopics, ...). */
  inputs: unknown
  requestId?: string | undefined
  logBlockHash?: string | undefined
  logIndex?: number | undefined
}

export type RunRepository = {
  /**
   * Starts a run (state running). Returns undefined when the job already has a run for the
   * same log (job, block hash, log index): the log was delivered twice.
   */
  create(run: NewRun, tx?: Queryable): Promise<Run | undefined>
  /** `create` for several runs in one statement; returns those created, in the order given. */
  createMany(runs: readonly NewRun[], tx?: Queryable): Promise<Run[]>
  /**
   * The RunStore the pipeline runner reports a run's progress to: each task as it finishes, or
   * with `batched`, all of them with the run's outcome, as one value on the run, written
   * together with other runs finishing at the same time (a run interrupted before its end then
   * starts over, which suits runs whose tasks can be repeated).
   */
  store(runId: string, options?: { batched?: boolean }): RunStore
  get(runId: string): Promise<RunWithTasks | undefined>
  /** A job's runs, newest first. */
  listByJob(jobId: bigint, options?: { limit?: number; offset?: number }): Promise<Run[]>
  countByJob(jobId: bigint): Promise<number>
  /** Runs still running or suspended (to resume after a restart), oldest first. */
  listUnfinished(): Promise<UnfinishedRun[]>
  /**
   * Takes a run suspended on `taskId` back to running, with `result` as that task's outcome
   * (recorded with the run's task results). Undefined when the run is not suspended on that
   * task (unknown, finished, cancelled, or resumed already): only one caller gets it.
   */
  resumeSuspended(
    runId: string,
    taskId: string,
    result: TaskResult,
  ): Promise<UnfinishedRun | undefined>
  /**
   * Cancels the unfinished runs of a request; returns their run ids. Pass `tx` to cancel within
   * the caller's transaction (on PGlite a query outside it would wait for it to end).
   */
  cancelByRequestId(requestId: string, tx?: Queryable): Promise<string[]>
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const RUN_COLUMNS = `id::text AS id, run_id::text AS run_id, job_id::text AS job_id, state,
  inputs::text AS inputs, outputs::text AS outputs, errors::text AS errors, request_id,
  log_block_hash, log_index, created_at, finished_at, pending_task`

type RunRow = {
  id: string
  run_id: string
  job_id: string
  state: RunState
  inputs: string
  outputs: string | null
  errors: string | null
  request_id: string | null
  log_block_hash: string | null
  log_index: number | null
  pending_task: string | null
  created_at: Date
  finished_at: Date | null
}

type TaskRow = {
  run_id: string
  task_id: string
  type: string
  value: string | null
  error: string | null
  attempts: number
  started_at: Date
  finished_at: Date
}

const TASK_COLUMNS = `run_id::text AS run_id, task_id, type, value::text AS value, error, attempts,
  started_at, finished_at`

const toRun = (r: RunRow): Run => ({
  id: BigInt(r.id),
  runId: r.run_id,
  jobId: BigInt(r.job_id),
  state: r.state,
  inputs: parseJson(r.inputs),
  outputs: r.outputs === null ? undefined : (parseJson(r.outputs) as unknown[]),
  errors: r.errors === null ? undefined : (parseJson(r.errors) as (string | null)[]),
  requestId: r.request_id ?? undefined,
  logBlockHash: r.log_block_hash ?? undefined,
  logIndex: r.log_index ?? undefined,
  pendingTask: r.pending_task ?? undefined,
  createdAt: new Date(r.created_at),
  finishedAt: r.finished_at ? new Date(r.finished_at) : undefined,
})

const toTask = (r: TaskRow): TaskRun => ({
  taskId: r.task_id,
  type: r.type,
  value:
    r.error === null && r.value !== null ? parseJson(r.value) : r.error === null ? null : undefined,
  error: r.error ?? undefined,
  attempts: r.attempts,
  startedAt: new Date(r.started_at),
  finishedAt: new Date(r.finished_at),
})

/** The task runs of a batched run, from its `task_results` JSON text (exact values). */
function taskResultsOf(text: string): TaskRun[] {
  const entries = parseJson(text) as {
    taskId: string
    type: string
    value: unknown
    error: string | null
    attempts: unknown
    startedAt: string
    finishedAt: string
  }[]
  return entries.map((e) => ({
    taskId: e.taskId,
    type: e.type,
    value: e.error === null ? e.value : undefined,
    error: e.error ?? undefined,
    attempts: Number(e.attempts),
    startedAt: new Date(e.startedAt),
    finishedAt: new Date(e.finishedAt),
  }))
}

/** Jsonb text of a value, checked here so a bad value names the task instead of failing SQL. */
function json(value: unknown, what: string): string {
  try {
    return stringifyJson(value)
  } catch (cause) {
    throw new RunStoreError(`cannot store ${what} as JSON`, { cause })
  }
}

/**
 * `INSERT ... ON CONFLICT DO UPDATE` of one task run (the per-task store).
 */
const UPSERT_TASK = `INSERT INTO task_runs (run_id, task_id, type, value, error, attempts, started_at, finished_at)
   VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)
   ON CONFLICT (run_id, task_id) DO UPDATE SET type = EXCLUDED.type, value = EXCLUDED.value,
     error = EXCLUDED.error, attempts = EXCLUDED.attempts, started_at = EXCLUDED.started_at,
     finished_at = EXCLUDED.finished_at`

/** A task run's value as exact JSON text, or null when it failed. */
const taskValue = (record: TaskRunRecord): string | null =>
  record.error !== undefined
    ? null
    : json(record.value ?? null, `the value of task ${record.taskId}`)

/** The task runs of a batched run as one JSON array (values embedded as exact JSON text). */
function taskResultsJson(records: Iterable<TaskRunRecord>): string {
  const entries: string[] = []
  for (const r of records) {
    const value = taskValue(r)
    entries.push(
      `{"taskId":${JSON.stringify(r.taskId)},"type":${JSON.stringify(r.type)},"value":${value ?? 'null'},"error":${JSON.stringify(r.error?.message ?? null)},"attempts":${r.attempts},"startedAt":${JSON.stringify(r.startedAt.toISOString())},"finishedAt":${JSON.stringify(r.finishedAt.toISOString())}}`,
    )
  }
  return `[${entries.join(',')}]`
}

type RunOutcome = {
  runId: string
  state: 'completed' | 'errored' | 'suspended'
  outputs: string | null
  errors: string | null
  finishedAt: Date | null
  /** A suspended run: the task waiting for an asynchronous answer. */
  pendingTask: string | null
  /** Batched stores: the task runs (JSON array text). */
  taskResults: string | null
}

/** A finished run's row values: outputs and errors as exact JSON text. */
function outcomeOf(runId: string, result: RunResult, batched: boolean): RunOutcome {
  const taskResults = batched ? taskResultsJson(result.tasks.values()) : null
  if (result.pending.length > 0) {
    return {
      runId,
      state: 'suspended',
      outputs: null,
      errors: null,
      finishedAt: null,
      pendingTask: result.pending[0]!,
      taskResults,
    }
  }
  const outputs = result.outputs.map((v, i) => (result.errors[i] ? null : (v ?? null)))
  const errors = result.errors.map((e) => (e ? e.message : null))
  if (result.stoppedBy && !errors.some((e) => e !== null)) {
    errors.push(
      result.stoppedBy === 'cancelled'
        ? 'the run was cancelled'
        : `the run was stopped by task ${result.stoppedBy}`,
    )
  }
  return {
    runId,
    state: result.failed ? 'errored' : 'completed',
    outputs: json(outputs, 'the run outputs'),
    errors: json(errors, 'the run errors'),
    finishedAt: result.finishedAt,
    pendingTask: null,
    taskResults,
  }
}

export function createRunRepository(db: Db): RunRepository {
  const tasksOf = async (runIds: string[]): Promise<TaskRow[]> => {
    if (runIds.length === 0) return []
    return db.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM task_runs WHERE run_id = ANY($1::uuid[]) ORDER BY finished_at, task_id`,
      [runIds],
    )
  }

  /**
   * Run outcomes in one statement. A run cancelled meanwhile (cancelByRequestId) stays
   * cancelled.
   */
  const finishRuns = async (list: readonly RunOutcome[]): Promise<undefined[]> => {
    await db.query(
      `UPDATE job_runs r SET state = v.state, outputs = v.outputs::jsonb, errors = v.errors::jsonb,
         finished_at = v.finished_at, pending_task = v.pending,
         task_results = CASE WHEN v.tasks IS NULL THEN r.task_results
           ELSE COALESCE(r.task_results, '[]'::jsonb) || v.tasks::jsonb END
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
         $7::text[]) AS v(run_id, state, outputs, errors, finished_at, tasks, pending)
       WHERE r.run_id = v.run_id AND r.state IN ('running', 'suspended')`,
      [
        list.map((o) => o.runId),
        list.map((o) => o.state),
        list.map((o) => o.outputs),
        list.map((o) => o.errors),
        list.map((o) => o.finishedAt),
        list.map((o) => o.taskResults),
        list.map((o) => o.pendingTask),
      ],
    )
    return list.map(() => undefined)
  }
  const finishing = createGroupCommit(finishRuns, 100)

  /** Unfinished runs with what their finished tasks returned (task_runs and task_results). */
  const withPrevious = async (rows: UnfinishedRow[]): Promise<UnfinishedRun[]> => {
    const tasks = await tasksOf(rows.map((r) => r.run_id))
    const byRun = new Map<string, Map<string, TaskResult>>(rows.map((r) => [r.run_id, new Map()]))
    const add = (runId: string, task: TaskRun) =>
      byRun
        .get(runId)!
        .set(
          task.taskId,
          task.error === undefined ? { value: task.value } : { error: new TaskError(task.error) },
        )
    for (const t of tasks) add(t.run_id, toTask(t))
    for (const r of rows) {
      if (r.task_results !== null) for (const t of taskResultsOf(r.task_results)) add(r.run_id, t)
    }
    return rows.map((r) => ({ ...toRun(r), previous: byRun.get(r.run_id)! }))
  }

  const createMany: RunRepository['createMany'] = async (list, tx = db) => {
    if (list.length === 0) return []
    const rows = await tx.query<RunRow>(
      `INSERT INTO job_runs (run_id, job_id, state, inputs, request_id, log_block_hash, log_index)
       VALUES ${list
         .map(
           (_, i) =>
             `($${6 * i + 1}::uuid, $${6 * i + 2}::bigint, 'running', $${6 * i + 3}::jsonb, $${6 * i + 4}, $${6 * i + 5}, $${6 * i + 6}::int)`,
         )
         .join(', ')}
       ON CONFLICT (job_id, log_block_hash, log_index) DO NOTHING
       RETURNING ${RUN_COLUMNS}`,
      list.flatMap((run) => [
        run.runId,
        run.jobId,
        json(run.inputs, 'the run inputs'),
        run.requestId ?? null,
        run.logBlockHash ?? null,
        run.logIndex ?? null,
      ]),
    )
    const byId = new Map(rows.map((r) => [r.run_id, toRun(r)]))
    return list.flatMap((run) => byId.get(run.runId) ?? [])
  }

  return {
    async create(run, tx = db) {
      const [created] = await createMany([run], tx)
      return created
    },

    createMany,

    store(runId, options = {}): RunStore {
      const batched = options.batched === true
      return {
        async taskFinished(record: TaskRunRecord) {
          if (batched) return
          await db.query(UPSERT_TASK, [
            runId,
            record.taskId,
            record.type,
            taskValue(record),
            record.error?.message ?? null,
            record.attempts,
            record.startedAt,
            record.finishedAt,
          ])
        },
        async runFinished(result) {
          const outcome = outcomeOf(runId, result, batched)
          if (batched) await finishing.add(outcome)
          else await finishRuns([outcome])
        },
      }
    },

    async get(runId) {
      if (!UUID.test(runId)) return undefined
      const [row] = await db.query<RunRow & { task_results: string | null }>(
        `SELECT ${RUN_COLUMNS}, task_results::text AS task_results FROM job_runs WHERE run_id = $1`,
        [runId],
      )
      if (!row) return undefined
      const tasks = (await tasksOf([row.run_id])).map(toTask)
      if (row.task_results !== null) tasks.push(...taskResultsOf(row.task_results))
      tasks.sort(
        (a, b) => a.finishedAt.getTime() - b.finishedAt.getTime() || (a.taskId < b.taskId ? -1 : 1),
      )
      return { ...toRun(row), tasks }
    },

    async listByJob(jobId, options = {}) {
      const limit = Math.max(0, Math.min(options.limit ?? 100, 10_000))
      const offset = Math.max(0, options.offset ?? 0)
      const rows = await db.query<RunRow>(
        `SELECT ${RUN_COLUMNS} FROM job_runs WHERE job_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`,
        [jobId, limit, offset],
      )
      return rows.map(toRun)
    },

    async countByJob(jobId) {
      const [row] = await db.query<{ n: string }>(
        'SELECT count(*)::text AS n FROM job_runs WHERE job_id = $1',
        [jobId],
      )
      return Number(row!.n)
    },

    async listUnfinished() {
      const rows = await db.query<UnfinishedRow>(
        `SELECT ${RUN_COLUMNS}, task_results::text AS task_results
         FROM job_runs WHERE state IN ('running', 'suspended') ORDER BY id`,
      )
      return withPrevious(rows)
    },

    async resumeSuspended(runId, taskId, result) {
      if (!UUID.test(runId)) return undefined
      const now = new Date()
      const entry = taskResultsJson([
        {
          runId,
          taskId,
          type: 'bridge',
          index: 0,
          ...result,
          attempts: 1,
          startedAt: now,
          finishedAt: now,
        },
      ])
      const rows = await db.query<UnfinishedRow>(
        `UPDATE job_runs SET state = 'running', pending_task = NULL,
           task_results = COALESCE(task_results, '[]'::jsonb) || $3::jsonb
         WHERE run_id = $1 AND state = 'suspended' AND pending_task = $2
         RETURNING ${RUN_COLUMNS}, task_results::text AS task_results`,
        [runId, taskId, entry],
      )
      const [run] = await withPrevious(rows)
      return run
    },

    async cancelByRequestId(requestId, tx = db) {
      const rows = await tx.query<{ run_id: string }>(
        `UPDATE job_runs SET state = 'cancelled', finished_at = now()
         WHERE request_id = $1 AND state IN ('running', 'suspended')
         RETURNING run_id::text AS run_id`,
        [requestId],
      )
      return rows.map((r) => r.run_id)
    },
  }
}
