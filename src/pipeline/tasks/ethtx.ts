/**
 * `ethtx`: hands a transaction to the node's transaction manager (`ctx.deps.txSink`).
 *
 *   submit_tx [type="ethtx" to="0x613a38AC1659769640aaE063C651F48E0250454C" data="$(encode_tx)"]
 *
 * Parameters: `to` (address, not the zero address), `data` (hex), `gasLimit` (optional,
 * positive), `minConfirmations` (default 0), `evmChainID` (defaults to the job's; one of the
 * two is required), `failOnRevert` (default false), `transmitChecker` (optional JSON, passed
 * through as is). The task does not sign or send: it returns the sink's reply (`{ id, ... }`)
 * so the runner can record it.
 */
import type { Address, Hex } from 'viem'
import { errorMessage } from '../../errors.ts'
import {
  defineTask,
  paramBool,
  paramJson,
  paramOptionalIntegerInRange,
  paramString,
  rawParam,
} from '../params.ts'
import { ok, TaskError } from '../task.ts'
import { toAddressParam, toHexData } from './eth-abi.ts'

export type TxRequest = {
  to: Address
  data: Hex
  gasLimit?: bigint
  minConfirmations: number
  evmChainID: bigint
  failOnRevert: boolean
  /** The job's transmitChecker, parsed from JSON, when given. */
  transmitChecker?: unknown
  runId: string
  taskId: string
}

export type TxSubmission = { id: string }

/** Where `ethtx` hands its transaction (the node's transaction manager). */
export type TxSink = {
  submit(req: TxRequest): Promise<TxSubmission>
}

const UINT64_MAX = (1n << 64n) - 1n
const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'

export const ethtxTask = defineTask({
  type: 'ethtx',
  params: [
    'to',
    'data',
    'gasLimit',
    'minConfirmations',
    'evmChainID',
    'failOnRevert',
    'transmitChecker',
  ],
  async run(ctx) {
    const to = toAddressParam('to', paramString(ctx, 'to'))
    if (to === ZERO_ADDRESS) throw new TaskError('is the zero address', { param: 'to' })
    const rawData = rawParam(ctx, 'data')
    if (rawData === undefined) throw new TaskError('is required', { param: 'data' })
    const data = toHexData('data', rawData)
    const gasLimit = paramOptionalIntegerInRange(ctx, 'gasLimit', 1n, UINT64_MAX)
    const minConfirmations = Number(
      paramOptionalIntegerInRange(ctx, 'minConfirmations', 0n, BigInt(Number.MAX_SAFE_INTEGER)) ??
        0n,
    )
    const evmChainID =
      paramOptionalIntegerInRange(ctx, 'evmChainID', 1n, (1n << 256n) - 1n) ?? ctx.deps.evmChainID
    if (evmChainID === undefined) {
      throw new TaskError('is required: the job has no default chain id', { param: 'evmChainID' })
    }
    const failOnRevert = paramBool(ctx, 'failOnRevert', false)
    const transmitChecker =
      ctx.params.transmitChecker === undefined || ctx.params.transmitChecker.trim() === ''
        ? undefined
        : paramJson(ctx, 'transmitChecker')
    const sink = ctx.deps.txSink
    if (!sink) throw new TaskError('no transaction sink is configured for ethtx')

    const req: TxRequest = {
      to,
      data,
      ...(gasLimit !== undefined ? { gasLimit } : {}),
      minConfirmations,
      evmChainID,
      failOnRevert,
      ...(transmitChecker !== undefined ? { transmitChecker } : {}),
      runId: ctx.runId,
      taskId: ctx.id,
    }
    let reply: TxSubmission
    try {
      reply = await sink.submit(req)
    } catch (cause) {
      throw new TaskError(`submitting the transaction to ${to} failed: ${errorMessage(cause)}`, {
        cause,
        retryable: (cause as { retryable?: unknown })?.retryable === true,
      })
    }
    if (reply === null || typeof reply !== 'object' || typeof reply.id !== 'string') {
      throw new TaskError('the transaction sink replied without a transaction id')
    }
    return ok(reply)
  },
})
