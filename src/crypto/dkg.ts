import { mod } from '@noble/curves/abstract/modular'
import { secp256k1 } from '@noble/curves/secp256k1'
import { encodePacked, type Hex, hexToBigInt, keccak256, toHex } from 'viem'
import { BaseError } from '../errors.ts'
import { Q } from './schnorr.ts'

/**
 * Distributed key generation (issue 7): Joint-Feldman verifiable secret sharing with complaints
 * and disqualification, in the style of Gennaro, Jarecki, Krawczyk and Rabin, over secp256k1.
 * Every participant deals a random polynomial of degree t−1 (t = f+1), broadcasts Feldman
 * commitments to its coefficients with a proof of knowledge of its constant term, and sends
 * each other participant its share privately. A participant whose share does not match the
 * commitments complains; the dealer must answer by publishing that share, or it is disqualified.
 * The qualified dealers' polynomials sum to the group's: participant j holds
 * x_j = Σ_{i∈QUAL} a_i(j), its share key is Y_j = x_j·G (computable by anyone from the
 * commitments) and the group key is Y = Σ_{i∈QUAL} a_i(0)·G. Nobody ever holds the group secret.
 *
 * This module is the state of one participant, without any transport: the caller delivers the
 * broadcasts, private shares, complaints and answers (src/oca/ over src/p2p/). It assumes the
 * broadcasts are the same for everyone (the caller's broadcast layer must ensure it, e.g. by
 * comparing `transcriptDigest()` before using the key). Joint-Feldman lets a rushing adversary
 * bias the group key slightly; that does not weaken threshold Schnorr signatures (Gennaro et
 * al., "Secure applications of Pedersen's distributed key generation protocol", 2003).
 */

const Point = secp256k1.ProjectivePoint
export type CurvePoint = InstanceType<typeof Point>

export class DkgError extends BaseError {
  override name = 'DkgError'
}

/** A proof of knowledge of the discrete log of a point, bound to a context. */
export type PossessionProof = { commitment: Hex; z: Hex }

/** What a dealer broadcasts. Points are compressed hex. */
export type DealBroadcast = {
  dealer: number
  /** Feldman commitments C_k = a_k·G, k = 0..t−1. */
  commitments: Hex[]
  /** Proof of knowledge of a_0 for C_0: no dealer can pick its constant term's point after seeing others'. */
  proof: PossessionProof
}

export type Complaint = { accuser: number; dealer: number }
export type ComplaintAnswer = { dealer: number; accuser: number; share: Hex }

export type DkgResult = {
  /** The dealers whose polynomials make up the key (ascending). */
  qualified: number[]
  /** This participant's secret share x_j. */
  secretShare: bigint
  /** Y_1..Y_n (index − 1), compressed hex. */
  shareKeys: Hex[]
  /** The group key Y. */
  groupKey: CurvePoint
  /** Proof that this participant holds the secret of its share key. */
  shareProof: PossessionProof
}

export type DkgParameters = {
  /** Committee size. */
  n: number
  /** Shares needed to sign (f+1). */
  t: number
  /** This participant's index, 1..n. */
  index: number
  /** Binds every proof to this run (chain id, contract, configuration, purpose). */
  context: Hex
  /** Randomness (tests); secure random scalars by default. */
  random?: () => bigint
}

export function randomScalar(): bigint {
  for (;;) {
    const k = mod(hexToBigInt(toHex(secp256k1.utils.randomPrivateKey())), Q)
    if (k !== 0n) return k
  }
}

export function pointHex(p: CurvePoint): Hex {
  return toHex(p.toRawBytes(true))
}

export function parsePoint(hex: Hex): CurvePoint {
  try {
    const p = Point.fromHex(hex.slice(2))
    if (p.equals(Point.ZERO)) throw new Error('the identity')
    return p
  } catch (cause) {
    throw new DkgError(`not a point of secp256k1: ${hex.slice(0, 20)}…`, { cause })
  }
}

/** Σ_k C_k·j^k: the point of share j under commitments C. */
export function evaluateCommitments(commitments: CurvePoint[], j: number): CurvePoint {
  let acc = Point.ZERO
  let power = 1n
  for (const c of commitments) {
    acc = acc.add(c.multiplyUnsafe(power))
    power = mod(power * BigInt(j), Q)
  }
  return acc
}

export function evaluatePolynomial(coefficients: bigint[], j: number): bigint {
  let acc = 0n
  for (let k = coefficients.length - 1; k >= 0; k--)
    acc = mod(acc * BigInt(j) + coefficients[k]!, Q)
  return acc
}

