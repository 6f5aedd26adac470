import { type Address, encodeAbiParameters, getAddress, type Hex, keccak256 } from 'viem'
import type { Logger } from '../common.ts'
import { parsePoint, pointHex } from '../crypto/dkg.ts'
import type { SchnorrSignature } from '../crypto/schnorr.ts'
import { type BaseError, errorMessage } from '../errors.ts'
import { type BackoffOptions, backoffDelay } from '../p2p/backoff.ts'
import type { InboundMessage } from '../p2p/envelope.ts'
import type { CommitteeHost } from '../p2p/host.ts'
import type { OcaRepository, StoredGroupKey } from '../store/oca.ts'
import {
  createDkgRouter,
  type DkgRouter,
  type DkgSession,
  DkgSessionError,
  type SessionSpec,
} from './dkg-session.ts'
import { createOcaNode, leaderOf, OcaError, type OcaMessage, type RoundEvidence } from './node.ts'
import { commitSetMessage, evidenceMessage, type ProviderMessage } from './provider.ts'
import type { Report } from './report.ts'
import {
  decodeOcaMessage,
  encodeOcaMessage,
  isOcaType,
  MAX_DKG_INSTANCES,
  reasonOf,
} from './wire.ts'

/**
 * One committee member of the off-chain aggregation protocol (issue 7) on the real network:
 * the committee host (src/p2p/), the round state machine (src/oca/node.ts), a pool of nonces
 * made by DKG sessions in batches and kept in the database (src/store/oca.ts), a pacemaker that
 * ticks the view timeouts, and transmission of the signed report. See docs/protocol/oca.md.
 *
 * Nonce layout: batch k holds the nonces of rounds firstRound + k·R … firstRound + (k+1)·R − 1,
 * views 0 … V−1 each (R = roundsPerBatch, V = viewsPerRound); every member derives the same
 * (round, view) for each nonce, so nothing about nonces needs agreeing during a round. A round
 * that needs a view ≥ V has no nonce there and fails. When a round starts within `refillRounds`
 * of its batch's end, the member opens the next batch's session; the others join when its first
 * message reaches them.
 *
 * Transmission: the designated transmitter of round r is the leader of the view that signed,
 * leaderOf(r, view); member j waits ((j − transmitter) mod n) × transmitStepMs, reads the
 * aggregator's latest round and stands down if it is ≥ r, else transmits.
 */

export type OcaMemberParams = {
  /** The ThresholdAggregator's config digest (also the DKG sessions' context). */
  configDigest: Hex
  /** The committee as in the aggregator; member i is oracles[i − 1]. */
  oracles: readonly Address[]
  f: number
  viewTimeoutMs: number
  /** Pacemaker period. Default viewTimeoutMs / 10. */
  tickMs?: number
  /** DKG phase timeout (nonce batches). */
  phaseTimeoutMs: number
  /** The first round of the configuration. Default 1. */
  firstRound?: number
  /** Rounds per nonce batch (R). */
  roundsPerBatch: number
  /** Views with a nonce per round (V). Default f + 2: f+1 distinct leaders and one spare. */
  viewsPerRound?: number
  /** Open the next batch when a round starts this close to its batch's end. Default ⌈R/2⌉. */
  refillRounds?: number
  /** DKG sessions a nonce batch may take (the first and its retries). Default 3. */
  batchAttempts?: number
  /** Wait before retrying a failed batch: attempt k waits d/2…d, d = min(max, initial·2^k). Default phaseTimeoutMs … 4·phaseTimeoutMs. */
  batchRetryBackoff?: BackoffOptions
  /** Fallback transmitter k waits k × this before checking the chain. */
  transmitStepMs: number
}

export type Transmission = 'transmitted' | 'stood-down' | 'failed'

export type RoundOutcome = {
  round: number
  report: Report
  signature: SchnorrSignature
  view: number
  signers: number[]
  /** The designated transmitter (member index). */
  transmitter: number
  transmission: Transmission
  error?: string
  /** Milliseconds from the round's start at this member (observe) to holding Σ. */
  signedMs: number
}

/** A round this member holds Σ for, as soon as it does (before any transmission). */
export type SignedRound = Omit<RoundOutcome, 'transmission' | 'error'>

