import {
  type Address,
  encodeAbiParameters,
  getAddress,
  type Hex,
  hexToBigInt,
  keccak256,
  toHex,
} from 'viem'
import { z } from 'zod'
import { OcaRewardsAbi } from '../../artifacts/abis.ts'
import type { ChainClient } from '../chain/client.ts'
import type { Logger } from '../common.ts'
import { parsePoint } from '../crypto/dkg.ts'
import { challenge, type SchnorrSignature, toPublicKey, verify } from '../crypto/schnorr.ts'
import { verifyPartial } from '../crypto/threshold.ts'
import { BaseError, errorMessage } from '../errors.ts'
import { partialCommitment, type RoundEvidence } from './node.ts'
import {
  observationDigest,
  type Report,
  reportMessage,
  reportOf,
  type SignedObservation,
} from './report.ts'
import { rewardedMembers } from './rewards.ts'
import { signedBy, tabledPoint } from './verify-cache.ts'

/**
 * The provider's side of Algorithm 3 (RewardOracles, whitepaper Appendix A) fed from real
 * rounds (docs/protocol/oca.md, "Rewards"): the provider — whoever funds `OcaRewards`, not a
 * committee member — receives from each member, per round,
 *
 *   commitset  at PREPARE, before the member reveals: its commitment set C_i (the n−f
 *              commitments to partials of the report message it collected);
 *   evidence   once it holds Σ: the report, its observations (the proposal it signed), Σ, the
 *              valid partials it holds (the decommitments) and the nonce share points R_j;
 *
 * each signed by the member's oracle key (EIP-191 over a digest that binds the config digest,
 * round, view and content), so no member speaks for another. The member hands them to an
 * injected `toProvider` (src/oca/member.ts); the node forwards them over its API (the JSON form:
 * `encodeProviderMessage` / `decodeProviderMessage`), in tests they are passed in process.
 *
 * A round is closed once every member's two messages are in, after `closeAfterMs` from its first
 * message, or by `closeThrough(round)`. Closing checks everything itself: Σ under the group key
 * for the report's message; the observations against the report (`reportOf`) and their
 * signatures; each partial σ_j against Y_j and R_j, where the vector R_1..R_n is the one at least
 * f+1 members reported (one of them honest); then Algorithm 3 (`rewardedMembers`). A round with
 * no valid Σ rewards nobody. Bitmaps (bit j−1 for member j) are settled in order through the
 * injected `send` — `OcaRewards.settle(firstRound, bitmaps)` — `settleEvery` rounds at a time
 * (`flush` settles what is closed); a failed send is kept and tried again with the next.
 */

export class OcaProviderError extends BaseError {
  override name = 'OcaProviderError'
}

export type CommitSetMessage = {
  kind: 'commitset'
  round: number
  view: number
  /** The sender, 1..n. */
  member: number
  /** The report message the commitments are to. */
  message: Hex
  /** C_i: member → commitment to its partial. */
  commitments: { member: number; commitment: Hex }[]
  /** The sender's oracle key over `commitSetDigest`. */
  signature: Hex
}

export type EvidenceMessage = {
  kind: 'evidence'
  round: number
  view: number
  member: number
  report: Report
  observations: SignedObservation[]
  partials: { member: number; sigma: Hex }[]
  nonceShares: Hex[]
  sigma: SchnorrSignature
  /** The sender's oracle key over `evidenceDigest`. */
  signature: Hex
}

export type ProviderMessage = CommitSetMessage | EvidenceMessage

const sortByMember = <T extends { member: number }>(list: readonly T[]) =>
  [...list].sort((a, b) => a.member - b.member)

/** What a member signs for its commitment set. */
export function commitSetDigest(
  configDigest: Hex,
  m: Omit<CommitSetMessage, 'kind' | 'signature'>,
): Hex {
  const c = sortByMember(m.commitments)
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'string' },
        { type: 'bytes32' },
        { type: 'uint32' },
        { type: 'uint32' },
        { type: 'uint8' },
        { type: 'bytes32' },
        { type: 'uint8[]' },
        { type: 'bytes32[]' },
      ],
      [
        'orakel/oca/provider/commitset/v1',
        configDigest,
        m.round,
        m.view,
        m.member,
        m.message,
        c.map((x) => x.member),
        c.map((x) => x.commitment),
      ],
    ),
  )
}