function proofChallenge(
  context: Hex,
  label: string,
  index: number,
  key: CurvePoint,
  commitment: CurvePoint,
) {
  return mod(
    hexToBigInt(
      keccak256(
        encodePacked(
          ['string', 'bytes32', 'string', 'uint32', 'bytes', 'bytes'],
          ['orakel/dkg/v1', context, label, index, pointHex(key), pointHex(commitment)],
        ),
      ),
    ),
    Q,
  )
}

/** Proves knowledge of `secret` for `secret·G`, bound to context, label and index. */
export function proveKnowledge(
  secret: bigint,
  context: Hex,
  label: string,
  index: number,
  random: () => bigint = randomScalar,
): PossessionProof {
  const r = random()
  const commitment = Point.BASE.multiply(r)
  const c = proofChallenge(context, label, index, Point.BASE.multiply(secret), commitment)
  return { commitment: pointHex(commitment), z: toHex(mod(r + c * secret, Q), { size: 32 }) }
}

export function verifyKnowledge(
  key: CurvePoint,
  proof: PossessionProof,
  context: Hex,
  label: string,
  index: number,
): boolean {
  try {
    const commitment = parsePoint(proof.commitment)
    const z = hexToBigInt(proof.z)
    if (z <= 0n || z >= Q) return false
    const c = proofChallenge(context, label, index, key, commitment)
    // key·c: public values only, so the faster variable-time multiplication is safe. (G·z keeps
    // `multiply`, which uses G's precomputed table; `multiplyUnsafe` on G gave wrong results
    // for some scalars in @noble/curves 1.9.1.)
    return Point.BASE.multiply(z).equals(commitment.add(key.multiplyUnsafe(c)))
  } catch {
    return false
  }
}

/** Checks a share key's proof of possession (a rogue share key without one is refused). */
export function verifyShareKeyProof(
  shareKey: Hex,
  proof: PossessionProof,
  context: Hex,
  index: number,
): boolean {
  try {
    return verifyKnowledge(parsePoint(shareKey), proof, context, 'share', index)
  } catch {
    return false
  }
}

