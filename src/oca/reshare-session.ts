import { type Address, encodeAbiParameters, getAddress, type Hex, keccak256 } from 'viem'
import type { Logger } from '../common.ts'
import { type PossessionProof, pointHex, verifyShareKeyProof } from '../crypto/dkg.ts'
import {
  createReshareReceiver,
  dealReshare,
  type ReshareAnswer,
  type ReshareDeal,
  type ReshareParameters,
} from '../crypto/reshare.ts'
import { BaseError, errorMessage } from '../errors.ts'
import type { InboundMessage } from '../p2p/envelope.ts'
import type { CommitteeHost } from '../p2p/host.ts'
import type { OcaRepository, StoredGroupKey } from '../store/oca.ts'

/**
 * Resharing over the committee network (docs/protocol/oca-job.md, "Changing the committee"):
 * the old committee's members deal their key shares to the new committee
 * (src/crypto/reshare.ts), so the group key Y stays. Every member of old ∪ new runs this with the
 * host's committee set to that union and its config digest the new configuration's. Phases, each
 * ending when every expected message is in or after `phaseTimeoutMs`:
 *
 *   deal        old members broadcast `reshare/deal` (Feldman commitments, D_0 = their share
 *               key) and send each new member `reshare/share` point-to-point
 *   complaints  new members broadcast `reshare/complaints` (dealers whose share did not check)
 *   answers     accused old members broadcast `reshare/answers` (the disputed shares)
 *   digest      new members finish and broadcast `reshare/digest` (qualified dealers and new share
 *               keys, hashed) with a proof of possession of their new share
 *
 * A new member stores its share only when at least n'−f' new members (itself included) reported
 * the same digest with valid proofs. Payloads are JSON objects with exactly the keys below;
 * anything else is dropped with a logged reason. The sender is the envelope's authenticated
 * `from`.
 */

export class ReshareSessionError extends BaseError {
  override name = 'ReshareSessionError'
}

export const RESHARE_PREFIX = 'reshare/'

export type ReshareCommittee = {
  configDigest: Hex
  oracles: readonly Address[]
  f: number
}

type Message =
  | { kind: 'deal'; commitments: Hex[]; shareKeys: Hex[]; groupKey: Hex }
  | { kind: 'share'; share: Hex }
  | { kind: 'complaints'; dealers: number[] }
  | { kind: 'answers'; answers: { accuser: number; share: Hex }[] }
  | { kind: 'digest'; digest: Hex; proof: PossessionProof }

const POINT = /^0x0[23][0-9a-f]{64}$/i
const WORD = /^0x[0-9a-f]{64}$/i
const isIndex = (v: unknown) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 255

function exactKeys(o: unknown, keys: string[]): o is Record<string, unknown> {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return false
  const have = Object.keys(o).sort()
  return have.length === keys.length && [...keys].sort().every((k, i) => have[i] === k)
}

