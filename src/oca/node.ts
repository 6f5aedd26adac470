import { type Address, encodeAbiParameters, type Hex, hexToBigInt, keccak256, toHex } from 'viem'
import type { CurvePoint } from '../crypto/dkg.ts'
import type { SchnorrSignature } from '../crypto/schnorr.ts'
import { combine, partialSign, thresholdChallenge, verifyPartial } from '../crypto/threshold.ts'
import { BaseError } from '../errors.ts'
import {
  observationDigest,
  type Report,
  reportMessage,
  reportOf,
  type SignedObservation,
} from './report.ts'
import { signedBy, tabledPoint } from './verify-cache.ts'

/**
 * One committee member's side of an off-chain aggregation round (whitepaper Appendix A,
 * Algorithm 2, with the numeric observation round of DESIGN.md §5), without transport:
 *
 *   observe ─▶ OBSERVE to the view's leader ─▶ leader: PROPOSE ≥ 2f+1 signed observations
 *   ─▶ each member checks the proposal, signs the median report with its key share and the
 *      view's nonce share, broadcasts COMMIT(hash of its partial)
 *   ─▶ on n−f commits: the commitment set C_i goes to the provider; PREPARED broadcast
 *   ─▶ on n−f prepared: REVEAL the partial ─▶ any t = f+1 valid partials combine into Σ.
 *
 * Pacemaker: a view that yields no signature within `viewTimeoutMs` moves to the next leader
 * (leader of view v in round r: member ((r + v) mod n) + 1) with a fresh nonce, so a silent or
 * equivocating leader cannot stall the committee. A member signs at most one proposal per
 * (round, view): the nonce store records the message before the partial is computed, and after a
 * restart refuses any other message under that nonce.
 */

export class OcaError extends BaseError {
  override name = 'OcaError'
}

export type OcaMessage =
  | { type: 'observe'; round: number; view: number; from: number; observation: SignedObservation }
  | {
      type: 'propose'
      round: number
      view: number
      from: number
      observations: SignedObservation[]
    }
  | { type: 'commit'; round: number; view: number; from: number; message: Hex; commitment: Hex }
  | { type: 'prepared'; round: number; view: number; from: number; message: Hex; commitments: Hex }
  | { type: 'reveal'; round: number; view: number; from: number; message: Hex; sigma: Hex }

/** A nonce shared by the committee for one (round, view): this member's share and the points. */
export type RoundNonce = { share: bigint; point: CurvePoint; shares: Hex[] }

/** Nonces are used once: `use` records (round, view) → message before any partial is made. */
export type NonceStore = {
  get(round: number, view: number): Promise<RoundNonce>
  /** Records that the nonce signs `message`; throws if it was already used for another one. */
  use(round: number, view: number, message: Hex): Promise<void>
}

export type OcaConfig = {
  n: number
  f: number
  /** This member, 1..n. */
  index: number
  configDigest: Hex
  /** Members' oracle addresses (index − 1), which sign observations. */
  oracles: Address[]
  groupKey: CurvePoint
  /** Y_j (index − 1). */
  shareKeys: Hex[]
  secretShare: bigint
  viewTimeoutMs: number
}

export type OcaDeps = {
  observe(round: number): Promise<bigint>
  signObservation(digest: Hex): Promise<Hex>
  nonces: NonceStore
  send(to: number, message: OcaMessage): void
  broadcast(message: OcaMessage): void
  /**
   * The commitment set this member collected (n−f commitments to partials of `message`), for
   * the provider (Algorithm 3), at PREPARE: before this member reveals.
   */
  onCommitSet?(round: number, view: number, commitments: Map<number, Hex>, message: Hex): void
  /** At Σ: what this member signed and the valid partials it holds, for the provider. */
  onEvidence?(round: number, evidence: RoundEvidence): void
  /** A valid partial this member received, for the provider (PS*). */
  onPartial?(round: number, view: number, from: number, sigma: bigint): void
  onSignature(
    round: number,
    result: { report: Report; signature: SchnorrSignature; view: number; signers: number[] },
  ): void
  log?(event: string, fields: Record<string, unknown>): void
}

