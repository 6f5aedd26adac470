import { invert, mod } from '@noble/curves/abstract/modular'
import { secp256k1 } from '@noble/curves/secp256k1'
import {
  type Address,
  getAddress,
  type Hex,
  hashMessage,
  hexToBigInt,
  keccak256,
  recoverPublicKey,
  sliceHex,
} from 'viem'
import { type CurvePoint, parsePoint } from '../crypto/dkg.ts'
import { Q } from '../crypto/schnorr.ts'

/**
 * The OCA round's signature checks without repeated work (bench:oca, issue 7): the public points
 * a member multiplies in every round — the committee's share keys Y_j and the members' oracle
 * keys — are parsed once and given a precomputed multiplication table (noble's `precompute`),
 * which makes `multiply` several times faster. Everything cached is public. Only `multiply`
 * (constant time, table-aware) is used on cached points: noble 1.9's `multiplyUnsafe` gives wrong
 * results on points with a table (also noted in src/crypto/dkg.ts for G).
 */

const Point = secp256k1.ProjectivePoint
const G = Point.BASE
const P_FIELD = secp256k1.CURVE.Fp.ORDER
/** Window of the tables: 8 as noble uses for G (≈ 0.6 MB and 20 ms per point, once). */
const WINDOW = 8
/** Cached points at most (public keys of the committees this process serves). */
const MAX_CACHED = 4096

const points = new Map<string, CurvePoint>()
const oracleKeys = new Map<string, CurvePoint>()

function remember<K>(map: Map<K, CurvePoint>, key: K, point: CurvePoint): CurvePoint {
  if (map.size >= MAX_CACHED) map.delete(map.keys().next().value as K)
  map.set(key, point)
  return point
}

/** `hex` (a compressed public point) parsed, with a multiplication table. */
export function tabledPoint(hex: Hex): CurvePoint {
  const key = hex.toLowerCase()
  const cached = points.get(key)
  if (cached) return cached
  const p = parsePoint(hex)
  secp256k1.utils.precompute(WINDOW, p)
  return remember(points, key, p)
}

const addressOf = (uncompressed: Hex): Address =>
  getAddress(sliceHex(keccak256(sliceHex(uncompressed, 1)), 12))

/**
 * Whether `signature` (65 bytes r‖s‖v, EIP-191 over `digest`) recovers to `oracle`, as
 * `recoverMessageAddress` (and `ecrecover`) decide it. The first signature of an oracle is
 * recovered (its public key is then kept, with a table); later ones are checked against the kept
 * key: with R = lift(r, v), recovery gives P exactly when s⁻¹·(h·G + r·P) = R, i.e. that point's
 * x is r and its y has v's parity.
 */
export async function signedBy(digest: Hex, signature: Hex, oracle: Address): Promise<boolean> {
  try {
    if (signature.length !== 132) return false
    const hash = hashMessage({ raw: digest })
    const key = getAddress(oracle)
    const P = oracleKeys.get(key)
    if (P) {
      const r = hexToBigInt(sliceHex(signature, 0, 32))
      const s = hexToBigInt(sliceHex(signature, 32, 64))
      const v = hexToBigInt(sliceHex(signature, 64, 65))
      const bit = v === 0n || v === 27n ? 0n : v === 1n || v === 28n ? 1n : undefined
      if (bit === undefined || r <= 0n || r >= Q || s <= 0n || s >= Q) return false
      const sInv = invert(s, Q)
      const u1 = mod(hexToBigInt(hash) * sInv, Q)
      const u2 = mod(r * sInv, Q)
      if (u1 !== 0n) {
        const X = G.multiply(u1).add(P.multiply(u2))
        if (X.equals(Point.ZERO)) return false
        const { x, y } = X.toAffine()
        return x === r && r < P_FIELD && (y & 1n) === bit
      }
      // h ≡ 0 (never in practice): recover below.
    }
    const publicKey = await recoverPublicKey({ hash, signature })
    if (addressOf(publicKey) !== key) return false
    if (!P) {
      const point = Point.fromHex(publicKey.slice(2))
      secp256k1.utils.precompute(WINDOW, point)
      remember(oracleKeys, key, point)
    }
    return true
  } catch {
    return false
  }
}
