import { mod } from '@noble/curves/abstract/modular'
import { secp256k1 } from '@noble/curves/secp256k1'
import { type Hex, hexToBigInt, toHex } from 'viem'
import {
  type CurvePoint,
  DkgError,
  evaluateCommitments,
  evaluatePolynomial,
  type PossessionProof,
  parsePoint,
  pointHex,
  proveKnowledge,
  randomScalar,
} from './dkg.ts'
import { Q } from './schnorr.ts'
import { lagrangeAtZero } from './threshold.ts'

/**
 * Resharing the group key to a new committee (issue 7, DKG item: "resharing when the committee
 * changes keeps Y"). The old committee holds shares x_i of the group secret x on a polynomial of
 * degree t−1, with public share keys Y_i = x_i·G. Each old member i that takes part deals a fresh
 * polynomial b_i of degree t'−1 (t' the new threshold) whose constant term is its own share,
 * b_i(0) = x_i, and broadcasts Feldman commitments D_ik = b_ik·G. Anyone checks D_i0 = Y_i: a
 * dealer cannot deal anything but its real share. New member j gets s_ij = b_i(j) privately,
 * checks it against the commitments, complains otherwise; a dealer that does not answer a
 * complaint with a share that checks is disqualified. With QUAL the dealers left (at least t),
 * new member j's share is x'_j = Σ_{i∈QUAL} λ_i·s_ij (λ_i the Lagrange coefficients of QUAL at
 * 0): the new shares lie on Σ λ_i·b_i, whose constant term is Σ λ_i·x_i = x. The group key Y is
 * unchanged (the aggregator keeps verifying with it), the new share keys Y'_j follow from the
 * commitments, and old shares are useless with new ones (another polynomial).
 *
 * Like src/crypto/dkg.ts this is the participants' state without transport: the caller carries
 * the broadcasts, private shares, complaints and answers, and must make sure every new member
 * saw the same broadcasts (compare `transcript` digests) before using the new shares.
 */

const Point = secp256k1.ProjectivePoint

export type ReshareParameters = {
  /** The old committee: share keys Y_1..Y_n (index − 1) and threshold t. */
  oldShareKeys: readonly Hex[]
  oldT: number
  /** The group key the old shares make up (it stays). */
  groupKey: Hex
  /** The new committee's size and threshold. */
  newN: number
  newT: number
  /** Binds proofs to this resharing (the new configuration). */
  context: Hex
}

/** What an old member broadcasts. */
export type ReshareDeal = { dealer: number; commitments: Hex[] }

export type ReshareComplaint = { accuser: number; dealer: number }
export type ReshareAnswer = { dealer: number; accuser: number; share: Hex }

export type ReshareResult = {
  /** The old members whose deals make up the new shares (ascending). */
  qualified: number[]
  /** This new member's share x'_j. */
  secretShare: bigint
  /** Y'_1..Y'_{n'} (index − 1), compressed. */
  shareKeys: Hex[]
  /** The group key: the same as before. */
  groupKey: CurvePoint
  /** Proof of possession of x'_j for Y'_j (label "share", as after a DKG). */
  shareProof: PossessionProof
}

function checkParameters(p: ReshareParameters): void {
  const n = p.oldShareKeys.length
  if (!(Number.isInteger(p.oldT) && p.oldT >= 1 && p.oldT <= n))
    throw new DkgError(`the old threshold ${p.oldT} must lie in 1..${n}`)
  if (!(Number.isInteger(p.newN) && p.newN >= 1 && p.newN <= 255))
    throw new DkgError(`the new committee size ${p.newN} must lie in 1..255`)
  if (!(Number.isInteger(p.newT) && p.newT >= 1 && p.newT <= p.newN))
    throw new DkgError(`the new threshold ${p.newT} must lie in 1..${p.newN}`)
}

/**
 * Old member `dealer` deals its share `secretShare` to the new committee: the broadcast and the
 * private share of each new member (index − 1). Refuses a share that is not the dealer's.
 */
