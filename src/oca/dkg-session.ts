import { type Address, encodeAbiParameters, getAddress, type Hex, keccak256 } from 'viem'
import type { Logger } from '../common.ts'
import {
  createDkgParticipant,
  type DkgParticipant,
  type DkgResult,
  pointHex,
  verifyShareKeyProof,
} from '../crypto/dkg.ts'
import { BaseError, errorMessage } from '../errors.ts'
import type { InboundMessage } from '../p2p/envelope.ts'
import type { CommitteeHost } from '../p2p/host.ts'
import {
  type DkgMessage,
  decodeDkgMessage,
  encodeDkgMessage,
  isDkgType,
  MAX_DKG_INSTANCES,
  reasonOf,
  type WireAnswer,
  type WireComplaint,
  type WireDeal,
} from './wire.ts'

/**
 * A DKG session over the committee network (docs/protocol/oca.md, "DKG sessions"): B parallel
 * instances of `src/crypto/dkg.ts` (B = 1 for the group key, B nonces for a nonce batch) run in
 * one exchange of five messages, each phase ending when every expected member's message is in
 * or after `phaseTimeoutMs`:
 *
 *   deal        broadcast the B Feldman commitments + proofs; send each member its B shares
 *               point-to-point (the p2p link is Noise-encrypted and authenticated)
 *   complaints  broadcast the (instance, dealer) pairs whose share did not check (maybe none)
 *   answers     only if someone was accused: the accused publish the disputed shares
 *   digest      finish every instance; broadcast a digest of the transcripts, qualified sets
 *               and keys (and, for the group key, the proof of possession of one's share)
 *
 * A member uses the result only when at least n−f members (itself included) reported the same
 * digest — so the broadcasts it based its shares on are the ones the committee saw. Messages are
 * applied at the end of their phase, in member order, never on arrival: a late deal or complaint
 * is ignored, not half-applied. A session never throws into the network handler; its result
 * rejects with `DkgSessionError` and the reason.
 */

export class DkgSessionError extends BaseError {
  override name = 'DkgSessionError'
}

export type DkgTransport = {
  broadcast(m: DkgMessage): void
  send(to: number, m: DkgMessage): void
}

export type DkgSessionParams = {
  id: string
  n: number
  /** Shares needed to sign (f+1). */
  t: number
  /** Matching digests needed to use the result (n−f). */
  quorum: number
  /** This member, 1..n. */
  index: number
  /** Parallel DKG instances (1..256). */
  instances: number
  /** Binds the proofs to the configuration and purpose. */
  context: Hex
  phaseTimeoutMs: number
  /** Exchange and check proofs of possession of the share keys (the group key). */
  proveShares?: boolean
  /** Randomness for the polynomials (tests). */
  random?: () => bigint
}

export type DkgSessionResult = {
  id: string
  results: DkgResult[]
  digest: Hex
  /** Members that reported the same digest (with a valid share proof, when asked). */
  agreed: number[]
}

export type DkgSession = {
  id: string
  /** Deals and runs the phases; the result settles `result`. Idempotent. */
  start(): void
  /** A message from member `from` (authenticated by the transport). */
  deliver(from: number, m: DkgMessage): void
  result: Promise<DkgSessionResult>
  /** Ends the session early (rejects `result` if still running). */
  stop(reason?: string): void
}

type Phase = 'idle' | 'deal' | 'complaints' | 'answers' | 'digest' | 'done'

/**
 * Lets the event loop run between pieces of a session's computation (a nonce batch is up to 256
 * DKG instances: seconds of work at n = 31), so the node keeps answering its peers — libp2p's
 * connection monitor closes a connection whose ping is not answered within seconds, losing
 * what was in flight on it — and rounds running meanwhile keep their latency.
 */
const breathe = () => new Promise<void>((resolve) => setImmediate(resolve))

/** The context of instance `b` of session `id`. */
export function instanceContext(context: Hex, id: string, b: number): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'string' }, { type: 'bytes32' }, { type: 'string' }, { type: 'uint32' }],
      ['orakel/oca/dkg-instance/v1', context, id, b],
    ),
  )
}

/** What the members compare: per instance the broadcasts, the qualified dealers and the keys. */
export function sessionDigest(id: string, context: Hex, results: DkgResult[], transcripts: Hex[]) {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'string' }, { type: 'bytes32' }, { type: 'string' }, { type: 'bytes32[]' }],
      [
        'orakel/oca/dkg-session/v1',
        context,
        id,
        results.map((r, b) =>
          keccak256(
            encodeAbiParameters(
              [{ type: 'bytes32' }, { type: 'uint8[]' }, { type: 'bytes' }, { type: 'bytes[]' }],
              [transcripts[b] as Hex, r.qualified, pointHex(r.groupKey), r.shareKeys],
            ),
          ),
        ),
      ],
    ),
  )
}