/** What a member signs for its evidence (the observations through the report's hash). */
export function evidenceDigest(
  configDigest: Hex,
  m: Omit<EvidenceMessage, 'kind' | 'signature'>,
): Hex {
  const p = sortByMember(m.partials)
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'string' },
        { type: 'bytes32' },
        { type: 'uint32' },
        { type: 'uint32' },
        { type: 'uint8' },
        { type: 'int192' },
        { type: 'bytes32' },
        { type: 'uint8[]' },
        { type: 'bytes32[]' },
        { type: 'bytes[]' },
        { type: 'uint256' },
        { type: 'address' },
      ],
      [
        'orakel/oca/provider/evidence/v1',
        configDigest,
        m.round,
        m.view,
        m.member,
        m.report.answer,
        m.report.observationsHash,
        p.map((x) => x.member),
        p.map((x) => x.sigma),
        m.nonceShares,
        m.sigma.s,
        m.sigma.nonceAddress,
      ],
    ),
  )
}

/** The member's commitment set message, signed with `sign` (its oracle key, EIP-191). */
export async function commitSetMessage(
  configDigest: Hex,
  fields: { round: number; view: number; member: number; message: Hex },
  commitments: Map<number, Hex>,
  sign: (digest: Hex) => Promise<Hex>,
): Promise<CommitSetMessage> {
  const body = {
    ...fields,
    commitments: [...commitments]
      .map(([member, commitment]) => ({ member, commitment }))
      .sort((a, b) => a.member - b.member),
  }
  return {
    kind: 'commitset',
    ...body,
    signature: await sign(commitSetDigest(configDigest, body)),
  }
}

/** The member's evidence message for a round it holds Σ for. */
export async function evidenceMessage(
  configDigest: Hex,
  round: number,
  member: number,
  e: RoundEvidence,
  sign: (digest: Hex) => Promise<Hex>,
): Promise<EvidenceMessage> {
  const body = {
    round,
    view: e.view,
    member,
    report: e.report,
    observations: e.observations,
    partials: [...e.partials]
      .map(([j, sigma]) => ({ member: j, sigma: toHex(sigma, { size: 32 }) }))
      .sort((a, b) => a.member - b.member),
    nonceShares: e.nonceShares,
    sigma: e.signature,
  }
  return { kind: 'evidence', ...body, signature: await sign(evidenceDigest(configDigest, body)) }
}

// ---- JSON form (the node's API) ----

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex>
const sig65 = z.string().regex(/^0x[0-9a-fA-F]{130}$/) as unknown as z.ZodType<Hex>
const pointHexSchema = z.string().regex(/^0x0[23][0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex>
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/) as unknown as z.ZodType<Address>
const index = z.int().min(1).max(255)
const round = z
  .int()
  .min(1)
  .max(2 ** 32 - 1)
const view = z
  .int()
  .min(0)
  .max(2 ** 32 - 1)
const signedInt = z
  .string()
  .regex(/^-?0x[0-9a-fA-F]{1,64}$/)
  .transform((s) => (s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s)))
const uint = z
  .string()
  .regex(/^0x[0-9a-fA-F]{1,64}$/)
  .transform((s) => BigInt(s))
