/**
 * `ethcall`: a read-only contract call (`eth_call`) through `ctx.deps.chain`.
 *
 *   call [type="ethcall" contract="0x…" data="$(encode_call)" block="latest"
 *         extractRevertReason="true"]
 *
 * Parameters: `contract` (address), `data` (hex), `gas`, `from`, `gasPrice`, `block`
 * ("latest" (default), "pending", "earliest", "safe", "finalized", or a block number),
 * `evmChainID` (defaults to the job's), `extractRevertReason` (default false). Returns the
 * call's result as a `0x` hex string. A revert is an `EthCallRevertedError` (not retryable)
 * carrying the revert data; with extractRevertReason="true" its message gives the reason:
 * the `Error(string)` text, the Panic code, or the selector of a custom error. Any other
 * failure of the reader (RPC down, ...) is a retryable TaskError.
 */

import { type Address, type Client, decodeErrorResult, type Hex } from 'viem'
import { call, getChainId } from 'viem/actions'
import { PANIC_CODES } from '../../chain/revert.ts'
import { BaseError } from '../../errors.ts'
import {
  defineTask,
  paramBool,
  paramOptionalIntegerInRange,
  paramString,
  rawParam,
  toInteger,
} from '../params.ts'
import { ok, type TaskContext, TaskError } from '../task.ts'
import { toAddressParam, toHexData, viemMessage } from './eth-abi.ts'

export type BlockTag = 'latest' | 'pending' | 'earliest' | 'safe' | 'finalized'

export type ChainCallRequest = {
  to: Address
  data: Hex
  from?: Address
  gas?: bigint
  gasPrice?: bigint
  /** At most one of blockNumber and blockTag is set; neither means "latest". */
  blockNumber?: bigint
  blockTag?: BlockTag
  /** The chain the job expects; a reader serving another chain must reject the call. */
  chainId?: bigint
  signal?: AbortSignal
}

/**
 * Read-only chain access. `call` resolves to the call's return data (`0x` when empty). On a
 * revert it rejects with an error whose `cause` chain carries the revert data as a `data` hex
 * string (viem's errors do; `ChainCallRevertedError` is provided for other readers).
 */
export type ChainReader = {
  call(req: ChainCallRequest): Promise<Hex>
}

/** What a non-viem ChainReader may throw for a revert. */
export class ChainCallRevertedError extends BaseError {
  override name = 'ChainCallRevertedError'
  readonly data: Hex
  constructor(data: Hex, message = 'execution reverted') {
    super(message)
    this.data = data
  }
}

export class ChainReaderError extends BaseError {
  override name = 'ChainReaderError'
}

/** A revert of the `ethcall` task, with its revert data and, when extracted, its reason. */
export class EthCallRevertedError extends TaskError {
  override name = 'EthCallRevertedError'
  readonly data: Hex
  readonly reason: string | undefined
  constructor(
    message: string,
    params: { data: Hex; reason?: string; details?: string; cause?: unknown },
  ) {
    super(message, { details: params.details, cause: params.cause, retryable: false })
    this.data = params.data
    this.reason = params.reason
  }
}

/**
 * A ChainReader over a viem client (public or wallet). When a request names a chain id, the
 * client's chain id (read once) must match.
 */
export function viemChainReader(client: Client): ChainReader {
  let chainId: Promise<number> | undefined
  return {
    async call(req) {
      if (req.chainId !== undefined) {
        chainId ??= getChainId(client)
        let actual: number
        try {
          actual = await chainId
        } catch (err) {
          chainId = undefined
          throw err
        }
        if (BigInt(actual) !== req.chainId) {
          throw new ChainReaderError(`the RPC serves chain ${actual}, not chain ${req.chainId}`)
        }
      }
      const { data } = await call(client, {
        to: req.to,
        data: req.data,
        ...(req.from ? { account: req.from } : {}),
        ...(req.gas !== undefined ? { gas: req.gas } : {}),
        ...(req.gasPrice !== undefined ? { gasPrice: req.gasPrice } : {}),
        ...(req.blockNumber !== undefined
          ? { blockNumber: req.blockNumber }
          : { blockTag: req.blockTag ?? 'latest' }),
        ...(req.signal ? { requestOptions: { signal: req.signal } } : {}),
      } as Parameters<typeof call>[1])
      return data ?? '0x'
    },
  }
}

const BLOCK_TAGS = new Set<string>(['latest', 'pending', 'earliest', 'safe', 'finalized'])

/**
 * The revert data carried by an error of a ChainReader, or undefined when the error is not a
 * revert. Walks the `cause` chain for a `data` hex string (or `data.data`, as some RPCs nest it).
 */
export function revertData(err: unknown): Hex | undefined {
  const seen = new Set<unknown>()
  let current: unknown = err
  let looksReverted = false
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current)
    const e = current as { data?: unknown; message?: unknown; details?: unknown }
    const data =
      typeof e.data === 'object' && e.data !== null ? (e.data as { data?: unknown }).data : e.data
    if (typeof data === 'string' && /^0x(?:[0-9a-fA-F]{2})*$/.test(data))
      return data.toLowerCase() as Hex
    if (/revert/i.test(`${String(e.message ?? '')} ${String(e.details ?? '')}`))
      looksReverted = true
    current = (current as { cause?: unknown }).cause
  }
  return looksReverted ? '0x' : undefined
}