export function createDkgParticipant(params: DkgParameters) {
  const { n, t, index, context } = params
  if (!(Number.isInteger(n) && n >= 1 && Number.isInteger(t) && t >= 1 && t <= n)) {
    throw new DkgError(`invalid committee: n = ${n}, t = ${t}`)
  }
  if (!(Number.isInteger(index) && index >= 1 && index <= n)) {
    throw new DkgError(`invalid participant index ${index} for n = ${n}`)
  }
  const random = params.random ?? randomScalar
  const coefficients = Array.from({ length: t }, () => random())

  /** Valid broadcasts by dealer, parsed. */
  const dealt = new Map<number, CurvePoint[]>()
  /** Why a dealer is out. */
  const disqualified = new Map<number, string>()
  /** The shares this participant received (verified or not yet). */
  const received = new Map<number, bigint>()
  /** Complaints by dealer, then accuser. */
  const complaints = new Map<number, Set<number>>()
  /** Answered complaints: (dealer, accuser) → the share published. */
  const answered = new Map<string, bigint>()

  const disqualify = (dealer: number, reason: string) => {
    if (!disqualified.has(dealer)) disqualified.set(dealer, reason)
  }
  const shareIsValid = (dealer: number, j: number, share: bigint) => {
    const commitments = dealt.get(dealer)
    if (!commitments || share < 0n || share >= Q) return false
    const expected = evaluateCommitments(commitments, j)
    return share === 0n ? expected.equals(Point.ZERO) : Point.BASE.multiply(share).equals(expected)
  }

  return {
    index,
    /** This participant's broadcast and the private share for every other participant. */
    deal(): { broadcast: DealBroadcast; shares: Map<number, Hex> } {
      const commitments = coefficients.map((a) => pointHex(Point.BASE.multiply(a)))
      const proof = proveKnowledge(coefficients[0]!, context, 'dealer', index, random)
      const shares = new Map<number, Hex>()
      for (let j = 1; j <= n; j++) {
        shares.set(j, toHex(evaluatePolynomial(coefficients, j), { size: 32 }))
      }
      return { broadcast: { dealer: index, commitments, proof }, shares }
    },

    /** A dealer's broadcast. Malformed commitments or a bad proof disqualify the dealer. */
    receiveBroadcast(b: DealBroadcast): void {
      const dealer = b.dealer
      if (!(Number.isInteger(dealer) && dealer >= 1 && dealer <= n)) return
      if (dealt.has(dealer) || disqualified.has(dealer)) return
      if (!Array.isArray(b.commitments) || b.commitments.length !== t) {
        disqualify(dealer, `it committed to ${b.commitments?.length} coefficients, not ${t}`)
        return
      }
      let points: CurvePoint[]
      try {
        points = b.commitments.map(parsePoint)
      } catch (err) {
        disqualify(dealer, `a commitment is not a curve point (${(err as Error).message})`)
        return
      }
      if (!verifyKnowledge(points[0]!, b.proof, context, 'dealer', dealer)) {
        disqualify(dealer, 'its proof of knowledge of its constant term is invalid')
        return
      }
      dealt.set(dealer, points)
    },

    /** The share dealer `dealer` sent this participant privately. */
    receiveShare(dealer: number, share: Hex): void {
      received.set(dealer, hexToBigInt(share))
    },

    /**
     * After the dealing phase: complaints against every dealer whose broadcast arrived but whose
     * share to this participant is missing or does not match its commitments. Dealers without a
     * valid broadcast are out already.
     */
    complaints(): Complaint[] {
      const out: Complaint[] = []
      for (let dealer = 1; dealer <= n; dealer++) {
        if (!dealt.has(dealer)) {
          disqualify(dealer, disqualified.get(dealer) ?? 'no broadcast arrived')
          continue
        }
        const share = received.get(dealer)
        if (share === undefined || !shareIsValid(dealer, index, share)) {
          out.push({ accuser: index, dealer })
        }
      }
      return out
    },

    /** A complaint someone broadcast (including this participant's own). */
    receiveComplaint(c: Complaint): void {
      if (c.accuser < 1 || c.accuser > n || c.dealer < 1 || c.dealer > n) return
      const set = complaints.get(c.dealer) ?? new Set<number>()
      set.add(c.accuser)
      complaints.set(c.dealer, set)
    },

    /** This participant's answers to the complaints against it: the shares, published. */
    answers(): ComplaintAnswer[] {
      return [...(complaints.get(index) ?? [])].map((accuser) => ({
        dealer: index,
        accuser,
        share: toHex(evaluatePolynomial(coefficients, accuser), { size: 32 }),
      }))
    },

    /** A dealer's published answer; a wrong share disqualifies the dealer. */
    receiveAnswer(a: ComplaintAnswer): void {
      if (!complaints.get(a.dealer)?.has(a.accuser)) return
      const share = hexToBigInt(a.share)
      if (!shareIsValid(a.dealer, a.accuser, share)) {
        disqualify(
          a.dealer,
          `its published share for participant ${a.accuser} does not match its commitments`,
        )
        return
      }
      answered.set(`${a.dealer}/${a.accuser}`, share)
      if (a.accuser === index) received.set(a.dealer, share)
    },

    /**
     * After the answers: dealers with an unanswered complaint are disqualified; the rest make
     * the key. Throws when fewer than t dealers qualify.
     */
    finish(): DkgResult {
      for (const [dealer, accusers] of complaints) {
        for (const accuser of accusers) {
          if (!answered.has(`${dealer}/${accuser}`)) {
            disqualify(dealer, `it did not answer participant ${accuser}'s complaint`)
          }
        }
      }
      const qualified = [...dealt.keys()].filter((d) => !disqualified.has(d)).sort((a, b) => a - b)
      if (qualified.length < t) {
        throw new DkgError(`only ${qualified.length} dealers qualified; ${t} are needed`, {
          details: [...disqualified].map(([d, why]) => `dealer ${d}: ${why}`).join('; '),
        })
      }
      let secretShare = 0n
      // The group polynomial's commitments: Σ over qualified dealers, coefficient by coefficient.
      const summed = Array.from({ length: t }, () => Point.ZERO)
      for (const dealer of qualified) {
        const commitments = dealt.get(dealer)!
        const share = received.get(dealer)
        if (share === undefined || !shareIsValid(dealer, index, share)) {
          throw new DkgError(`the share from qualified dealer ${dealer} is invalid`)
        }
        secretShare = mod(secretShare + share, Q)
        for (let k = 0; k < t; k++) summed[k] = summed[k]!.add(commitments[k]!)
      }
      const groupKey = summed[0]!
      const shareKeys = Array.from({ length: n }, (_, j) => evaluateCommitments(summed, j + 1))
      if (groupKey.equals(Point.ZERO) || secretShare === 0n) {
        throw new DkgError('degenerate key (the identity); run the DKG again')
      }
      return {
        qualified,
        secretShare,
        shareKeys: shareKeys.map(pointHex),
        groupKey,
        shareProof: proveKnowledge(secretShare, context, 'share', index, random),
      }
    },

    /** Why each disqualified dealer is out. */
    disqualified(): Map<number, string> {
      return new Map(disqualified)
    },

    /** A digest of every valid broadcast, to check that all participants saw the same ones. */
    transcriptDigest(): Hex {
      const parts = [...dealt.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([d, cs]) => `${d}:${cs.map(pointHex).join(',')}`)
      return keccak256(toHex(parts.join(';')))
    },
  }
}

export type DkgParticipant = ReturnType<typeof createDkgParticipant>