/** Decodes a `reshare/*` payload, or throws naming what is wrong. */
export function decodeReshareMessage(type: string, payload: Uint8Array): Message {
  const bad = (why: string) => new ReshareSessionError(`malformed ${type}: ${why}`)
  if (payload.length > 64 * 1024) throw bad('payload over 64 KiB')
  let o: unknown
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload))
  } catch {
    throw bad('not UTF-8 JSON')
  }
  switch (type) {
    case 'reshare/deal':
      if (!exactKeys(o, ['commitments', 'shareKeys', 'groupKey']))
        throw bad('expected {commitments, shareKeys, groupKey}')
      for (const key of ['commitments', 'shareKeys'] as const) {
        const list = o[key]
        if (!Array.isArray(list) || list.length < 1 || list.length > 255)
          throw bad(`${key} must be 1..255 points`)
        if (!list.every((p) => typeof p === 'string' && POINT.test(p)))
          throw bad(`an entry of ${key} is not a compressed point`)
      }
      if (typeof o.groupKey !== 'string' || !POINT.test(o.groupKey))
        throw bad('groupKey is not a compressed point')
      return {
        kind: 'deal',
        commitments: o.commitments as Hex[],
        shareKeys: o.shareKeys as Hex[],
        groupKey: o.groupKey as Hex,
      }
    case 'reshare/share':
      if (!exactKeys(o, ['share']) || typeof o.share !== 'string' || !WORD.test(o.share))
        throw bad('expected {share: 32 bytes of hex}')
      return { kind: 'share', share: o.share as Hex }
    case 'reshare/complaints':
      if (!exactKeys(o, ['dealers']) || !Array.isArray(o.dealers) || !o.dealers.every(isIndex))
        throw bad('expected {dealers: [index, …]}')
      return { kind: 'complaints', dealers: o.dealers as number[] }
    case 'reshare/answers':
      if (!exactKeys(o, ['answers']) || !Array.isArray(o.answers)) throw bad('expected {answers}')
      for (const a of o.answers)
        if (
          !exactKeys(a, ['accuser', 'share']) ||
          !isIndex(a.accuser) ||
          typeof a.share !== 'string' ||
          !WORD.test(a.share)
        )
          throw bad('an answer must be {accuser, share}')
      return { kind: 'answers', answers: o.answers as { accuser: number; share: Hex }[] }
    case 'reshare/digest':
      if (
        !exactKeys(o, ['digest', 'proof']) ||
        typeof o.digest !== 'string' ||
        !WORD.test(o.digest)
      )
        throw bad('expected {digest, proof}')
      if (
        !exactKeys(o.proof, ['commitment', 'z']) ||
        typeof o.proof.commitment !== 'string' ||
        !POINT.test(o.proof.commitment) ||
        typeof o.proof.z !== 'string' ||
        !WORD.test(o.proof.z)
      )
        throw bad('the proof must be {commitment: point, z: 32 bytes}')
      return { kind: 'digest', digest: o.digest as Hex, proof: o.proof as PossessionProof }
    default:
      throw bad('unknown type')
  }
}

function encode(m: Message): { type: string; round: bigint; payload: Uint8Array } {
  const { kind, ...body } = m
  return {
    type: `${RESHARE_PREFIX}${kind}`,
    round: 0n,
    payload: new TextEncoder().encode(JSON.stringify(body)),
  }
}

/** The previous share keys and group key reported identically by at least `quorum` old members. */
function agreedOldKeys(
  reported: Map<number, { shareKeys: Hex[]; groupKey: Hex }>,
  quorum: number,
): { shareKeys: Hex[]; groupKey: Hex } | undefined {
  const counts = new Map<string, number>()
  for (const r of reported.values()) {
    const key = JSON.stringify([r.groupKey.toLowerCase(), r.shareKeys.map((k) => k.toLowerCase())])
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  for (const r of reported.values()) {
    const key = JSON.stringify([r.groupKey.toLowerCase(), r.shareKeys.map((k) => k.toLowerCase())])
    if ((counts.get(key) ?? 0) >= quorum) return r
  }
  return undefined
}

/** What the new members compare before using their shares. */
export function reshareDigest(
  configDigest: Hex,
  qualified: number[],
  groupKey: Hex,
  shareKeys: Hex[],
): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'string' },
        { type: 'bytes32' },
        { type: 'uint8[]' },
        { type: 'bytes' },
        { type: 'bytes[]' },
      ],
      ['orakel/oca/reshare/v1', configDigest, qualified, groupKey, shareKeys],
    ),
  )
}

/**
 * Runs this member's part of a resharing from `previous` to `next` and, when it is a new member,
 * stores and returns its share (as `ensureGroupKey` would). Already stored: returned at once. An
 * old member that leaves returns undefined once it has dealt and answered.
 */