export function createDkgSession(
  params: DkgSessionParams,
  deps: { transport: DkgTransport; log?: (event: string, fields: Record<string, unknown>) => void },
): DkgSession {
  const { id, n, t, index, instances, phaseTimeoutMs } = params
  if (!(Number.isInteger(instances) && instances >= 1 && instances <= MAX_DKG_INSTANCES))
    throw new DkgSessionError(`a session has 1..${MAX_DKG_INSTANCES} instances, not ${instances}`)
  if (!(params.quorum >= 1 && params.quorum <= n))
    throw new DkgSessionError(`invalid quorum ${params.quorum} for n = ${n}`)
  const log = deps.log ?? (() => {})
  const contexts = Array.from({ length: instances }, (_, b) =>
    instanceContext(params.context, id, b),
  )
  let participants: DkgParticipant[] = []
  let phase: Phase = 'idle'
  const deals = new Map<number, WireDeal[]>()
  const shares = new Map<number, Hex[]>()
  const complaints = new Map<number, WireComplaint[]>()
  const answers = new Map<number, WireAnswer[]>()
  const digests = new Map<number, Extract<DkgMessage, { kind: 'digest' }>>()
  let wake: (() => void) | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped: string | undefined

  let resolve!: (r: DkgSessionResult) => void
  let reject!: (err: unknown) => void
  const result = new Promise<DkgSessionResult>((res, rej) => {
    resolve = res
    reject = rej
  })
  result.catch(() => {}) // callers that never look at a failed session do not crash the process

  const fail = (message: string, details?: string) =>
    new DkgSessionError(`DKG session ${id} failed: ${message}`, { details })

  /** Waits until `done()` holds or the phase times out; true if it holds. */
  async function until(done: () => boolean): Promise<boolean> {
    const deadline = Date.now() + phaseTimeoutMs
    for (;;) {
      if (stopped) throw fail(stopped)
      if (done()) return true
      const left = deadline - Date.now()
      if (left <= 0) return false
      await new Promise<void>((res) => {
        wake = res
        timer = setTimeout(res, left)
      })
      clearTimeout(timer)
      wake = undefined
    }
  }

  const members = () => Array.from({ length: n }, (_, i) => i + 1)

  async function run(): Promise<DkgSessionResult> {
    participants = contexts.map((context) =>
      createDkgParticipant({
        n,
        t,
        index,
        context,
        ...(params.random ? { random: params.random } : {}),
      }),
    )

    // Deal.
    phase = 'deal'
    const mine: ReturnType<DkgParticipant['deal']>[] = []
    for (const p of participants) {
      mine.push(p.deal())
      await breathe()
    }
    const myDeals = mine.map((d) => ({
      commitments: d.broadcast.commitments,
      proof: d.broadcast.proof,
    }))
    deps.transport.broadcast({ kind: 'deal', session: id, deals: myDeals })
    for (const j of members())
      if (j !== index)
        deps.transport.send(j, {
          kind: 'share',
          session: id,
          shares: mine.map((d) => d.shares.get(j)!),
        })
    deals.set(index, myDeals)
    shares.set(
      index,
      mine.map((d) => d.shares.get(index)!),
    )
    await until(() => members().every((j) => deals.has(j) && shares.has(j)))
    phase = 'complaints'
    const dealers = [...deals.keys()].sort((a, b) => a - b)
    for (const j of dealers) {
      const d = deals.get(j)!
      participants.forEach((p, b) => {
        p.receiveBroadcast({ dealer: j, ...(d[b] as WireDeal) })
      })
      await breathe()
    }
    for (const [j, s] of [...shares].sort((a, b) => a[0] - b[0])) {
      participants.forEach((p, b) => {
        p.receiveShare(j, s[b] as Hex)
      })
      await breathe()
    }
    log('dkg deals in', { session: id, dealers })

    // Complaints.
    const myComplaints = participants.flatMap((p, instance) =>
      p.complaints().map((c) => ({ instance, dealer: c.dealer })),
    )
    deps.transport.broadcast({ kind: 'complaints', session: id, complaints: myComplaints })
    complaints.set(index, myComplaints)
    await until(() => dealers.every((j) => complaints.has(j)))
    phase = 'answers'
    const accused = new Set<number>()
    for (const [accuser, list] of [...complaints].sort((a, b) => a[0] - b[0]))
      for (const c of list) {
        participants[c.instance]!.receiveComplaint({ accuser, dealer: c.dealer })
        if (deals.has(c.dealer)) accused.add(c.dealer)
      }

    // Answers, when someone was accused.
    if (accused.size > 0) {
      log('dkg complaints', { session: id, accused: [...accused] })
      if (accused.has(index)) {
        const myAnswers = participants.flatMap((p, instance) =>
          p.answers().map((a) => ({ instance, accuser: a.accuser, share: a.share })),
        )
        deps.transport.broadcast({ kind: 'answers', session: id, answers: myAnswers })
        answers.set(index, myAnswers)
      }
      await until(() => [...accused].every((j) => answers.has(j)))
      for (const [dealer, list] of [...answers].sort((a, b) => a[0] - b[0]))
        for (const a of list)
          participants[a.instance]!.receiveAnswer({ dealer, accuser: a.accuser, share: a.share })
    }
    phase = 'digest'

    // Finish and compare.
    const results: DkgResult[] = []
    try {
      for (const p of participants) {
        results.push(p.finish())
        await breathe()
      }
    } catch (err) {
      throw fail(errorMessage(err), (err as BaseError).details)
    }
    const transcripts = participants.map((p) => p.transcriptDigest())
    const digest = sessionDigest(id, params.context, results, transcripts)
    const proof = params.proveShares ? results[0]!.shareProof : undefined
    deps.transport.broadcast({ kind: 'digest', session: id, digest, ...(proof ? { proof } : {}) })
    digests.set(index, { kind: 'digest', session: id, digest, proof })
    const valid = new Map<number, boolean>()
    const agreeing = () =>
      [...digests].filter(([j, d]) => {
        if (d.digest.toLowerCase() !== digest.toLowerCase()) return false
        if (!params.proveShares || j === index) return true
        let ok = valid.get(j)
        if (ok === undefined) {
          ok =
            d.proof !== undefined &&
            verifyShareKeyProof(results[0]!.shareKeys[j - 1]!, d.proof, contexts[0]!, j)
          if (!ok) log('dkg share proof invalid', { session: id, member: j })
          valid.set(j, ok)
        }
        return ok
      })
    await until(() => agreeing().length >= params.quorum || dealers.every((j) => digests.has(j)))
    const agreed = agreeing()
      .map(([j]) => j)
      .sort((a, b) => a - b)
    if (agreed.length < params.quorum)
      throw fail(
        `${agreed.length} members reported this digest; ${params.quorum} are needed`,
        JSON.stringify({
          mine: digest,
          reported: Object.fromEntries([...digests].map(([j, d]) => [j, d.digest])),
        }),
      )
    return { id, results, digest, agreed }
  }

  return {
    id,
    result,
    start() {
      if (phase !== 'idle') return
      run().then(
        (r) => {
          phase = 'done'
          resolve(r)
        },
        (err) => {
          phase = 'done'
          reject(err)
        },
      )
    },
    deliver(from, m) {
      if (!(Number.isInteger(from) && from >= 1 && from <= n) || from === index) return
      if (m.session !== id || phase === 'done') return
      // First message of each kind per member counts; a phase's messages are ignored once it closed.
      switch (m.kind) {
        case 'deal':
          if (phase !== 'idle' && phase !== 'deal') return
          if (m.deals.length !== instances) {
            log('dkg message dropped', { session: id, from, reason: 'wrong instance count' })
            return
          }
          if (!deals.has(from)) deals.set(from, m.deals)
          break
        case 'share':
          if (phase !== 'idle' && phase !== 'deal') return
          if (m.shares.length !== instances) {
            log('dkg message dropped', { session: id, from, reason: 'wrong instance count' })
            return
          }
          if (!shares.has(from)) shares.set(from, m.shares)
          break
        case 'complaints':
          if (phase === 'answers' || phase === 'digest') return
          if (m.complaints.some((c) => c.instance >= instances)) return
          if (!complaints.has(from)) complaints.set(from, m.complaints)
          break
        case 'answers':
          if (phase === 'digest') return
          if (m.answers.some((a) => a.instance >= instances)) return
          if (!answers.has(from)) answers.set(from, m.answers)
          break
        case 'digest':
          if (!digests.has(from)) digests.set(from, m)
          break
      }
      wake?.()
    },
    stop(reason = 'stopped') {
      if (stopped || phase === 'done') return
      stopped = reason
      if (phase === 'idle') {
        phase = 'done'
        reject(fail(reason))
      }
      wake?.()
    },
  }
}