/** What a member hands the provider once it holds Σ (src/oca/provider.ts). */
export type RoundEvidence = {
  view: number
  report: Report
  /** The report message (what the partials sign). */
  message: Hex
  /** The proposal this member signed: the report's observations. */
  observations: SignedObservation[]
  /** Valid partials this member holds, its own included (member → σ). */
  partials: Map<number, bigint>
  /** R_1..R_n of the view's nonce. */
  nonceShares: Hex[]
  signature: SchnorrSignature
}

/** The commitment to a partial: binds digest, round, view, member and σ. */
export function partialCommitment(
  configDigest: Hex,
  round: number,
  view: number,
  index: number,
  sigma: bigint,
): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'string' },
        { type: 'bytes32' },
        { type: 'uint32' },
        { type: 'uint32' },
        { type: 'uint8' },
        { type: 'uint256' },
      ],
      ['orakel/oca/partial/v1', configDigest, round, view, index, sigma],
    ),
  )
}

export function leaderOf(round: number, view: number, n: number): number {
  return ((round + view) % n) + 1
}

type ViewState = {
  view: number
  /** As leader: valid observations received. */
  observations: Map<number, SignedObservation>
  proposed: boolean
  /** The proposal this member signed. */
  signed?: {
    report: Report
    observations: SignedObservation[]
    message: Hex
    e: bigint
    nonceAddress: Address
    sigma: bigint
    nonce: RoundNonce
  }
  /** By report message: commitments, prepared members and revealed partials seen. */
  commitments: Map<Hex, Map<number, Hex>>
  prepared: Map<Hex, Set<number>>
  reveals: Map<Hex, Map<number, bigint>>
  sentPrepared: boolean
  revealed: boolean
  /** Valid partials of the signed message. */
  partials: Map<number, bigint>
}

function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key)
  if (v === undefined) {
    v = make()
    map.set(key, v)
  }
  return v
}

type RoundState = {
  round: number
  /** When the current view became current (the pacemaker's clock for it). */
  viewStartedAt: number
  observation?: SignedObservation
  views: Map<number, ViewState>
  view: number
  done: boolean
  /** Observations whose signature this member checked already (leader: again in its proposal). */
  verified: Set<string>
  /** The nonce of a view, read ahead (view 0 at the round's start). */
  nonces: Map<number, Promise<RoundNonce>>
}