const signedHex = (v: bigint) => (v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`)

const providerSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('commitset'),
    round,
    view,
    member: index,
    message: hex32,
    commitments: z.array(z.strictObject({ member: index, commitment: hex32 })).max(255),
    signature: sig65,
  }),
  z.strictObject({
    kind: z.literal('evidence'),
    round,
    view,
    member: index,
    report: z.strictObject({ round, answer: signedInt, observationsHash: hex32 }),
    observations: z
      .array(z.strictObject({ index, value: signedInt, signature: sig65 }))
      .min(1)
      .max(255),
    partials: z.array(z.strictObject({ member: index, sigma: hex32 })).max(255),
    nonceShares: z.array(pointHexSchema).min(1).max(255),
    sigma: z.strictObject({ s: uint, nonceAddress: address }),
    signature: sig65,
  }),
])

export function encodeProviderMessage(m: ProviderMessage): string {
  if (m.kind === 'commitset') return JSON.stringify(m)
  return JSON.stringify({
    ...m,
    report: { ...m.report, answer: signedHex(m.report.answer) },
    observations: m.observations.map((o) => ({ ...o, value: signedHex(o.value) })),
    sigma: { s: signedHex(m.sigma.s), nonceAddress: m.sigma.nonceAddress },
  })
}

/** Parses the JSON form; throws `OcaProviderError` with the reason. */
export function decodeProviderMessage(json: string): ProviderMessage {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch (err) {
    throw new OcaProviderError('provider message is not JSON', { details: errorMessage(err) })
  }
  const parsed = providerSchema.safeParse(value)
  if (!parsed.success)
    throw new OcaProviderError('malformed provider message', {
      details: parsed.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; '),
    })
  return parsed.data as ProviderMessage
}

// ---- the provider ----

/** Sends `OcaRewards.settle(firstRound, bitmaps)`; resolves once it is on chain. */
export type SettleFn = (firstRound: number, bitmaps: bigint[]) => Promise<void>

/** The plain viem path: the provider's own account owns the OcaRewards contract. */
export function settleWithViem(client: ChainClient, rewards: Address): SettleFn {
  return async (firstRound, bitmaps) => {
    const hash = await client.writeContract({
      address: rewards,
      abi: OcaRewardsAbi,
      functionName: 'settle',
      args: [firstRound, bitmaps],
    })
    const receipt = await client.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success')
      throw new OcaProviderError('settle reverted', { details: `transaction ${hash}` })
  }
}

export type OcaProviderParams = {
  configDigest: Hex
  /** The committee; member j is oracles[j − 1] (as in OcaRewards). */
  oracles: readonly Address[]
  f: number
  /** Y (compressed). */
  groupKey: Hex
  /** Y_1..Y_n (compressed), from the key DKG (public). */
  shareKeys: readonly Hex[]
  /** The next round OcaRewards expects (`lastSettledRound() + 1`). Default 1. */
  firstRound?: number
  /** Rounds per settle transaction. Default 10. */
  settleEvery?: number
  /** Close a round this long after its first message even if evidence is missing. Default 10 s. */
  closeAfterMs?: number
}

export type RoundReward = {
  round: number
  bitmap: bigint
  rewarded: number[]
  /** Why nobody was rewarded, when so. */
  reason?: string
}

export type OcaProvider = {
  /** Takes one member message; false (logged) if it is refused. */
  receive(m: ProviderMessage): Promise<boolean>
  /** Closes every round up to `round` (rounds without messages reward nobody). */
  closeThrough(round: number): Promise<void>
  /** Settles every closed round not yet settled, whatever their number. */
  flush(): Promise<void>
  /** Closed rounds' results, by round. */
  results(): Map<number, RoundReward>
  /** The next round to settle. */
  nextSettle(): number
  stop(): Promise<void>
}

/** Rounds past the last closed one that messages may open. */
const MAX_OPEN_AHEAD = 1024
/** Views per round the provider keeps commitment sets for. */
const MAX_VIEWS = 16
const HISTORY = 4096

type RoundInbox = {
  /** By view, then member: a member sends one commitment set per view it prepared in. */
  commitSets: Map<number, Map<number, CommitSetMessage>>
  evidence: Map<number, EvidenceMessage>
  timer?: ReturnType<typeof setTimeout>
}

export function createOcaProvider(
  deps: { send: SettleFn; logger: Logger; onRound?(r: RoundReward): void },
  params: OcaProviderParams,
): OcaProvider {
  const oracles = params.oracles.map((a) => getAddress(a))
  const n = oracles.length
  const { f, configDigest } = params
  if (params.shareKeys.length !== n)
    throw new OcaProviderError('one share key per member', {
      details: `${params.shareKeys.length} share keys, ${n} members`,
    })
  const groupKey = toPublicKey(parsePoint(params.groupKey))
  const settleEvery = params.settleEvery ?? 10
  const closeAfterMs = params.closeAfterMs ?? 10_000
  const log = deps.logger.child({ component: 'oca-provider' })
  const inbox = new Map<number, RoundInbox>()
  const closed = new Map<number, RoundReward>()
  /** Rounds being decided (closing is async: a timer and a last message may race). */
  const closing = new Set<number>()
  /** Decided rounds (the latest HISTORY), settled or not. */
  const history = new Map<number, RoundReward>()
  let closedThrough = (params.firstRound ?? 1) - 1
  let settledThrough = closedThrough
  let sending: Promise<void> = Promise.resolve()
  let stopped = false

  const inRange = (j: number) => Number.isInteger(j) && j >= 1 && j <= n

  async function receive(m: ProviderMessage): Promise<boolean> {
    const refuse = (reason: string) => {
      log.warn({ round: m.round, member: m.member, kind: m.kind, reason }, 'provider refused')
      return false
    }
    if (stopped) return false
    if (!inRange(m.member)) return refuse('not a member')
    if (m.round <= closedThrough || closed.has(m.round)) return refuse('round closed')
    if (m.round > closedThrough + MAX_OPEN_AHEAD) return refuse('round too far ahead')
    const digest =
      m.kind === 'commitset' ? commitSetDigest(configDigest, m) : evidenceDigest(configDigest, m)
    if (!(await signedBy(digest, m.signature, oracles[m.member - 1]!)))
      return refuse('not signed by the member')
    if (m.round <= closedThrough || closed.has(m.round) || closing.has(m.round))
      return refuse('round closed')
    let box = inbox.get(m.round)
    if (!box) {
      box = { commitSets: new Map(), evidence: new Map() }
      inbox.set(m.round, box)
      const r = m.round
      box.timer = setTimeout(() => void close(r), closeAfterMs)
    }
    if (m.kind === 'commitset') {
      let views = box.commitSets.get(m.view)
      if (!views) {
        if (box.commitSets.size >= MAX_VIEWS) return refuse('too many views')
        views = new Map()
        box.commitSets.set(m.view, views)
      }
      if (views.has(m.member)) return refuse('second commitment set for this view')
      views.set(m.member, m)
    } else {
      if (box.evidence.has(m.member)) return refuse('second evidence')
      box.evidence.set(m.member, m)
    }
    // Complete: every member's evidence, and every member's commitment set of that view.
    const views = new Set([...box.evidence.values()].map((e) => e.view))
    if (
      box.evidence.size === n &&
      views.size === 1 &&
      box.commitSets.get([...views][0]!)?.size === n
    )
      await close(m.round)
    return true
  }

  /** Algorithm 3 over what arrived for `round`. */
  async function decide(round: number, box: RoundInbox | undefined): Promise<RoundReward> {
    const none = (reason: string): RoundReward => ({ round, bitmap: 0n, rewarded: [], reason })
    if (!box || box.evidence.size === 0) return none('no evidence')
    // Σ: the first report with a valid signature under the group key.
    let chosen: { view: number; report: Report; message: Hex; sigma: SchnorrSignature } | undefined
    for (const e of box.evidence.values()) {
      if (e.report.round !== round) continue
      const message = reportMessage(configDigest, e.report)
      if (verify(groupKey, message, e.sigma)) {
        chosen = { view: e.view, report: e.report, message, sigma: e.sigma }
        break
      }
    }
    if (!chosen) return none('no valid signature')
    const { view, message } = chosen
    const same = [...box.evidence.values()].filter(
      (e) => e.view === view && reportMessage(configDigest, e.report) === message,
    )
    // Observers: a signed set that is the report's.
    let observers: Set<number> | undefined
    for (const e of same) {
      const r = reportOf(round, e.observations)
      if (
        r.observationsHash !== chosen.report.observationsHash ||
        r.answer !== chosen.report.answer
      )
        continue
      let ok = new Set(e.observations.map((o) => o.index)).size === e.observations.length
      for (const o of e.observations) {
        if (!ok) break
        ok =
          inRange(o.index) &&
          (await signedBy(
            observationDigest(configDigest, round, o.value),
            o.signature,
            oracles[o.index - 1]!,
          ))
      }
      if (ok) {
        observers = new Set(e.observations.map((o) => o.index))
        break
      }
    }
    if (!observers) return none('no valid observation set')
    // R_1..R_n: the vector at least f+1 members reported.
    const votes = new Map<string, { shares: Hex[]; count: number }>()
    for (const e of same) {
      if (e.nonceShares.length !== n) continue
      const key = e.nonceShares.join(',').toLowerCase()
      const v = votes.get(key) ?? { shares: e.nonceShares, count: 0 }
      v.count += 1
      votes.set(key, v)
    }
    const nonceShares = [...votes.values()].find((v) => v.count >= f + 1)?.shares
    if (!nonceShares) return none('no nonce shares reported by f+1 members')
    // PS*: every valid decommitment received.
    const e = challenge(groupKey, message, chosen.sigma.nonceAddress)
    const partials = new Map<number, bigint>()
    for (const ev of same)
      for (const p of ev.partials) {
        if (!inRange(p.member) || partials.has(p.member)) continue
        const sigma = hexToBigInt(p.sigma)
        if (
          verifyPartial(
            tabledPoint(params.shareKeys[p.member - 1]!),
            nonceShares[p.member - 1]!,
            e,
            sigma,
          )
        )
          partials.set(p.member, sigma)
      }
    // Commitment sets of this view and message.
    const commitSets = new Map<number, Map<number, Hex>>()
    for (const c of box.commitSets.get(view)?.values() ?? []) {
      if (c.message.toLowerCase() !== message.toLowerCase()) continue
      commitSets.set(
        c.member,
        new Map(
          c.commitments
            .filter((x) => inRange(x.member))
            .map((x) => [x.member, x.commitment.toLowerCase() as Hex]),
        ),
      )
    }
    const rewarded = rewardedMembers({
      f,
      commitSets,
      partials,
      observers,
      commitmentOf: (j, sigma) =>
        partialCommitment(configDigest, round, view, j, sigma).toLowerCase() as Hex,
    })
    return {
      round,
      bitmap: rewarded.reduce((acc, j) => acc | (1n << BigInt(j - 1)), 0n),
      rewarded,
    }
  }

  async function close(round: number): Promise<void> {
    if (closed.has(round) || closing.has(round) || round <= closedThrough) return
    closing.add(round)
    const box = inbox.get(round)
    inbox.delete(round)
    if (box?.timer) clearTimeout(box.timer)
    let result: RoundReward
    try {
      result = await decide(round, box)
    } catch (err) {
      result = { round, bitmap: 0n, rewarded: [], reason: errorMessage(err) }
    }
    closed.set(round, result)
    closing.delete(round)
    history.set(round, result)
    if (history.size > HISTORY) history.delete(history.keys().next().value as number)
    log.info(
      { round, rewarded: result.rewarded, ...(result.reason ? { reason: result.reason } : {}) },
      'round rewards decided',
    )
    deps.onRound?.(result)
    advance()
    if (closedThrough - settledThrough >= settleEvery) await settle(false)
  }

  /** Moves `closedThrough` over consecutive closed rounds. */
  function advance() {
    while (closed.has(closedThrough + 1)) closedThrough += 1
  }

  function settle(all: boolean): Promise<void> {
    const run = async () => {
      while (!stopped) {
        const pending = closedThrough - settledThrough
        if (pending <= 0 || (!all && pending < settleEvery)) return
        const count = all ? pending : settleEvery
        const first = settledThrough + 1
        const bitmaps = Array.from({ length: count }, (_, k) => closed.get(first + k)!.bitmap)
        try {
          await deps.send(first, bitmaps)
        } catch (err) {
          log.warn(
            { first_round: first, rounds: count, err: errorMessage(err) },
            'settlement failed; kept for the next',
          )
          return
        }
        settledThrough = first + count - 1
        for (let r = first; r <= settledThrough; r++) closed.delete(r)
        log.info({ first_round: first, rounds: count }, 'rewards settled')
      }
    }
    sending = sending.then(run, run)
    return sending
  }

  return {
    receive,
    async closeThrough(round) {
      for (let r = closedThrough + 1; r <= round; r++) await close(r)
    },
    flush: () => settle(true),
    results: () => new Map(history),
    nextSettle: () => settledThrough + 1,
    async stop() {
      stopped = true
      for (const box of inbox.values()) if (box.timer) clearTimeout(box.timer)
      await sending
    },
  }
}