export async function reshareGroupKey(
  deps: { host: CommitteeHost; store: OcaRepository; logger: Logger },
  params: { previous: ReshareCommittee; next: ReshareCommittee; phaseTimeoutMs: number },
): Promise<StoredGroupKey | undefined> {
  const { host, store } = deps
  const { previous, next, phaseTimeoutMs } = params
  const existing = await store.groupKey(next.configDigest)
  if (existing) return existing
  const log = deps.logger.child({ component: 'oca-reshare' })
  const me = getAddress(host.oracle)
  const oldOracles = previous.oracles.map((a) => getAddress(a))
  const newOracles = next.oracles.map((a) => getAddress(a))
  const oldIndex = oldOracles.indexOf(me) + 1
  const newIndex = newOracles.indexOf(me) + 1
  const oldKey = oldIndex > 0 ? await store.groupKey(previous.configDigest) : undefined
  if (newIndex === 0 && !oldKey)
    throw new ReshareSessionError(
      'this node holds no share of the previous key and is not in the new committee',
    )
  /** The previous configuration's public key material, as old members report it. */
  const paramsFrom = (old: { shareKeys: Hex[]; groupKey: Hex }): ReshareParameters => ({
    oldShareKeys: old.shareKeys,
    oldT: previous.f + 1,
    groupKey: old.groupKey,
    newN: newOracles.length,
    newT: next.f + 1,
    context: next.configDigest,
  })
  const reported = new Map<number, { shareKeys: Hex[]; groupKey: Hex }>()

  const deals = new Map<number, ReshareDeal>()
  const shares = new Map<number, Hex>()
  const complaints = new Map<number, number[]>()
  const answers = new Map<number, { accuser: number; share: Hex }[]>()
  const digests = new Map<number, { digest: Hex; proof: PossessionProof }>()
  let wake: (() => void) | undefined
  const remove = host.onMessage((msg: InboundMessage) => {
    if (!msg.type.startsWith(RESHARE_PREFIX)) return
    const from = getAddress(msg.from)
    let m: Message
    try {
      m = decodeReshareMessage(msg.type, msg.payload)
    } catch (err) {
      log.warn({ peer: from, reason: errorMessage(err) }, 'dropped a malformed resharing message')
      return
    }
    const oldFrom = oldOracles.indexOf(from) + 1
    const newFrom = newOracles.indexOf(from) + 1
    if (m.kind === 'deal' && oldFrom > 0 && !deals.has(oldFrom)) {
      deals.set(oldFrom, { dealer: oldFrom, commitments: m.commitments })
      reported.set(oldFrom, { shareKeys: m.shareKeys, groupKey: m.groupKey })
    }
    if (m.kind === 'share' && oldFrom > 0 && !shares.has(oldFrom)) shares.set(oldFrom, m.share)
    if (m.kind === 'complaints' && newFrom > 0 && !complaints.has(newFrom))
      complaints.set(newFrom, m.dealers)
    if (m.kind === 'answers' && oldFrom > 0 && !answers.has(oldFrom))
      answers.set(oldFrom, m.answers)
    if (m.kind === 'digest' && newFrom > 0 && !digests.has(newFrom))
      digests.set(newFrom, { digest: m.digest, proof: m.proof })
    wake?.()
  })
  const until = async (done: () => boolean) => {
    const deadline = Date.now() + phaseTimeoutMs
    while (!done()) {
      const left = deadline - Date.now()
      if (left <= 0) return false
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        wake = () => {
          clearTimeout(t)
          resolve()
        }
      })
      wake = undefined
    }
    return true
  }
  const oldMembers = oldOracles.map((_, i) => i + 1)
  const newMembers = newOracles.map((_, j) => j + 1)

  try {
    // Deal.
    let myShares: Hex[] | undefined
    if (oldKey) {
      const { deal, shares: dealt } = dealReshare(paramsFrom(oldKey), oldIndex, oldKey.secretShare)
      myShares = dealt
      deals.set(oldIndex, deal)
      reported.set(oldIndex, { shareKeys: oldKey.shareKeys, groupKey: oldKey.groupKey })
      host.broadcast(
        encode({
          kind: 'deal',
          commitments: deal.commitments,
          shareKeys: oldKey.shareKeys,
          groupKey: oldKey.groupKey,
        }),
      )
      for (const [j, s] of dealt.entries()) {
        const to = newOracles[j]!
        if (to === me) shares.set(oldIndex, s)
        else host.send(to, encode({ kind: 'share', share: s }))
      }
      log.info(
        { dealer: oldIndex, to: newOracles.length },
        'dealt the key share to the new committee',
      )
    }
    await until(() => oldMembers.every((i) => deals.has(i) && (newIndex === 0 || shares.has(i))))
    // The old share keys: our own, or the vector at least f+1 old members report identically
    // (so at least one honest member vouches for it).
    const publicOld = oldKey ?? agreedOldKeys(reported, previous.f + 1)
    if (newIndex > 0 && !publicOld)
      throw new ReshareSessionError(
        `fewer than ${previous.f + 1} old members reported the same previous share keys`,
      )
    const receiver =
      newIndex > 0
        ? createReshareReceiver({ ...paramsFrom(publicOld!), index: newIndex })
        : undefined

    // Complaints.
    if (receiver) {
      for (const i of [...deals.keys()].sort((a, b) => a - b)) receiver.receiveDeal(deals.get(i)!)
      for (const [i, s] of shares) receiver.receiveShare(i, s)
      const mine = receiver.complaints().map((c) => c.dealer)
      complaints.set(newIndex, mine)
      host.broadcast(encode({ kind: 'complaints', dealers: mine }))
    }
    await until(() => newMembers.every((j) => complaints.has(j)))

    // Answers.
    const accused = new Set<number>()
    for (const [accuser, dealers] of complaints)
      for (const dealer of dealers) {
        receiver?.receiveComplaint({ accuser, dealer })
        accused.add(dealer)
      }
    if (accused.size > 0) {
      if (oldKey && myShares && accused.has(oldIndex)) {
        const mine = [...complaints]
          .filter(([, dealers]) => dealers.includes(oldIndex))
          .map(([accuser]) => ({ accuser, share: myShares[accuser - 1]! }))
        answers.set(oldIndex, mine)
        host.broadcast(encode({ kind: 'answers', answers: mine }))
      }
      await until(() => [...accused].every((i) => answers.has(i)))
      for (const [dealer, list] of answers)
        for (const a of list) receiver?.receiveAnswer({ dealer, ...a } satisfies ReshareAnswer)
    }
    if (!receiver) {
      log.info({ accused: [...accused] }, 'resharing dealt; this member leaves the committee')
      return undefined
    }

    // Finish and compare.
    let result: ReturnType<typeof receiver.finish>
    try {
      result = receiver.finish()
    } catch (err) {
      throw new ReshareSessionError(`resharing failed: ${errorMessage(err)}`, {
        details: (err as BaseError).details,
      })
    }
    const groupKey = pointHex(result.groupKey)
    const digest = reshareDigest(next.configDigest, result.qualified, groupKey, result.shareKeys)
    digests.set(newIndex, { digest, proof: result.shareProof })
    host.broadcast(encode({ kind: 'digest', digest, proof: result.shareProof }))
    const quorum = newOracles.length - next.f
    const agreeing = () =>
      [...digests].filter(
        ([j, d]) =>
          d.digest.toLowerCase() === digest.toLowerCase() &&
          (j === newIndex ||
            verifyShareKeyProof(result.shareKeys[j - 1]!, d.proof, next.configDigest, j)),
      ).length
    await until(() => agreeing() >= quorum)
    if (agreeing() < quorum)
      throw new ReshareSessionError(
        `${agreeing()} new members reported this resharing's digest; ${quorum} are needed`,
      )
    await store.saveGroupKey({
      configDigest: next.configDigest,
      index: newIndex,
      n: newOracles.length,
      f: next.f,
      groupKey,
      shareKeys: result.shareKeys,
      secretShare: result.secretShare,
      qualified: result.qualified,
      digest,
    })
    log.info({ qualified: result.qualified, group_key: groupKey }, 'reshared key stored')
    return (await store.groupKey(next.configDigest))!
  } finally {
    remove()
  }
}
