import { invert, mod } from '@noble/curves/abstract/modular'
import { secp256k1 } from '@noble/curves/secp256k1'
import type { Address, Hex } from 'viem'
import { BaseError } from '../errors.ts'
import { type CurvePoint, parsePoint } from './dkg.ts'
import { challenge, pointAddress, Q, type SchnorrSignature, toPublicKey } from './schnorr.ts'

/**
 * Threshold Schnorr signing (issue 7; DESIGN.md §5). The committee shares the group secret x
 * (x_i from the key DKG) and, for each signature, a nonce k (k_i from a nonce DKG whose
 * commitments give R = k·G and R_i = k_i·G to everyone). With e the challenge for the group key,
 * the message and R's address, participant i's partial signature is σ_i = k_i + e·x_i; anyone
 * checks it against the public R_i and Y_i (σ_i·G = R_i + e·Y_i), and any t valid partials
 * combine by Lagrange interpolation at 0 into s = k + e·x: an ordinary signature
 * (src/crypto/schnorr.ts) that one `ecrecover` verifies. A nonce must sign one message only:
 * two partials under the same k_i for different e reveal x_i.
 */

const Point = secp256k1.ProjectivePoint

export class ThresholdError extends BaseError {
  override name = 'ThresholdError'
}

export type Partial = { index: number; sigma: bigint }

/** λ_i for interpolating at 0 over the participant indices `set` (distinct, ≥ 1). */
export function lagrangeAtZero(i: number, set: readonly number[]): bigint {
  let num = 1n
  let den = 1n
  for (const j of set) {
    if (j === i) continue
    num = mod(num * BigInt(j), Q)
    den = mod(den * BigInt(j - i), Q)
  }
  return mod(num * invert(mod(den, Q), Q), Q)
}

/** The challenge of a threshold signature: group key, message, the nonce point's address. */
export function thresholdChallenge(
  groupKey: CurvePoint,
  message: Hex,
  nonce: CurvePoint,
): { e: bigint; nonceAddress: Address } {
  const nonceAddress = pointAddress(nonce)
  return { e: challenge(toPublicKey(groupKey), message, nonceAddress), nonceAddress }
}

/** σ_i = k_i + e·x_i. */
export function partialSign(secretShare: bigint, nonceShare: bigint, e: bigint): bigint {
  return mod(nonceShare + e * secretShare, Q)
}

/** Whether σ_i matches participant i's public share key Y_i and nonce share R_i. */
export function verifyPartial(
  shareKey: Hex | CurvePoint,
  nonceShare: Hex | CurvePoint,
  e: bigint,
  sigma: bigint,
): boolean {
  try {
    const Y = typeof shareKey === 'string' ? parsePoint(shareKey) : shareKey
    const R = typeof nonceShare === 'string' ? parsePoint(nonceShare) : nonceShare
    if (sigma <= 0n || sigma >= Q) return false
    return Point.BASE.multiply(sigma).equals(R.add(Y.multiply(e)))
  } catch {
    return false
  }
}

/** Combines t partials (distinct indices) into the signature under the group key. */
export function combine(
  partials: readonly Partial[],
  t: number,
  nonceAddress: Address,
): SchnorrSignature {
  const chosen = partials.slice(0, t)
  const set = chosen.map((p) => p.index)
  if (chosen.length < t)
    throw new ThresholdError(`${chosen.length} partial signatures; ${t} are needed`)
  if (new Set(set).size !== set.length)
    throw new ThresholdError('two partial signatures of one participant')
  let s = 0n
  for (const p of chosen) s = mod(s + lagrangeAtZero(p.index, set) * p.sigma, Q)
  if (s === 0n) throw new ThresholdError('the combined signature is zero')
  return { s, nonceAddress }
}
