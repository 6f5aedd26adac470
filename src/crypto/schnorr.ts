import { mod } from '@noble/curves/abstract/modular'
import { secp256k1 } from '@noble/curves/secp256k1'
import {
  type Address,
  encodePacked,
  getAddress,
  type Hex,
  hexToBigInt,
  keccak256,
  toHex,
} from 'viem'
import { BaseError } from '../errors.ts'

/**
 * Schnorr signatures over secp256k1 that a contract verifies with one `ecrecover`
 * (DESIGN.md §5; `contracts/crypto/Schnorr.sol` is the verifier).
 *
 * Key: secret x, public P = x·G, written (px, parity of P's y). Signature (s, R_addr): a nonce
 * k, R = k·G, R_addr = the Ethereum address of R, challenge
 * `e = keccak256(abi.encodePacked(px, uint8 parity, message, R_addr)) mod Q`, s = k + e·x mod Q.
 * It is valid when the address of s·G − e·P is R_addr. `ecrecover(h, v, r, σ)` returns the
 * address of r⁻¹(σ·R' − h·G) for the point R' with x = r and y parity v − 27; with r = px,
 * v = 27 + parity, σ = −e·px and h = −s·px (mod Q) that is s·G − e·P, so one precompile call
 * checks the signature. Signatures with s = 0 or s ≥ Q, a zero nonce address, keys with px = 0
 * or px ≥ Q (ecrecover needs r < Q; such keys occur with probability ≈ 2⁻¹²⁸ and are refused
 * when made), and e = 0 are refused.
 *
 * The message is a 32-byte hash the caller has already domain-separated (chain, contract,
 * configuration, round); this module adds no context of its own.
 */

export const Q = secp256k1.CURVE.n
const Point = secp256k1.ProjectivePoint
type PointType = InstanceType<typeof Point>

export class SchnorrError extends BaseError {
  override name = 'SchnorrError'
}

/** A public key as the verifier takes it: P's x coordinate and the parity of its y. */
export type SchnorrPublicKey = { x: bigint; parity: 0 | 1 }

/** A signature: `s` and the address of the nonce point R. */
export type SchnorrSignature = { s: bigint; nonceAddress: Address }

/** The Ethereum address of a point (last 20 bytes of keccak256 of x ‖ y). */
export function pointAddress(point: PointType): Address {
  const uncompressed = point.toRawBytes(false)
  return getAddress(`0x${keccak256(uncompressed.subarray(1)).slice(-40)}`)
}

export function toPublicKey(point: PointType): SchnorrPublicKey {
  const { x, y } = point.toAffine()
  return { x, parity: Number(y & 1n) as 0 | 1 }
}

/** The point of a public key; throws for an x that is not on the curve. */
export function publicKeyPoint(key: SchnorrPublicKey): PointType {
  const prefix = key.parity === 0 ? '02' : '03'
  try {
    return Point.fromHex(`${prefix}${key.x.toString(16).padStart(64, '0')}`)
  } catch (cause) {
    throw new SchnorrError('the public key is not a point of secp256k1', { cause })
  }
}

/** Whether the verifier can check signatures under this key (0 < px < Q). */
export function isVerifiableKey(key: SchnorrPublicKey): boolean {
  return key.x > 0n && key.x < Q
}

/** P = x·G for a secret in [1, Q−1]. */
export function publicKeyOf(secret: bigint): SchnorrPublicKey {
  if (secret <= 0n || secret >= Q) throw new SchnorrError('the secret must lie in [1, Q−1]')
  return toPublicKey(Point.BASE.multiply(secret))
}

/** A random secret whose public key the verifier accepts. */
export function randomSecret(): bigint {
  for (;;) {
    const secret = mod(hexToBigInt(toHex(secp256k1.utils.randomPrivateKey())), Q)
    if (secret !== 0n && isVerifiableKey(publicKeyOf(secret))) return secret
  }
}

/** e = keccak256(abi.encodePacked(px, uint8 parity, message, nonceAddress)) mod Q. */
export function challenge(key: SchnorrPublicKey, message: Hex, nonceAddress: Address): bigint {
  return mod(
    hexToBigInt(
      keccak256(
        encodePacked(
          ['uint256', 'uint8', 'bytes32', 'address'],
          [key.x, key.parity, message, nonceAddress],
        ),
      ),
    ),
    Q,
  )
}

/**
 * Signs `message` (32 bytes) with `secret`. `nonce` is for test vectors and threshold signing;
 * by default a fresh random one. A nonce must never sign two different messages.
 */
export function sign(secret: bigint, message: Hex, nonce?: bigint): SchnorrSignature {
  const key = publicKeyOf(secret)
  if (!isVerifiableKey(key)) throw new SchnorrError('this key cannot be verified on chain (px ≥ Q)')
  for (;;) {
    const k = nonce ?? mod(hexToBigInt(toHex(secp256k1.utils.randomPrivateKey())), Q)
    if (k === 0n) throw new SchnorrError('the nonce must not be zero')
    const nonceAddress = pointAddress(Point.BASE.multiply(k))
    const e = challenge(key, message, nonceAddress)
    const s = mod(k + e * secret, Q)
    if (e !== 0n && s !== 0n) return { s, nonceAddress }
    if (nonce !== undefined) throw new SchnorrError('this nonce gives a degenerate signature')
  }
}

/** Checks a signature exactly as the contract does. */
export function verify(key: SchnorrPublicKey, message: Hex, sig: SchnorrSignature): boolean {
  if (!isVerifiableKey(key)) return false
  if (sig.s <= 0n || sig.s >= Q) return false
  if (hexToBigInt(sig.nonceAddress) === 0n) return false
  let P: PointType
  try {
    P = publicKeyPoint(key)
  } catch {
    return false
  }
  const e = challenge(key, message, sig.nonceAddress)
  if (e === 0n) return false
  // s·G − e·P; the identity has no address (ecrecover fails on it too).
  const R = Point.BASE.multiply(sig.s).add(P.multiply(e).negate())
  if (R.equals(Point.ZERO)) return false
  return pointAddress(R) === getAddress(sig.nonceAddress)
}