/**
 * A person-readable reason of revert data: the `Error(string)` text, the Panic code, or the
 * selector of a custom error (which cannot be decoded without the contract's ABI).
 */
export function revertReason(data: Hex): string {
  if (data === '0x') return 'no reason given'
  try {
    const decoded = decodeErrorResult({ abi: [], data })
    if (decoded.errorName === 'Error') return String(decoded.args[0])
    if (decoded.errorName === 'Panic') {
      const code = decoded.args[0] as bigint
      const text = PANIC_CODES[Number(code)]
      return `panic 0x${code.toString(16).padStart(2, '0')}${text ? ` (${text})` : ''}`
    }
  } catch {
    // not a standard error: fall through
  }
  if (data.length >= 10) return `custom error ${data.slice(0, 10)}`
  return `malformed revert data ${data}`
}

const UINT64_MAX = (1n << 64n) - 1n
const UINT256_MAX = (1n << 256n) - 1n

function blockParam(ctx: TaskContext): { blockNumber: bigint } | { blockTag: BlockTag } {
  const raw = rawParam(ctx, 'block')
  if (raw === undefined || raw === '') return { blockTag: 'latest' }
  if (typeof raw === 'string' && BLOCK_TAGS.has(raw.trim()))
    return { blockTag: raw.trim() as BlockTag }
  if (typeof raw === 'string' && /^0x[0-9a-fA-F]+$/.test(raw.trim()))
    return { blockNumber: BigInt(raw.trim()) }
  let n: bigint
  try {
    n = toInteger('block', raw)
  } catch {
    throw new TaskError(
      `expected "latest", "pending", "earliest", "safe", "finalized" or a block number, got ${JSON.stringify(String(raw))}`,
      { param: 'block' },
    )
  }
  if (n < 0n) throw new TaskError(`block number ${n} is negative`, { param: 'block' })
  return { blockNumber: n }
}

/** `promise`, or a retryable TaskError as soon as `signal` aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  const abortError = () =>
    new TaskError('the call was aborted', { cause: signal.reason, retryable: true })
  if (signal.aborted) {
    promise.catch(() => {}) // the reader's own abort error is not interesting
    return Promise.reject(abortError())
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError())
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

export const ethcallTask = defineTask({
  type: 'ethcall',
  params: [
    'contract',
    'data',
    'gas',
    'from',
    'gasPrice',
    'block',
    'evmChainID',
    'extractRevertReason',
  ],
  async run(ctx) {
    const to = toAddressParam('contract', paramString(ctx, 'contract'))
    const rawData = rawParam(ctx, 'data')
    if (rawData === undefined) throw new TaskError('is required', { param: 'data' })
    const data = toHexData('data', rawData)
    const rawFrom = rawParam(ctx, 'from')
    const from =
      rawFrom === undefined || rawFrom === '' ? undefined : toAddressParam('from', rawFrom)
    const gas = paramOptionalIntegerInRange(ctx, 'gas', 1n, UINT64_MAX)
    const gasPrice = paramOptionalIntegerInRange(ctx, 'gasPrice', 0n, UINT256_MAX)
    const chainId =
      paramOptionalIntegerInRange(ctx, 'evmChainID', 1n, UINT256_MAX) ?? ctx.deps.evmChainID
    const extract = paramBool(ctx, 'extractRevertReason', false)
    const block = blockParam(ctx)
    const chain = ctx.deps.chain
    if (!chain) throw new TaskError('no chain reader is configured for ethcall')

    const req: ChainCallRequest = {
      to,
      data,
      ...(from ? { from } : {}),
      ...(gas !== undefined ? { gas } : {}),
      ...(gasPrice !== undefined ? { gasPrice } : {}),
      ...block,
      ...(chainId !== undefined ? { chainId } : {}),
      signal: ctx.signal,
    }
    let result: Hex
    try {
      if (ctx.signal.aborted) throw new TaskError('the call was aborted', { retryable: true })
      result = await raceAbort(chain.call(req), ctx.signal)
    } catch (err) {
      if (err instanceof TaskError) throw err
      const revert = revertData(err)
      const details = err instanceof Error ? viemMessage(err) : String(err)
      if (revert !== undefined) {
        const reason = extract ? revertReason(revert) : undefined
        throw new EthCallRevertedError(`eth_call to ${to} reverted${reason ? `: ${reason}` : ''}`, {
          data: revert,
          ...(reason ? { reason } : {}),
          details: `revert data: ${revert}`,
          cause: err,
        })
      }
      throw new TaskError(`eth_call to ${to} failed`, {
        details,
        cause: err,
        retryable: !(err instanceof ChainReaderError),
      })
    }
    if (typeof result !== 'string' || !/^0x(?:[0-9a-fA-F]{2})*$/.test(result)) {
      throw new TaskError(`eth_call to ${to} returned a malformed result`, {
        details: String(result),
      })
    }
    return ok(result.toLowerCase())
  },
})
