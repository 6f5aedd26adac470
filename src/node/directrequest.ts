import { randomUUID } from 'node:crypto'
import {
  type Address,
  decodeEventLog,
  getAbiItem,
  type Hex,
  type Log,
  stringToHex,
  toEventSelector,
} from 'viem'
import { OperatorAbi } from '../../artifacts/abis.ts'
import type { Common } from '../common.ts'
import type { ParsedJob } from '../pipeline/job-spec.ts'
import { stringifyJson } from '../pipeline/json.ts'
import { parseDuration } from '../pipeline/params.ts'
import { runPipeline } from '../pipeline/runner.ts'
import type { TaskDeps, TaskResult } from '../pipeline/task.ts'
import type { TxRequest } from '../pipeline/tasks/ethtx.ts'
import type { Queryable } from '../store/db.ts'
import type { NewRun } from '../store/runs.ts'
import type { LogSubscription } from './log-broadcaster.ts'

/**
 * The `directrequest` job type (whitepaper Figure 1, steps 1–7 for one oracle): an Operator's
 * `OracleRequest` log for the job's spec id starts a run of the job's pipeline, whose `ethtx`
 * goes through the transaction manager. Requests from requesters outside the job's allow-list,
 * or paying less than its minimum, start no run and are logged with the reason. A
 * `CancelOracleRequest` log stops the request's run.
 *
 * A run is created in the same database transaction that records the log as processed, so each
 * request gets exactly one run, also across restarts; runs that were not finished when the node
 * stopped are resumed from their recorded task results.
 */

export const ORACLE_REQUEST_TOPIC = toEventSelector(
  getAbiItem({ abi: OperatorAbi, name: 'OracleRequest' }),
)
export const CANCEL_REQUEST_TOPIC = toEventSelector(
  getAbiItem({ abi: OperatorAbi, name: 'CancelOracleRequest' }),
)

/** The `specId` a consumer sends for a job: its external job id without dashes, as 32 ASCII bytes. */
export function specIdOf(externalJobID: string): Hex {
  return stringToHex(externalJobID.replace(/-/g, ''), { size: 32 })
}

export type DirectRequestJob = {
  id: bigint
  externalJobID: string
  name?: string | null | undefined
  parsed: ParsedJob
}

export type DirectRequestDeps = {
  subscribe(sub: LogSubscription): () => void
  runs: {
    createMany(runs: NewRun[], tx?: Queryable): Promise<{ runId: string }[]>
    store(runId: string, options?: { batched?: boolean }): import('../pipeline/runner.ts').RunStore
    cancelByRequestId(requestId: string, tx?: Queryable): Promise<string[]>
  }
  enqueueTx(req: {
    to: Address
    data: Hex
    gasLimit?: bigint
    minConfirmations: number
    idempotencyKey: string
  }): Promise<{ id: bigint | string }>
  taskDeps: TaskDeps
  defaultGasLimit: bigint
  defaultTimeoutMs: number
  defaultMinConfirmations: number
  /** Called as things happen, for `npm start` and tests. */
  onEvent?(event: DirectRequestEvent): void
}

export type DirectRequestEvent =
  | {
      kind: 'request'
      jobId: bigint
      runId: string
      requestId: Hex
      requester: Address
      payment: bigint
    }
  | { kind: 'rejected'; jobId: bigint; requestId: Hex; reason: string }
  | { kind: 'run-finished'; jobId: bigint; runId: string; failed: boolean; errors: string[] }
  | { kind: 'tx-enqueued'; jobId: bigint; runId: string; txId: string }
  | { kind: 'cancelled'; jobId: bigint; requestId: Hex; runIds: string[] }

type ActiveJob = { job: DirectRequestJob; unsubscribe: () => void }