export type OcaMemberDeps = {
  logger: Logger
  host: CommitteeHost
  store: OcaRepository
  observe(round: number): Promise<bigint>
  /** Signs an observation digest with the member's oracle key (EIP-191). */
  signObservation(digest: Hex): Promise<Hex>
  /** The aggregator's latest round (0 before the first). */
  latestRound(): Promise<number>
  /** Sends `transmit` (the node passes its transaction manager); resolves once it is on chain. */
  transmit(report: Report, signature: SchnorrSignature): Promise<void>
  /** Each signed round's outcome at this member, once its transmission step is over. */
  onOutcome?(outcome: RoundOutcome): void
  /** Each round this member holds Σ for, at once (before its transmission step). */
  onSigned?(signed: SignedRound): void
  /**
   * The provider's messages (Algorithm 3, src/oca/provider.ts), signed with the oracle key:
   * the commitment set at PREPARE, the evidence at Σ. The node forwards them to the provider
   * (its API); none are made when this is not given.
   */
  toProvider?(m: ProviderMessage): void | Promise<void>
  /** Randomness for DKG polynomials (tests). */
  random?: () => bigint
}

export type OcaMember = {
  index: number
  /** Takes part in `round`: waits for its nonces (a running batch session), then observes. */
  startRound(round: number): Promise<void>
  /** Makes sure the batch holding `round` exists (true) or failed here (false). */
  ensureNonces(round: number): Promise<boolean>
  /** Stops the pacemaker, the sessions and message handling (not the host or the database). */
  stop(): Promise<void>
}

/** The nonce batch sessions' context: the configuration and the nonce layout. */
function nonceContext(configDigest: Hex, firstRound: number, R: number, V: number): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'string' },
        { type: 'bytes32' },
        { type: 'uint32' },
        { type: 'uint32' },
        { type: 'uint32' },
      ],
      ['orakel/oca/nonces/v1', configDigest, firstRound, R, V],
    ),
  )
}

const KEY_SESSION = 'key'
/** `nonces/<batch>` (attempt 0) and `nonces/<batch>/<attempt>` (retries). */
const NONCE_SESSION = /^nonces\/(\d{1,9})(?:\/([1-9]\d?))?$/

/** The session of attempt `attempt` of nonce batch `batch` (attempt 0 keeps the plain id). */
export function nonceSessionId(batch: number, attempt: number): string {
  return attempt === 0 ? `nonces/${batch}` : `nonces/${batch}/${attempt}`
}

function parseNonceSession(id: string): { batch: number; attempt: number } | undefined {
  const m = NONCE_SESSION.exec(id)
  return m ? { batch: Number(m[1]), attempt: m[2] ? Number(m[2]) : 0 } : undefined
}
/** Messages kept for rounds this member has not started yet. */
const MAX_EARLY_ROUNDS = 4
const MAX_EARLY_PER_ROUND = 256
const PRUNE_EVERY = 8

/**
 * The member's share of the group key: from the store, or made now by a DKG session with the
 * committee (every member must run this at about the same time) and stored. The session is
 * bound to the config digest; members use the key only if n−f of them report the same session
 * digest with valid proofs of possession of their share keys.
 */
export async function ensureGroupKey(
  deps: { host: CommitteeHost; store: OcaRepository; logger: Logger; random?: () => bigint },
  params: { configDigest: Hex; oracles: readonly Address[]; f: number; phaseTimeoutMs: number },
): Promise<StoredGroupKey> {
  const existing = await deps.store.groupKey(params.configDigest)
  if (existing) return existing
  const spec: SessionSpec = { instances: 1, context: params.configDigest, proveShares: true }
  const router = createDkgRouter(
    { host: deps.host, logger: deps.logger },
    {
      oracles: params.oracles,
      f: params.f,
      phaseTimeoutMs: params.phaseTimeoutMs,
      accept: (id) => (id === KEY_SESSION ? spec : undefined),
      ...(deps.random ? { random: deps.random } : {}),
    },
  )
  try {
    const { results, digest } = await router.open(KEY_SESSION, spec).result
    const r = results[0]!
    await deps.store.saveGroupKey({
      configDigest: params.configDigest,
      index: router.index,
      n: params.oracles.length,
      f: params.f,
      groupKey: pointHex(r.groupKey),
      shareKeys: r.shareKeys,
      secretShare: r.secretShare,
      qualified: r.qualified,
      digest,
    })
    return (await deps.store.groupKey(params.configDigest))!
  } finally {
    router.close()
  }
}