export function dealReshare(
  params: ReshareParameters,
  dealer: number,
  secretShare: bigint,
  random: () => bigint = randomScalar,
): { deal: ReshareDeal; shares: Hex[] } {
  checkParameters(params)
  const own = params.oldShareKeys[dealer - 1]
  if (own === undefined) throw new DkgError(`dealer ${dealer} is not in the old committee`)
  if (!Point.BASE.multiply(secretShare).equals(parsePoint(own)))
    throw new DkgError(`the share given to dealer ${dealer} is not the one of its share key`)
  const coefficients = [secretShare, ...Array.from({ length: params.newT - 1 }, () => random())]
  return {
    deal: {
      dealer,
      commitments: coefficients.map((a) => pointHex(Point.BASE.multiply(a))),
    },
    shares: Array.from({ length: params.newN }, (_, j) =>
      toHex(evaluatePolynomial(coefficients, j + 1), { size: 32 }),
    ),
  }
}

/** Why a deal is invalid (wrong size, a bad point, or a constant term that is not Y_dealer). */
export function reshareDealProblem(
  params: ReshareParameters,
  deal: ReshareDeal,
): string | undefined {
  const own = params.oldShareKeys[deal.dealer - 1]
  if (own === undefined) return `dealer ${deal.dealer} is not in the old committee`
  if (deal.commitments.length !== params.newT)
    return `dealer ${deal.dealer} committed to ${deal.commitments.length} coefficients, not ${params.newT}`
  try {
    const points = deal.commitments.map(parsePoint)
    if (!points[0]!.equals(parsePoint(own)))
      return `dealer ${deal.dealer} dealt another secret than its share (D_0 ≠ Y_${deal.dealer})`
  } catch (err) {
    return `dealer ${deal.dealer} sent a commitment that is not a point: ${(err as Error).message}`
  }
  return undefined
}

/** Whether new member `j`'s share from a (valid) deal matches its commitments. */
export function verifyReshareShare(deal: ReshareDeal, j: number, share: Hex): boolean {
  try {
    const s = hexToBigInt(share)
    if (s <= 0n || s >= Q) return false
    return Point.BASE.multiply(s).equals(evaluateCommitments(deal.commitments.map(parsePoint), j))
  } catch {
    return false
  }
}

/**
 * One new member's side: collects deals, its private shares, complaints and answers, then
 * `finish()` computes its new share. The phases follow the DKG's: deals and shares, then
 * complaints (`complaints()` lists this member's), then answers; dealers with an invalid deal, or
 * a complaint not answered with a share that checks, are left out.
 */