// ---- over the committee host ----

export type SessionSpec = {
  instances: number
  context: Hex
  proveShares?: boolean
  /** The envelope round of its messages (informational: the nonce batch). */
  round?: bigint
}

export type DkgRouterParams = {
  /** The committee's oracle addresses; member i is oracles[i − 1]. */
  oracles: readonly Address[]
  f: number
  phaseTimeoutMs: number
  /** Which sessions a message may open here (joining a session another member started). */
  accept(id: string): SessionSpec | undefined
  random?: () => bigint
}

export type DkgRouter = {
  index: number
  /** The session `id` (started now, or the one already running or done). */
  open(id: string, spec: SessionSpec): DkgSession
  /** Called for every session this router starts, whether opened here or joined. */
  onSession(fn: (s: DkgSession) => void): void
  /** Forgets a finished session (later messages for it are then judged by `accept` again). */
  forget(id: string): void
  close(): void
}

/**
 * Runs DKG sessions over a committee host: decodes `dkg/*` messages (a malformed one is logged
 * with the reason and dropped), routes them by session id, and joins a session another member
 * started when `accept` allows it.
 */
export function createDkgRouter(
  deps: { host: CommitteeHost; logger: Logger },
  params: DkgRouterParams,
): DkgRouter {
  const { host } = deps
  const oracles = params.oracles.map((a) => getAddress(a))
  const n = oracles.length
  const index = oracles.indexOf(getAddress(host.oracle)) + 1
  if (index === 0) throw new DkgSessionError('this host is not in the committee')
  const log = deps.logger.child({ component: 'oca-dkg' })
  const sessions = new Map<string, DkgSession>()
  const listeners: ((s: DkgSession) => void)[] = []
  let closed = false

  const transport = (round: bigint): DkgTransport => ({
    broadcast(m) {
      if (!closed) host.broadcast(encodeDkgMessage(m, round))
    },
    send(to, m) {
      if (!closed) host.send(oracles[to - 1]!, encodeDkgMessage(m, round))
    },
  })

  function open(id: string, spec: SessionSpec): DkgSession {
    let s = sessions.get(id)
    if (s) return s
    if (closed) throw new DkgSessionError('the DKG router is closed')
    s = createDkgSession(
      {
        id,
        n,
        t: params.f + 1,
        quorum: n - params.f,
        index,
        instances: spec.instances,
        context: spec.context,
        phaseTimeoutMs: params.phaseTimeoutMs,
        proveShares: spec.proveShares ?? false,
        ...(params.random ? { random: params.random } : {}),
      },
      {
        transport: transport(spec.round ?? 0n),
        log: (event, fields) => log.debug(fields, event),
      },
    )
    sessions.set(id, s)
    const started = Date.now()
    s.result.then(
      (r) =>
        log.info(
          { session: id, agreed: r.agreed, duration_ms: Date.now() - started },
          'DKG session done',
        ),
      (err) =>
        log.warn(
          { session: id, err: errorMessage(err), details: (err as BaseError).details },
          'DKG session failed',
        ),
    )
    for (const fn of listeners) fn(s)
    s.start()
    return s
  }

  const remove = host.onMessage((msg: InboundMessage) => {
    if (!isDkgType(msg.type) || closed) return
    const from = oracles.indexOf(getAddress(msg.from)) + 1
    if (from === 0) return
    let m: DkgMessage
    try {
      m = decodeDkgMessage(msg)
    } catch (err) {
      log.warn(
        {
          peer: msg.from,
          type: msg.type,
          reason: reasonOf(err),
        },
        'dropped a malformed DKG message',
      )
      return
    }
    let s = sessions.get(m.session)
    if (!s) {
      const spec = params.accept(m.session)
      if (!spec) {
        log.debug({ peer: msg.from, session: m.session }, 'DKG message for a session not taken')
        return
      }
      s = open(m.session, spec)
    }
    s.deliver(from, m)
  })

  return {
    index,
    open,
    onSession(fn) {
      listeners.push(fn)
    },
    forget(id) {
      const s = sessions.get(id)
      s?.stop('forgotten')
      sessions.delete(id)
    },
    close() {
      closed = true
      remove()
      for (const s of sessions.values()) s.stop('router closed')
    },
  }
}