export async function createOcaMember(
  deps: OcaMemberDeps,
  params: OcaMemberParams,
): Promise<OcaMember> {
  const { host, store } = deps
  const oracles = params.oracles.map((a) => getAddress(a))
  const n = oracles.length
  const f = params.f
  const index = oracles.indexOf(getAddress(host.oracle)) + 1
  if (index === 0) throw new OcaError('this host is not in the committee')
  const configDigest = params.configDigest
  const firstRound = params.firstRound ?? 1
  const R = params.roundsPerBatch
  const V = params.viewsPerRound ?? f + 2
  const refill = params.refillRounds ?? Math.ceil(R / 2)
  if (
    !(Number.isInteger(R) && R >= 1 && Number.isInteger(V) && V >= 1 && R * V <= MAX_DKG_INSTANCES)
  )
    throw new OcaError(`a nonce batch is R × V ≤ ${MAX_DKG_INSTANCES} nonces`, {
      details: `R = ${R}, V = ${V}`,
    })
  const key = await store.groupKey(configDigest)
  if (!key)
    throw new OcaError('no group key share for this configuration', {
      details: `config digest ${configDigest}; run ensureGroupKey first`,
    })
  if (key.n !== n || key.f !== f || key.index !== index)
    throw new OcaError('the stored group key belongs to another committee layout', {
      details: `stored n=${key.n} f=${key.f} index=${key.index}; now n=${n} f=${f} index=${index}`,
    })
  const log = deps.logger.child({ component: 'oca', member: index })
  const context = nonceContext(configDigest, firstRound, R, V)
  const batchOf = (round: number) => Math.floor((round - firstRound) / R)
  const firstOf = (batch: number) => firstRound + batch * R
  const lastOf = (batch: number) => firstRound + (batch + 1) * R - 1
  const specOf = (batch: number): SessionSpec => ({
    instances: R * V,
    context,
    round: BigInt(batch),
  })

  let stopped = false
  /** Rounds started in the node, and the highest. */
  const nodeRounds = new Set<number>()
  let highest = firstRound - 1
  try {
    // Rounds already on chain are over: no messages are kept for them, no batch before them made.
    highest = Math.max(highest, await deps.latestRound())
  } catch (err) {
    log.warn({ err: reasonOf(err) }, 'could not read the latest round')
  }
  /** When each running round started here (performance.now(), at observe). */
  const startedAt = new Map<number, number>()
  const early = new Map<number, OcaMessage[]>()
  let prunedAt = -Infinity
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const inFlight = new Set<Promise<void>>()

  // ---- nonce pool ----
  const stored = new Set((await store.batches(configDigest)).map((b) => b.batch))
  /** The latest attempt of each batch this member opened or joined. */
  const attempts = new Map<number, number>()
  /** Batches whose last allowed attempt failed here. */
  const exhausted = new Set<number>()
  /** The running attempt of a batch, resolving true once stored. */
  const pending = new Map<number, Promise<boolean>>()
  /** Batches waiting to retry (back-off timers). */
  const retries = new Map<number, ReturnType<typeof setTimeout>>()
  const maxAttempts = params.batchAttempts ?? 3
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1 && maxAttempts <= 100))
    throw new OcaError('a nonce batch takes 1 to 100 attempts', {
      details: `batchAttempts = ${maxAttempts}`,
    })
  const retryBackoff = {
    initialMs: params.batchRetryBackoff?.initialMs ?? params.phaseTimeoutMs,
    maxMs: params.batchRetryBackoff?.maxMs ?? 4 * params.phaseTimeoutMs,
  }

  const router: DkgRouter = createDkgRouter(
    { host, logger: deps.logger },
    {
      oracles,
      f,
      phaseTimeoutMs: params.phaseTimeoutMs,
      accept(id) {
        const session = parseNonceSession(id)
        if (!session || stopped) return undefined
        const { batch, attempt } = session
        const low = batchOf(Math.max(highest, firstRound))
        if (stored.has(batch) || batch < low || batch > low + 2 || attempt >= maxAttempts)
          return undefined
        // Another member opened a later attempt than any we took part in: join it. The others
        // moved on from ours (they failed it or never had it), so a running attempt of ours is
        // dropped; its nonces were never stored, and are never used.
        const latest = attempts.get(batch)
        if (latest !== undefined && attempt <= latest) return undefined
        if (latest !== undefined && pending.has(batch)) {
          log.info(
            { batch, attempt: latest, joining: attempt },
            'nonce batch: joining a later attempt',
          )
          router.forget(nonceSessionId(batch, latest))
        }
        const timer = retries.get(batch)
        if (timer) {
          clearTimeout(timer)
          retries.delete(batch)
        }
        exhausted.delete(batch)
        return specOf(batch)
      },
      ...(deps.random ? { random: deps.random } : {}),
    },
  )
  router.onSession((s: DkgSession) => {
    const session = parseNonceSession(s.id)
    if (!session) return
    const { batch, attempt } = session
    attempts.set(batch, attempt)
    const running: Promise<boolean> = s.result
      .then(async ({ results, digest }) => {
        const first = firstOf(batch)
        // One transaction; refused (false) if this batch is stored already, and (round, view)
        // is the nonces' key: an attempt's nonces never replace or join another attempt's.
        const saved = await store.saveBatch(configDigest, {
          batch,
          firstRound: first,
          lastRound: lastOf(batch),
          viewsPerRound: V,
          digest,
          nonces: results.map((r, position) => ({
            round: first + Math.floor(position / V),
            view: position % V,
            position,
            point: pointHex(r.groupKey),
            shares: r.shareKeys,
            share: r.secretShare,
          })),
        })
        stored.add(batch)
        if (!saved) {
          // Stored before (its nonces stay; these are dropped unused).
          log.warn({ batch, attempt }, 'nonce batch was stored already: this session discarded')
          return true
        }
        log.info(
          { batch, attempt, first_round: first, last_round: lastOf(batch) },
          'nonce batch stored',
        )
        return true
      })
      .catch((err): boolean | Promise<boolean> => {
        // Dropped for a later attempt: whoever waited for this one waits for that one.
        if (attempts.get(batch) !== attempt) return pending.get(batch) ?? false
        // The session's own failure is logged by the router; a store error is logged here.
        if (!(err instanceof DkgSessionError))
          log.error({ batch, attempt, err: reasonOf(err) }, 'nonce batch not stored')
        if (!stored.has(batch)) scheduleRetry(batch, attempt)
        return false
      })
      .finally(() => {
        if (pending.get(batch) === running) pending.delete(batch)
      })
    pending.set(batch, running)
  })

  /** After attempt `attempt` of `batch` failed here: the next one after a back-off, if allowed. */
  function scheduleRetry(batch: number, attempt: number) {
    if (stopped || attempts.get(batch) !== attempt || retries.has(batch)) return
    if (attempt + 1 >= maxAttempts || lastOf(batch) <= highest) {
      exhausted.add(batch)
      log.warn({ batch, attempts: attempt + 1 }, 'nonce batch failed: no retry left')
      return
    }
    const delay = backoffDelay(attempt, retryBackoff)
    log.warn(
      { batch, attempt, retry_in_ms: Math.round(delay) },
      'nonce batch failed: retrying with a new session',
    )
    const timer = setTimeout(() => {
      retries.delete(batch)
      if (stopped || stored.has(batch) || pending.has(batch) || attempts.get(batch) !== attempt)
        return
      openAttempt(batch, attempt + 1)
    }, delay)
    retries.set(batch, timer)
  }

  function openAttempt(batch: number, attempt: number): Promise<boolean> {
    router.open(nonceSessionId(batch, attempt), specOf(batch))
    return pending.get(batch)!
  }

  /**
   * The batch's nonces: true once stored; a running attempt's result; false while a retry waits
   * (rounds meanwhile are observed without signing) or once every attempt failed.
   */
  function ensureBatch(batch: number): Promise<boolean> {
    if (stored.has(batch)) return Promise.resolve(true)
    if (stopped || exhausted.has(batch) || retries.has(batch)) return Promise.resolve(false)
    const p = pending.get(batch)
    if (p) return p
    const next = attempts.has(batch) ? attempts.get(batch)! + 1 : 0
    if (next >= maxAttempts) return Promise.resolve(false)
    return openAttempt(batch, next)
  }

  // ---- the round state machine ----
  const node = createOcaNode(
    {
      n,
      f,
      index,
      configDigest,
      oracles,
      groupKey: parsePoint(key.groupKey),
      shareKeys: key.shareKeys,
      secretShare: key.secretShare,
      viewTimeoutMs: params.viewTimeoutMs,
    },
    {
      observe: deps.observe,
      signObservation: deps.signObservation,
      nonces: store.nonceStore(configDigest),
      send(to, m) {
        if (stopped) return
        try {
          host.send(oracles[to - 1]!, encodeOcaMessage(m))
        } catch (err) {
          log.warn({ to, type: m.type, err: errorMessage(err) }, 'could not send')
        }
      },
      broadcast(m) {
        if (stopped) return
        try {
          host.broadcast(encodeOcaMessage(m))
        } catch (err) {
          log.warn({ type: m.type, err: errorMessage(err) }, 'could not broadcast')
        }
      },
      onSignature(round, result) {
        if (stopped) return
        const signedMs = performance.now() - (startedAt.get(round) ?? performance.now())
        const transmitter = leaderOf(round, result.view, n)
        const k = (index - transmitter + n) % n
        deps.onSigned?.({ round, ...result, transmitter, signedMs })
        log.info(
          {
            round,
            view: result.view,
            signers: result.signers,
            answer: String(result.report.answer),
          },
          'round signed',
        )
        const timer = setTimeout(() => {
          timers.delete(timer)
          const task = transmit(round, result, transmitter, signedMs).finally(() =>
            inFlight.delete(task),
          )
          inFlight.add(task)
        }, k * params.transmitStepMs)
        timers.add(timer)
      },
      ...(deps.toProvider
        ? {
            onCommitSet(round: number, view: number, commitments: Map<number, Hex>, message: Hex) {
              forward(round, () =>
                commitSetMessage(
                  configDigest,
                  { round, view, member: index, message },
                  commitments,
                  deps.signObservation,
                ),
              )
            },
            onEvidence(round: number, evidence: RoundEvidence) {
              forward(round, () =>
                evidenceMessage(configDigest, round, index, evidence, deps.signObservation),
              )
            },
          }
        : {}),
      log: (event, fields) => {
        if (event === 'view change') log.info(fields, event)
        else if (event === 'proposal not signed' && !stored.has(batchOf(Number(fields.round))))
          log.debug(fields, event) // no nonces here: warned once when the round started
        else log.warn(fields, event)
      },
    },
  )

  /** Signs and hands a message to the provider, off the round's path; failures are logged. */
  function forward(round: number, make: () => Promise<ProviderMessage>) {
    const task = (async () => {
      try {
        const m = await make()
        if (!stopped) await deps.toProvider?.(m)
      } catch (err) {
        log.warn({ round, err: errorMessage(err) }, 'could not hand the provider its message')
      }
    })().finally(() => inFlight.delete(task))
    inFlight.add(task)
  }

  async function transmit(
    round: number,
    result: { report: Report; signature: SchnorrSignature; view: number; signers: number[] },
    transmitter: number,
    signedMs: number,
  ) {
    if (stopped) return
    let transmission: Transmission
    let error: string | undefined
    try {
      if ((await deps.latestRound()) >= round) transmission = 'stood-down'
      else {
        await deps.transmit(result.report, result.signature)
        transmission = 'transmitted'
      }
    } catch (err) {
      transmission = 'failed'
      error = errorMessage(err)
      log.warn({ round, err: error, details: (err as BaseError).details }, 'transmit failed')
    }
    log.info({ round, transmitter, transmission }, 'round transmission')
    deps.onOutcome?.({
      round,
      ...result,
      transmitter,
      transmission,
      ...(error ? { error } : {}),
      signedMs,
    })
  }

  // ---- messages ----
  const removeHandler = host.onMessage(async (msg: InboundMessage) => {
    if (stopped || !isOcaType(msg.type)) return
    const from = oracles.indexOf(getAddress(msg.from)) + 1
    if (from === 0) return
    let m: OcaMessage
    try {
      m = decodeOcaMessage(msg, from, n)
    } catch (err) {
      log.warn(
        {
          peer: msg.from,
          type: msg.type,
          reason: reasonOf(err),
        },
        'dropped a malformed OCA message',
      )
      return
    }
    if (nodeRounds.has(m.round)) {
      await receive(m)
      return
    }
    // A round this member has not started yet (it starts rounds a little later than others).
    if (m.round <= highest || m.round > highest + MAX_EARLY_ROUNDS) return
    let list = early.get(m.round)
    if (!list) {
      list = []
      early.set(m.round, list)
    }
    if (list.length < MAX_EARLY_PER_ROUND) list.push(m)
  })

  async function receive(m: OcaMessage) {
    try {
      await node.receive(m, Date.now())
    } catch (err) {
      log.warn({ round: m.round, type: m.type, err: errorMessage(err) }, 'OCA message failed')
    }
  }

  const pacemaker = setInterval(
    () => {
      if (!stopped) node.tick(Date.now())
    },
    params.tickMs ?? Math.max(10, Math.floor(params.viewTimeoutMs / 10)),
  )

  async function startRound(round: number): Promise<void> {
    if (stopped || nodeRounds.has(round) || !Number.isInteger(round) || round < firstRound) return
    const batch = batchOf(round)
    if (!(await ensureBatch(batch)))
      log.warn({ round, batch }, 'no nonces for this round here: observing without signing')
    if (round - firstOf(batch) >= 0 && lastOf(batch) - round < refill) void ensureBatch(batch + 1)
    if (stopped || nodeRounds.has(round)) return
    nodeRounds.add(round)
    highest = Math.max(highest, round)
    const buffered = early.get(round) ?? []
    early.delete(round)
    for (const r of early.keys()) if (r < round) early.delete(r)
    startedAt.set(round, performance.now())
    try {
      await node.startRound(round, Date.now())
    } catch (err) {
      log.error({ round, err: reasonOf(err) }, 'could not start the round')
    }
    for (const m of buffered) if (!stopped) await receive(m)
    if (stopped) return
    // Forget what no longer matters: old rounds, their sessions and unused nonces.
    node.prune(round - MAX_EARLY_ROUNDS)
    for (const r of nodeRounds) if (r < round - MAX_EARLY_ROUNDS) nodeRounds.delete(r)
    for (const r of startedAt.keys()) if (r < round - MAX_EARLY_ROUNDS) startedAt.delete(r)
    for (const [b, latest] of attempts)
      if (b < batch - 1) {
        for (let a = 0; a <= latest; a++) router.forget(nonceSessionId(b, a))
        attempts.delete(b)
        exhausted.delete(b)
      }
    // Unused nonces of past rounds: a delete every PRUNE_EVERY rounds, not one per round.
    if (round - prunedAt >= PRUNE_EVERY) {
      prunedAt = round
      try {
        await store.prune(configDigest, round - MAX_EARLY_ROUNDS)
      } catch (err) {
        log.warn({ round, err: reasonOf(err) }, 'could not prune old nonces')
      }
    }
  }

  log.info(
    { index, n, f, batches: [...stored], rounds_per_batch: R, views_per_round: V },
    'OCA member up',
  )

  return {
    index,
    startRound,
    ensureNonces: (round) =>
      round >= firstRound ? ensureBatch(batchOf(round)) : Promise.resolve(false),
    async stop() {
      if (stopped) return
      stopped = true
      clearInterval(pacemaker)
      for (const t of timers) clearTimeout(t)
      timers.clear()
      for (const t of retries.values()) clearTimeout(t)
      retries.clear()
      removeHandler()
      router.close()
      await Promise.allSettled([...inFlight, ...pending.values()])
    },
  }
}