export function createReshareReceiver(
  params: ReshareParameters & { index: number; random?: () => bigint },
) {
  checkParameters(params)
  const j = params.index
  if (!(Number.isInteger(j) && j >= 1 && j <= params.newN))
    throw new DkgError(`new member index ${j} must lie in 1..${params.newN}`)
  const deals = new Map<number, ReshareDeal>()
  const shares = new Map<number, bigint>()
  const refused = new Map<number, string>()
  const openComplaints = new Map<number, Set<number>>() // dealer → accusers

  return {
    index: j,
    /** A dealer's broadcast; an invalid one disqualifies the dealer (reason kept). */
    receiveDeal(deal: ReshareDeal): void {
      if (deals.has(deal.dealer) || refused.has(deal.dealer)) return
      const problem = reshareDealProblem(params, deal)
      if (problem) refused.set(deal.dealer, problem)
      else deals.set(deal.dealer, deal)
    },
    receiveShare(dealer: number, share: Hex): void {
      if (!shares.has(dealer)) shares.set(dealer, hexToBigInt(share))
    },
    /** This member's complaints: dealers whose deal arrived but whose share is missing or wrong. */
    complaints(): ReshareComplaint[] {
      const out: ReshareComplaint[] = []
      for (const [dealer, deal] of deals) {
        const s = shares.get(dealer)
        if (s === undefined || !verifyReshareShare(deal, j, toHex(s, { size: 32 })))
          out.push({ accuser: j, dealer })
      }
      return out
    },
    /** Everyone's complaints (the broadcast ones, this member's included). */
    receiveComplaint(c: ReshareComplaint): void {
      let set = openComplaints.get(c.dealer)
      if (!set) {
        set = new Set()
        openComplaints.set(c.dealer, set)
      }
      set.add(c.accuser)
    },
    /** A dealer's public answer to a complaint: the accuser's share, checked against its deal. */
    receiveAnswer(a: ReshareAnswer): void {
      const deal = deals.get(a.dealer)
      const accusers = openComplaints.get(a.dealer)
      if (!deal || !accusers?.has(a.accuser)) return
      if (!verifyReshareShare(deal, a.accuser, a.share)) return
      accusers.delete(a.accuser)
      if (a.accuser === j) shares.set(a.dealer, hexToBigInt(a.share))
    },
    /** Dealers left out so far, with the reason. */
    disqualified(): Map<number, string> {
      const out = new Map(refused)
      for (const [dealer, accusers] of openComplaints)
        if (accusers.size > 0 && !out.has(dealer))
          out.set(
            dealer,
            `dealer ${dealer} did not answer the complaint of ${[...accusers].join(', ')}`,
          )
      return out
    },
    finish(): ReshareResult {
      const out = this.disqualified()
      const qualified = [...deals.keys()].filter((d) => !out.has(d)).sort((a, b) => a - b)
      if (qualified.length < params.oldT)
        throw new DkgError(
          `only ${qualified.length} old members dealt valid shares; ${params.oldT} are needed`,
          {
            details: [...out.values()].join('; ') || undefined,
          },
        )
      let secretShare = 0n
      for (const i of qualified) {
        const s = shares.get(i)
        if (s === undefined || !verifyReshareShare(deals.get(i)!, j, toHex(s, { size: 32 })))
          throw new DkgError(`the share from dealer ${i} is missing or wrong and was not answered`)
        secretShare = mod(secretShare + lagrangeAtZero(i, qualified) * s, Q)
      }
      const result = reshareKeys(
        params,
        qualified.map((i) => deals.get(i)!),
      )
      if (!Point.BASE.multiply(secretShare).equals(parsePoint(result.shareKeys[j - 1]!)))
        throw new DkgError('the new share does not match its share key')
      return {
        qualified,
        secretShare,
        shareKeys: result.shareKeys,
        groupKey: result.groupKey,
        shareProof: proveKnowledge(secretShare, params.context, 'share', j, params.random),
      }
    },
  }
}

export type ReshareReceiver = ReturnType<typeof createReshareReceiver>

/**
 * The public outcome of a resharing from the qualified deals (anyone can compute it): the new
 * share keys, and the group key — checked to be the old one.
 */
export function reshareKeys(
  params: ReshareParameters,
  qualifiedDeals: readonly ReshareDeal[],
): { shareKeys: Hex[]; groupKey: CurvePoint } {
  const set = qualifiedDeals.map((d) => d.dealer)
  const weighted = qualifiedDeals.map((d) => ({
    lambda: lagrangeAtZero(d.dealer, set),
    commitments: d.commitments.map(parsePoint),
  }))
  let groupKey = Point.ZERO
  for (const w of weighted) groupKey = groupKey.add(w.commitments[0]!.multiply(w.lambda))
  if (!groupKey.equals(parsePoint(params.groupKey)))
    throw new DkgError('the reshared key is not the group key', {
      details: 'the old share keys do not make up the group key, or a deal is invalid',
    })
  const shareKeys = Array.from({ length: params.newN }, (_, idx) => {
    let acc = Point.ZERO
    for (const w of weighted)
      acc = acc.add(evaluateCommitments(w.commitments, idx + 1).multiply(w.lambda))
    return pointHex(acc)
  })
  return { shareKeys, groupKey }
}
