import { BaseError, type BaseErrorParameters } from '../errors.ts'
import type { Vars } from './vars.ts'

/**
 * A pipeline task: a small typed unit `run(ctx) → {value} | {error}` that never throws
 * (the runner turns a stray throw into an error result all the same).
 */

/** An error of one task, naming the task and, where it applies, the parameter. */
export class TaskError extends BaseError {
  override name = 'TaskError'
  readonly param: string | undefined
  constructor(shortMessage: string, params: BaseErrorParameters & { param?: string } = {}) {
    super(params.param ? `parameter "${params.param}": ${shortMessage}` : shortMessage, params)
    this.param = params.param
  }
}

export type TaskResult =
  | { value: unknown; error?: undefined }
  | { error: TaskError; value?: undefined }

export const ok = (value: unknown): TaskResult => ({ value })
export const fail = (
  error: TaskError | string,
  params?: BaseErrorParameters & { param?: string },
): TaskResult => ({
  error: typeof error === 'string' ? new TaskError(error, params) : error,
})

/** What a task receives from the node: every outside effect goes through here. */
export type TaskDeps = {
  /** HTTP client with SSRF protection (the `http` task and bridges). */
  http?: import('./http-client.ts').HttpClient
  /** Whether the node allows jobs to set allowUnrestrictedNetworkAccess. */
  allowUnrestrictedNetworkAccess?: boolean
  /** Named external adapters (`bridge` task). */
  bridges?: import('./tasks/bridge.ts').BridgeRegistry
  /** Read-only chain access (`ethcall`). */
  chain?: import('./tasks/ethcall.ts').ChainReader
  /** Where `ethtx` hands its transaction request (the transaction manager). */
  txSink?: import('./tasks/ethtx.ts').TxSink
  /** The job's default chain id. */
  evmChainID?: bigint
}

export type TaskContext = {
  /** The task's id in the DOT graph. */
  id: string
  type: string
  runId: string
  /** Raw attribute strings from the DOT graph, before interpolation. */
  params: Readonly<Record<string, string>>
  /** Results of the upstream tasks, ordered by their `index` attribute. */
  inputs: readonly TaskResult[]
  /** Variables for `$(...)` interpolation: `jobSpec`, `jobRun`, and every finished task. */
  vars: Vars
  /** Aborted when the task times out or the run is cancelled. */
  signal: AbortSignal
  deps: TaskDeps
}

export type TaskDefinition = {
  type: string
  /** The attribute names the task reads (besides the runner's: index, timeout, retries, ...). */
  params: readonly string[]
  run(ctx: TaskContext): Promise<TaskResult> | TaskResult
}

/** Attributes the runner itself reads on every task. */
export const RUNNER_PARAMS = [
  'type',
  'index',
  'timeout',
  'retries',
  'minBackoff',
  'maxBackoff',
  'failEarly',
] as const