export function createDirectRequestService(common: Common, deps: DirectRequestDeps) {
  const log = common.logger.child({ component: 'directrequest' })
  const jobs = new Map<bigint, ActiveJob>()
  const inflight = new Map<string, AbortController>()
  /**
   * Runs cancelled (request cancelled on chain, or reorged out) that may not have started yet:
   * the cancellation can be handled before `execute` is called or before it commits.
   */
  const cancelled = new Set<string>()
  const pending = new Set<Promise<void>>()
  let stopped = false

  const emit = (event: DirectRequestEvent) => deps.onEvent?.(event)

  /** Marks runs cancelled in memory and stops those in flight. */
  function stopRuns(runIds: string[]): void {
    for (const id of runIds) {
      cancelled.add(id)
      inflight.get(id)?.abort()
    }
  }

  function execute(
    job: DirectRequestJob,
    runId: string,
    jobRun: Record<string, unknown>,
    previous: ReadonlyMap<string, TaskResult> = new Map(),
  ): void {
    if (stopped) return
    const controller = new AbortController()
    inflight.set(runId, controller)
    const spec = job.parsed.spec
    const work = (async () => {
      // Cancelled before it started (e.g. the cancellation was due in the same poll).
      if (controller.signal.aborted || cancelled.has(runId)) {
        log.info({ job_id: String(job.id), run_id: runId }, 'run cancelled before it started')
        return
      }
      const result = await runPipeline({
        pipeline: job.parsed.pipeline,
        runId,
        vars: {
          jobSpec: { databaseID: job.id, externalJobID: job.externalJobID, name: spec.name ?? '' },
          jobRun,
        },
        deps: {
          ...deps.taskDeps,
          txSink: {
            submit: async (req: TxRequest) => {
              const { id } = await deps.enqueueTx({
                to: req.to,
                data: req.data,
                gasLimit:
                  req.gasLimit ?? (spec.gasLimit ? BigInt(spec.gasLimit) : deps.defaultGasLimit),
                minConfirmations: req.minConfirmations,
                idempotencyKey: `${req.runId}/${req.taskId}`,
              })
              emit({ kind: 'tx-enqueued', jobId: job.id, runId, txId: String(id) })
              return { id: String(id) }
            },
          },
        },
        // Task results are written with the run's outcome, in one statement: a run cut short
        // by a crash starts over, and its ethtx finds the transaction it already queued.
        store: deps.runs.store(runId, { batched: true }),
        previous,
        defaultTimeoutMs: spec.maxTaskDuration
          ? parseDuration(spec.maxTaskDuration)
          : deps.defaultTimeoutMs,
        signal: controller.signal,
      })
      if (result.pending.length > 0) {
        log.info(
          { job_id: String(job.id), run_id: runId, pending: result.pending },
          'run suspended: waiting for an asynchronous adapter',
        )
        return
      }
      const errors = result.errors.filter((e) => e !== undefined).map((e) => e.shortMessage)
      log.info(
        { job_id: String(job.id), run_id: runId, failed: result.failed, errors },
        'run finished',
      )
      emit({ kind: 'run-finished', jobId: job.id, runId, failed: result.failed, errors })
    })()
      .catch((err: unknown) =>
        log.error({ job_id: String(job.id), run_id: runId, err }, 'run crashed'),
      )
      .finally(() => {
        inflight.delete(runId)
        cancelled.delete(runId)
        pending.delete(work)
      })
    pending.add(work)
  }

  /**
   * What an `OracleRequest` log asks for: a refusal to log, or a run to create and what to do
   * once it exists.
   */
  function prepareRequest(
    job: DirectRequestJob,
    raw: Log,
  ): { reject: () => void } | { run: NewRun; started: () => void } {
    const { args } = decodeEventLog({
      abi: OperatorAbi,
      data: raw.data,
      topics: raw.topics,
      eventName: 'OracleRequest',
    })
    const spec = job.parsed.spec
    const reject = (reason: string) => ({
      reject: () => {
        log.warn(
          { job_id: String(job.id), request_id: args.requestId, requester: args.requester, reason },
          'request not served',
        )
        emit({ kind: 'rejected', jobId: job.id, requestId: args.requestId, reason })
      },
    })
    if (spec.type !== 'directrequest') return reject(`job ${job.id} is not a directrequest job`)
    if (spec.requesters?.length && !spec.requesters.includes(args.requester)) {
      return reject(`requester ${args.requester} is not on the job's requesters list`)
    }
    if (
      spec.minContractPaymentLinkJuels !== undefined &&
      args.payment < spec.minContractPaymentLinkJuels
    ) {
      return reject(
        `payment ${args.payment} is below the job's minimum ${spec.minContractPaymentLinkJuels}`,
      )
    }
    const runId = randomUUID()
    const jobRun = {
      logAddress: raw.address,
      logData: raw.data,
      logTopics: raw.topics,
      logTxHash: raw.transactionHash,
      logBlockHash: raw.blockHash,
      logBlockNumber: raw.blockNumber,
      logIndex: raw.logIndex,
    }
    return {
      run: {
        jobId: job.id,
        runId,
        inputs: JSON.parse(stringifyJson(jobRun)),
        requestId: args.requestId,
        logBlockHash: raw.blockHash ?? undefined,
        logIndex: raw.logIndex ?? undefined,
      },
      // Once the broadcaster's transaction has committed: the run exists.
      started: () => {
        log.info(
          { job_id: String(job.id), run_id: runId, request_id: args.requestId },
          'request accepted',
        )
        emit({
          kind: 'request',
          jobId: job.id,
          runId,
          requestId: args.requestId,
          requester: args.requester,
          payment: args.payment,
        })
        // After the other deliveries of the batch (a cancellation of it among them).
        setImmediate(() => execute(job, runId, jobRun))
      },
    }
  }

  /**
   * A job's logs of one delivery, in chain order: runs for consecutive requests are created in
   * one statement; a cancellation first records the requests before it. Returns what to do
   * once the delivery committed.
   */
  async function onLogs(job: DirectRequestJob, logs: Log[], tx: Queryable): Promise<() => void> {
    const specId = specIdOf(job.externalJobID)
    const thens: (() => void)[] = []
    let pending: { run: NewRun; started: () => void }[] = []
    const flush = async () => {
      if (pending.length === 0) return
      const created = await deps.runs.createMany(
        pending.map((p) => p.run),
        tx,
      )
      const ids = new Set(created.map((r) => r.runId))
      for (const p of pending) if (ids.has(p.run.runId)) thens.push(p.started)
      pending = []
    }
    for (const raw of logs) {
      if (raw.topics[0] === CANCEL_REQUEST_TOPIC) {
        await flush()
        const then = await onCancel(job, raw, tx)
        if (then) thens.push(then)
        continue
      }
      if (raw.topics[0] !== ORACLE_REQUEST_TOPIC || raw.topics[1] !== specId) continue
      const request = prepareRequest(job, raw)
      if ('reject' in request) thens.push(request.reject)
      else pending.push(request)
    }
    await flush()
    return () => {
      for (const then of thens) then()
    }
  }

  async function onCancel(
    job: DirectRequestJob,
    raw: Log,
    tx: Queryable,
  ): Promise<(() => void) | undefined> {
    const { args } = decodeEventLog({
      abi: OperatorAbi,
      data: raw.data,
      topics: raw.topics,
      eventName: 'CancelOracleRequest',
    })
    const runIds = await deps.runs.cancelByRequestId(args.requestId, tx)
    if (runIds.length === 0) return undefined
    return () => {
      stopRuns(runIds)
      log.info(
        { job_id: String(job.id), request_id: args.requestId, runs: runIds },
        'request cancelled on chain',
      )
      emit({ kind: 'cancelled', jobId: job.id, requestId: args.requestId, runIds })
    }
  }

  return {
    /** Starts answering requests for `job`. */
    addJob(job: DirectRequestJob): void {
      const spec = job.parsed.spec
      if (jobs.has(job.id) || spec.type !== 'directrequest') return
      const specId = specIdOf(job.externalJobID)
      const unsubscribe = deps.subscribe({
        jobId: job.id,
        address: spec.contractAddress,
        topics: [[ORACLE_REQUEST_TOPIC, CANCEL_REQUEST_TOPIC]],
        minConfirmations: spec.minIncomingConfirmations ?? deps.defaultMinConfirmations,
        onLog: (raw, tx) => onLogs(job, [raw], tx),
        onLogs: (logs, tx) => onLogs(job, logs, tx),
        onRemoved: async (raw, tx) => {
          if (raw.topics[0] !== ORACLE_REQUEST_TOPIC || raw.topics[1] !== specId) return
          const { args } = decodeEventLog({
            abi: OperatorAbi,
            data: raw.data,
            topics: raw.topics,
            eventName: 'OracleRequest',
          })
          const runIds = await deps.runs.cancelByRequestId(args.requestId, tx)
          stopRuns(runIds)
          log.warn(
            { job_id: String(job.id), request_id: args.requestId },
            'request left the canonical chain',
          )
        },
      })
      jobs.set(job.id, { job, unsubscribe })
      log.info(
        { job_id: String(job.id), contract: spec.contractAddress, spec_id: specId },
        'job active',
      )
    },

    removeJob(jobId: bigint): void {
      jobs.get(jobId)?.unsubscribe()
      jobs.delete(jobId)
    },

    /** Resumes a run that was unfinished when the node stopped. */
    resume(
      job: DirectRequestJob,
      runId: string,
      jobRun: Record<string, unknown>,
      previous: ReadonlyMap<string, TaskResult>,
    ): void {
      execute(job, runId, jobRun, previous)
    },

    /** Waits for the runs in flight (for tests and shutdown). */
    async idle(): Promise<void> {
      while (pending.size > 0) await Promise.all([...pending])
    },

    async stop(): Promise<void> {
      stopped = true
      for (const { unsubscribe } of jobs.values()) unsubscribe()
      jobs.clear()
      await Promise.all([...pending])
    },
  }
}

export type DirectRequestService = ReturnType<typeof createDirectRequestService>
