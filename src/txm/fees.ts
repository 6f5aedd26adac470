import type { Fees } from './types.ts'

/**
 * The fee policy (EIP-1559 only), as pure functions. See docs/protocol/txm.md.
 *
 * - First attempt: priority = the node's `eth_maxPriorityFeePerGas`; max fee = 2 × the latest
 *   base fee + priority; both capped at the fee cap.
 * - Replacement: both fees raised by `bumpPercent` (at least the node minimum of +10%), and at
 *   least what a first attempt would pay now; capped at the fee cap. When the cap leaves less
 *   than +10% on either fee, or a max fee below the current base fee, there is no valid
 *   replacement: the caller waits and says so.
 */

/** The replacement minimum every common node enforces (geth `txpool.pricebump`). */
export const NODE_MIN_BUMP_PERCENT = 10

/** `x` raised by `percent`%, rounded up. */
export function raiseByPercent(x: bigint, percent: number): bigint {
  const p = BigInt(100 + percent)
  return (x * p + 99n) / 100n
}

const min = (a: bigint, b: bigint) => (a < b ? a : b)
const max = (a: bigint, b: bigint) => (a > b ? a : b)

export type FeeDecision = { ok: true; fees: Fees } | { ok: false; error: string }

/** The fee-cap status text a stuck transaction carries. */
export function feeCapError(feeCap: bigint, wanted: bigint): string {
  return `fee cap ${feeCap} wei reached; waiting (would need max fee ${wanted} wei)`
}

export type InitialFeesParameters = {
  /** Base fee of the latest block. */
  baseFee: bigint
  /** The node's suggested priority fee. */
  priorityFee: bigint
  feeCap: bigint
}

export function initialFees(params: InitialFeesParameters): FeeDecision {
  const wanted = params.baseFee * 2n + params.priorityFee
  const maxFeePerGas = min(wanted, params.feeCap)
  const maxPriorityFeePerGas = min(params.priorityFee, maxFeePerGas)
  // Below the base fee the transaction can never be included (and nodes refuse it).
  if (maxFeePerGas < params.baseFee) return { ok: false, error: feeCapError(params.feeCap, wanted) }
  return { ok: true, fees: { maxFeePerGas, maxPriorityFeePerGas } }
}

export type BumpFeesParameters = InitialFeesParameters & {
  previous: Fees
  bumpPercent: number
}

export function bumpFees(params: BumpFeesParameters): FeeDecision {
  const { previous, feeCap } = params
  const bump = Math.max(params.bumpPercent, NODE_MIN_BUMP_PERCENT)
  const priority = max(raiseByPercent(previous.maxPriorityFeePerGas, bump), params.priorityFee)
  const wanted = max(raiseByPercent(previous.maxFeePerGas, bump), params.baseFee * 2n + priority)
  const maxFeePerGas = min(wanted, feeCap)
  const maxPriorityFeePerGas = min(priority, maxFeePerGas)
  const valid =
    maxFeePerGas >= raiseByPercent(previous.maxFeePerGas, NODE_MIN_BUMP_PERCENT) &&
    maxPriorityFeePerGas >= raiseByPercent(previous.maxPriorityFeePerGas, NODE_MIN_BUMP_PERCENT) &&
    maxFeePerGas >= params.baseFee
  if (!valid) return { ok: false, error: feeCapError(feeCap, wanted) }
  return { ok: true, fees: { maxFeePerGas, maxPriorityFeePerGas } }
}