export function createOcaNode(config: OcaConfig, deps: OcaDeps) {
  const { n, f, index, configDigest } = config
  const t = f + 1
  const quorum = n - f
  const rounds = new Map<number, RoundState>()
  const log = deps.log ?? (() => {})
  const member = (i: number) => Number.isInteger(i) && i >= 1 && i <= n

  const viewOf = (r: RoundState, view: number, _now: number): ViewState => {
    let v = r.views.get(view)
    if (!v) {
      v = {
        view,
        observations: new Map(),
        proposed: false,
        commitments: new Map(),
        prepared: new Map(),
        reveals: new Map(),
        sentPrepared: false,
        revealed: false,
        partials: new Map(),
      }
      r.views.set(view, v)
    }
    return v
  }

  /** Whether `o` is signed by its member's oracle key (remembered per round once checked). */
  async function observationValid(r: RoundState, o: SignedObservation): Promise<boolean> {
    const key = `${o.index}/${o.value}/${o.signature.toLowerCase()}`
    if (r.verified.has(key)) return true
    // Its own observation, as it made it.
    const own = r.observation
    if (
      own &&
      o.index === index &&
      o.value === own.value &&
      o.signature.toLowerCase() === own.signature.toLowerCase()
    )
      return true
    const ok = await signedBy(
      observationDigest(configDigest, r.round, o.value),
      o.signature,
      config.oracles[o.index - 1] as Address,
    )
    if (ok) r.verified.add(key)
    return ok
  }

  async function validObservations(
    r: RoundState,
    list: SignedObservation[],
  ): Promise<SignedObservation[] | undefined> {
    const seen = new Set<number>()
    for (const o of list) {
      if (!member(o.index) || seen.has(o.index)) return undefined
      seen.add(o.index)
    }
    if (list.length < 2 * f + 1) return undefined
    for (const o of list) if (!(await observationValid(r, o))) return undefined
    return list
  }

  /** The nonce of (round, view), read once (ahead for view 0). */
  function nonceOf(r: RoundState, view: number): Promise<RoundNonce> {
    let p = r.nonces.get(view)
    if (!p) {
      p = deps.nonces.get(r.round, view)
      p.catch(() => {}) // awaited (and reported) by accept
      r.nonces.set(view, p)
    }
    return p
  }

  function sendObservation(r: RoundState, now: number) {
    if (!r.observation) return
    const leader = leaderOf(r.round, r.view, n)
    const message: OcaMessage = {
      type: 'observe',
      round: r.round,
      view: r.view,
      from: index,
      observation: r.observation,
    }
    if (leader === index) void receive(message, now)
    else deps.send(leader, message)
  }

  async function startRound(round: number, now: number): Promise<void> {
    if (rounds.has(round)) return
    const r: RoundState = {
      round,
      viewStartedAt: now,
      views: new Map(),
      view: 0,
      done: false,
      verified: new Set(),
      nonces: new Map(),
    }
    rounds.set(round, r)
    viewOf(r, 0, now)
    nonceOf(r, 0)
    try {
      const value = await deps.observe(round)
      const signature = await deps.signObservation(observationDigest(configDigest, round, value))
      r.observation = { index, value, signature }
    } catch (err) {
      log('observation failed', { round, err: String(err) })
      return // this member still signs a valid proposal of the others' observations
    }
    sendObservation(r, now)
  }

  async function accept(r: RoundState, v: ViewState, observations: SignedObservation[]) {
    const report = reportOf(r.round, observations)
    const message = reportMessage(configDigest, report)
    const nonce = await nonceOf(r, v.view)
    // Persist before computing the partial: after a crash this nonce signs this message or nothing.
    await deps.nonces.use(r.round, v.view, message)
    const { e, nonceAddress } = thresholdChallenge(config.groupKey, message, nonce.point)
    const sigma = partialSign(config.secretShare, nonce.share, e)
    v.signed = { report, observations, message, e, nonceAddress, sigma, nonce }
    const commitment = partialCommitment(configDigest, r.round, v.view, index, sigma)
    entry(v.commitments, message, () => new Map()).set(index, commitment)
    deps.broadcast({
      type: 'commit',
      round: r.round,
      view: v.view,
      from: index,
      message,
      commitment,
    })
    progress(r, v)
  }

  /** Moves a view forward as far as its messages allow. */
  function progress(r: RoundState, v: ViewState) {
    const s = v.signed
    if (!s || r.done) return
    const commitments = entry(v.commitments, s.message, () => new Map<number, Hex>())
    const prepared = entry(v.prepared, s.message, () => new Set<number>())
    if (!v.sentPrepared && commitments.size >= quorum) {
      v.sentPrepared = true
      deps.onCommitSet?.(r.round, v.view, new Map(commitments), s.message)
      const digest = keccak256(
        encodeAbiParameters(
          [{ type: 'uint8[]' }, { type: 'bytes32[]' }],
          [[...commitments.keys()], [...commitments.values()]],
        ),
      )
      prepared.add(index)
      deps.broadcast({
        type: 'prepared',
        round: r.round,
        view: v.view,
        from: index,
        message: s.message,
        commitments: digest,
      })
    }
    if (!v.revealed && v.sentPrepared && prepared.size >= quorum) {
      v.revealed = true
      v.partials.set(index, s.sigma)
      deps.broadcast({
        type: 'reveal',
        round: r.round,
        view: v.view,
        from: index,
        message: s.message,
        sigma: toHex(s.sigma, { size: 32 }),
      })
    }
    // Partials that arrived before this member could check them (it had not signed yet).
    for (const [from, sigma] of v.reveals.get(s.message) ?? []) {
      if (v.partials.has(from)) continue
      const committed = commitments.get(from)
      if (committed && committed !== partialCommitment(configDigest, r.round, v.view, from, sigma))
        continue
      if (
        !verifyPartial(
          tabledPoint(config.shareKeys[from - 1] as Hex),
          s.nonce.shares[from - 1] as Hex,
          s.e,
          sigma,
        )
      ) {
        log('invalid partial', { round: r.round, view: v.view, from })
        continue
      }
      v.partials.set(from, sigma)
      deps.onPartial?.(r.round, v.view, from, sigma)
    }
    v.reveals.delete(s.message)
    if (v.revealed && v.partials.size >= t) {
      r.done = true
      const chosen = [...v.partials].slice(0, t).map(([i, sigma]) => ({ index: i, sigma }))
      const signature = combine(chosen, t, s.nonceAddress)
      deps.onSignature(r.round, {
        report: s.report,
        signature,
        view: v.view,
        signers: chosen.map((p) => p.index),
      })
      deps.onEvidence?.(r.round, {
        view: v.view,
        report: s.report,
        message: s.message,
        observations: s.observations,
        partials: new Map(v.partials),
        nonceShares: s.nonce.shares,
        signature,
      })
    }
  }

  async function receive(m: OcaMessage, now: number): Promise<void> {
    if (!member(m.from) || !Number.isInteger(m.round) || !Number.isInteger(m.view) || m.view < 0)
      return
    const r = rounds.get(m.round)
    if (!r || r.done) return
    const v = viewOf(r, m.view, now)
    switch (m.type) {
      case 'observe': {
        if (leaderOf(m.round, m.view, n) !== index || v.proposed) return
        if (m.observation.index !== m.from) return
        if (!(await observationValid(r, m.observation))) return
        v.observations.set(m.from, m.observation)
        if (v.observations.size >= 2 * f + 1 && !v.proposed) {
          v.proposed = true
          const proposal: OcaMessage = {
            type: 'propose',
            round: m.round,
            view: m.view,
            from: index,
            observations: [...v.observations.values()],
          }
          deps.broadcast(proposal)
          await receive(proposal, now)
        }
        return
      }
      case 'propose': {
        if (m.from !== leaderOf(m.round, m.view, n) || v.signed || m.view < r.view) return
        const observations = await validObservations(r, m.observations)
        if (!observations) {
          log('invalid proposal', { round: m.round, view: m.view, from: m.from })
          return
        }
        if (m.view > r.view) {
          r.view = m.view // the others moved on already
          r.viewStartedAt = now
        }
        try {
          await accept(r, v, observations)
        } catch (err) {
          log('proposal not signed', { round: m.round, view: m.view, err: String(err) })
        }
        return
      }
      case 'commit': {
        const commitments = entry(v.commitments, m.message, () => new Map<number, Hex>())
        if (!commitments.has(m.from)) commitments.set(m.from, m.commitment)
        break
      }
      case 'prepared':
        entry(v.prepared, m.message, () => new Set<number>()).add(m.from)
        break
      case 'reveal': {
        const reveals = entry(v.reveals, m.message, () => new Map<number, bigint>())
        if (!reveals.has(m.from)) reveals.set(m.from, hexToBigInt(m.sigma))
        break
      }
    }
    progress(r, v)
  }

  /** Pacemaker: a view without a signature after `viewTimeoutMs` gives way to the next leader. */
  function tick(now: number): void {
    for (const r of rounds.values()) {
      if (r.done) continue
      if (now - r.viewStartedAt >= config.viewTimeoutMs) {
        r.view += 1
        r.viewStartedAt = now
        viewOf(r, r.view, now)
        log('view change', { round: r.round, view: r.view, leader: leaderOf(r.round, r.view, n) })
        sendObservation(r, now)
      }
    }
  }

  return {
    index,
    startRound,
    receive,
    tick,
    /** Forget rounds before `round` (after they are on chain). */
    prune(round: number) {
      for (const k of rounds.keys()) if (k < round) rounds.delete(k)
    },
  }
}

export type OcaNode = ReturnType<typeof createOcaNode>
