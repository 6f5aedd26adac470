import { type Address, getAddress, type Hex, keccak256, type PublicClient, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { groupKeyHex } from '../chain/oca-deploy.ts'
import type { Common } from '../common.ts'
import { parsePoint } from '../crypto/dkg.ts'
import { toPublicKey } from '../crypto/schnorr.ts'
import { type BaseError, errorMessage } from '../errors.ts'
import { type FeedState, readFeed } from '../oca/aggregator.ts'
import {
  createOcaMember,
  ensureGroupKey,
  type OcaMember,
  type RoundOutcome,
} from '../oca/member.ts'
import { encodeProviderMessage, type ProviderMessage } from '../oca/provider.ts'
import { configDigestOf } from '../oca/report.ts'
import { reshareGroupKey } from '../oca/reshare-session.ts'
import { isOcaType } from '../oca/wire.ts'
import { type CommitteeHost, createCommitteeHost } from '../p2p/host.ts'
import type { Ed25519PrivateKey } from '../p2p/keys.ts'
import { peerIdOf } from '../p2p/keys.ts'
import { committeeFromRegistry } from '../p2p/registry.ts'
import type { OffchainAggregationSpec, ParsedJob } from '../pipeline/job-spec.ts'
import { parseDuration } from '../pipeline/params.ts'
import type { TaskDeps } from '../pipeline/task.ts'
import type { OcaRepository } from '../store/oca.ts'
import type { Txm } from '../txm/index.ts'
import { feedRoundReason, outOfBounds } from './commitreveal/feed.ts'
import { type Loop, startLoop } from './commitreveal/loop.ts'
import { FEED_DEFAULTS } from './commitreveal.ts'
import { observeValue } from './observe.ts'
import { type BufferedHost, bufferedHost } from './offchainaggregation/buffered-host.ts'
import {
  chainNow,
  encodeRegister,
  encodeTransmit,
  OcaJobError,
  REGISTER_GAS,
  readAggregator,
  registeredPeer,
  sendAndWait,
  TRANSMIT_GAS,
} from './offchainaggregation/chain.ts'

/**
 * The `offchainaggregation` job type (whitepaper Appendix A, Algorithm 2, one committee
 * member's side, inside the node): for a ThresholdAggregator at `contractAddress` — deployed
 * before or after the job starts — the node
 *
 * 1. opens its committee host (libp2p, its own key, sealed in the database) on `p2pListen` or
 *    the node's `[p2p] listen`, and registers peer id and addresses in the OracleRegistry from
 *    its oracle key (through the transaction manager) unless they are there already;
 * 2. waits until every member of `oracles` is registered, then admits exactly them;
 * 3. makes the group key by DKG with the committee (once: the share is sealed in the database),
 *    bound to the config digest of (chain, contractAddress, oracles, f, configVersion) — so a
 *    deployer can read the group key from the nodes' API and deploy the aggregator with it;
 * 4. waits until the aggregator is deployed with that config digest and group key;
 * 5. runs rounds: every `pollPeriod` it observes through the pipeline, and when the feed needs
 *    a round (deviation or heartbeat, as for commitreveal feeds) it starts round
 *    max(latest on chain, highest started) + 1; a member also joins a round another member
 *    started. The signed report goes on chain through the transaction manager, sent by the
 *    round's designated transmitter (fallbacks stand down once it is there).
 *
 * docs/protocol/oca.md ("The node's job") has the details and the operator's steps.
 */

export type OcaJobState =
  | 'starting'
  | 'registering'
  | 'waiting-for-committee'
  | 'key-generation'
  | 'waiting-for-aggregator'
  | 'running'
  /** The node dealt its share to a new committee it is not in (a committee change). */
  | 'left'
  | 'failed'
  | 'stopped'

export type OcaJobStatus = {
  state: OcaJobState
  aggregator: Address
  configDigest: Hex
  oracle: Address | undefined
  peerId: string | undefined
  /** The multiaddrs registered for this node. */
  addrs: string[]
  /** The committee's group key (compressed point) once the DKG is done. */
  groupKey: Hex | undefined
  /** The committee's share keys Y_1..Y_n (public; what a provider checks partials against). */
  shareKeys: Hex[]
  /** The group key as the ThresholdAggregator's constructor takes it. */
  groupKeyX: string | undefined
  groupKeyParity: number | undefined
  /** Members not registered yet (while waiting for the committee). */
  missing: Address[]
  latestRound: number
  highestStarted: number
  error: string | undefined
}

export type OcaJobEvent =
  | { kind: 'registered'; jobId: bigint; oracle: Address; peerId: string; addrs: string[] }
  | {
      kind: 'group-key'
      jobId: bigint
      configDigest: Hex
      groupKey: Hex
      /** Made by resharing the previous configuration's key (a committee change), not a DKG. */
      reshared: boolean
    }
  | { kind: 'left'; jobId: bigint }
  | { kind: 'running'; jobId: bigint; aggregator: Address }
  | { kind: 'round-started'; jobId: bigint; round: number; reason: string }
  | {
      kind: 'round-signed'
      jobId: bigint
      round: number
      answer: bigint
      view: number
      signers: number[]
      transmitter: number
      transmission: RoundOutcome['transmission']
      error?: string
    }
  | { kind: 'failed'; jobId: bigint; reason: string }

export type OffchainAggregationDeps = {
  chainId: number
  client(): Promise<PublicClient>
  txm: Pick<Txm, 'enqueue' | 'get'>
  /** The node's keys (address → private key): one is the job's oracle. */
  keys: ReadonlyMap<Address, Hex>
  /** The node's libp2p key (made on first use, sealed in the database). */
  p2pKey(): Promise<Ed25519PrivateKey>
  /** The OCA store (group key share, nonces), sealed under the keystore password. */
  store(): Promise<OcaRepository>
  p2p: { listen: string; announce: readonly string[] }
  taskDeps: TaskDeps
  defaultTimeoutMs: number
  onEvent?(event: OcaJobEvent): void
}

export type OffchainAggregationJob = {
  id: bigint
  externalJobID: string
  name?: string | null | undefined
  parsed: ParsedJob
}

export type AddOcaJobOptions = {
  /** The key the service keeps the job under (default `job.id`). */
  key?: bigint
  /** Variables every observation's `jobRun` starts from. */
  jobRun?: Record<string, unknown>
}

/** Defaults of the job's timing (the spec may set each). */
export const OCA_DEFAULTS = {
  viewTimeout: '5s',
  dkgPhaseTimeout: '10s',
  transmitStep: '2s',
  roundsPerBatch: 8,
}

/** Rounds ahead of the highest known one that a peer's message may start here. */
const MAX_ROUNDS_AHEAD = 3
/** How often (at most) the committee's registry entries are read again while peers are missing. */
const REFRESH_COMMITTEE_MS = 5_000

const INT192_MIN = -(2n ** 191n)
const INT192_MAX = 2n ** 191n - 1n

type Active = {
  /** The key the service keeps the job under (`job.id`, or the caller's synthetic key). */
  key: bigint
  job: OffchainAggregationJob
  /** Variables every observation's `jobRun` starts from (before `isFeed` and `round`). */
  jobRun: Record<string, unknown>
  spec: OffchainAggregationSpec
  status: OcaJobStatus
  stopping: AbortController
  host: CommitteeHost | undefined
  buffered: BufferedHost | undefined
  member: OcaMember | undefined
  feedLoop: Loop | undefined
  /** Rounds started here, with the wall-clock time they started. */
  started: Map<number, number>
  lastCommitteeRefresh: number
  /** Whom the host admits: old ∪ new committee while resharing, then the committee. */
  committee: Address[]
  run: Promise<void>
}

export function createOffchainAggregationService(common: Common, deps: OffchainAggregationDeps) {
  const log = common.logger.child({ component: 'offchainaggregation', chain_id: deps.chainId })
  const jobs = new Map<bigint, Active>()
  const emit = (e: OcaJobEvent) => deps.onEvent?.(e)

  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve()
      const t = setTimeout(resolve, ms)
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t)
          resolve()
        },
        { once: true },
      )
    })

  function timing(spec: OffchainAggregationSpec) {
    const pollMs = parseDuration(spec.pollPeriod ?? FEED_DEFAULTS.pollPeriod)
    const viewTimeoutMs = parseDuration(spec.viewTimeout ?? OCA_DEFAULTS.viewTimeout)
    const transmitStepMs = parseDuration(spec.transmitStep ?? OCA_DEFAULTS.transmitStep)
    const V = spec.f + 2
    const n = spec.oracles.length
    return {
      pollMs,
      viewTimeoutMs,
      transmitStepMs,
      phaseTimeoutMs: parseDuration(spec.dkgPhaseTimeout ?? OCA_DEFAULTS.dkgPhaseTimeout),
      roundsPerBatch: spec.roundsPerBatch ?? OCA_DEFAULTS.roundsPerBatch,
      viewsPerRound: V,
      heartbeatSeconds: BigInt(
        Math.max(1, Math.floor(parseDuration(spec.heartbeat ?? FEED_DEFAULTS.heartbeat) / 1000)),
      ),
      // A round that is neither on chain nor signed after every view and every fallback
      // transmitter had its turn is over; the next one may start.
      roundTimeoutMs: V * viewTimeoutMs + n * transmitStepMs + 5_000,
    }
  }

  function fields(a: Active, round?: number) {
    return {
      job_id: String(a.key),
      aggregator: a.status.aggregator,
      ...(round === undefined ? {} : { round }),
    }
  }

  function setState(a: Active, state: OcaJobState, error?: string) {
    a.status.state = state
    a.status.error = error
  }

  async function fail(a: Active, reason: string) {
    setState(a, 'failed', reason)
    log.error({ ...fields(a), reason }, 'offchainaggregation job failed')
    emit({ kind: 'failed', jobId: a.key, reason })
  }

  /**
   * The members' provider messages (commitment sets, evidence) POSTed to the provider's endpoint
   * (src/oca/provider-server.ts); a refusal or failure is logged by the member, never retried.
   */
  function postToProvider(url: string) {
    return async (m: ProviderMessage) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: encodeProviderMessage(m),
        signal: AbortSignal.timeout(5_000),
      })
      if (res.status !== 202) {
        throw new OcaJobError(`the provider answered ${res.status}`, {
          details: (await res.text()).slice(0, 300),
        })
      }
    }
  }

  /** Retries `fn` with back-off until it returns a value or the job stops. */
  async function retrying<T>(
    a: Active,
    what: string,
    fn: () => Promise<T | undefined>,
    intervalMs: number,
  ): Promise<T | undefined> {
    let delay = intervalMs
    for (;;) {
      if (a.stopping.signal.aborted) return undefined
      try {
        const v = await fn()
        if (v !== undefined) return v
        delay = intervalMs
      } catch (err) {
        log.warn(
          { ...fields(a), err: errorMessage(err), details: (err as BaseError).details },
          `${what} failed; trying again`,
        )
        a.status.error = `${what}: ${errorMessage(err)}`
        delay = Math.min(delay * 2, 30_000)
      }
      await sleep(delay, a.stopping.signal)
    }
  }

  function announced(host: CommitteeHost): string[] {
    if (deps.p2p.announce.length > 0) return [...deps.p2p.announce]
    return host.multiaddrs.map((m) => m.replace(/\/p2p\/[^/]+$/, ''))
  }

  /** The feed and the decision to start a round; runs every poll period once the job runs. */
  async function poll(a: Active, bounds: { min: bigint; max: bigint }) {
    const member = a.member
    if (!member || a.stopping.signal.aborted) return
    const t = timing(a.spec)
    const client = await deps.client()
    const feed: FeedState = await readFeed(client, a.status.aggregator)
    a.status.latestRound = Math.max(a.status.latestRound, feed.round)
    const highest = a.status.highestStarted
    // A round of ours still running (not on chain, not timed out): let it finish.
    if (highest > feed.round) {
      const startedAt = a.started.get(highest) ?? 0
      if (Date.now() - startedAt < t.roundTimeoutMs) return
    }
    await refreshCommittee(a, false)
    const observed = await observeValue(
      {
        taskDeps: deps.taskDeps,
        defaultTimeoutMs: deps.defaultTimeoutMs,
        signal: a.stopping.signal,
      },
      a.job,
      { isFeed: true, ...a.jobRun },
    )
    if ('reason' in observed) {
      log.warn({ ...fields(a), reason: observed.reason }, 'feed observation failed')
      return
    }
    const bad = outOfBounds(observed.value, bounds.min, bounds.max)
    if (bad) {
      log.warn({ ...fields(a), reason: bad }, 'feed observation outside the bounds')
      return
    }
    const reason = feedRoundReason({
      latest:
        feed.answer === undefined || feed.updatedAt === undefined
          ? undefined
          : { answer: feed.answer, updatedAt: feed.updatedAt },
      value: observed.value,
      now: await chainNow(client),
      heartbeatSeconds: t.heartbeatSeconds,
      deviationThreshold: a.spec.deviationThreshold ?? FEED_DEFAULTS.deviationThreshold,
    })
    if (!reason) return
    await startRound(a, Math.max(feed.round, highest) + 1, reason)
  }

  async function startRound(a: Active, round: number, reason: string) {
    const member = a.member
    if (!member || a.started.has(round) || a.stopping.signal.aborted) return
    a.started.set(round, Date.now())
    a.status.highestStarted = Math.max(a.status.highestStarted, round)
    for (const r of a.started.keys()) if (r < round - 16) a.started.delete(r)
    log.info({ ...fields(a, round), reason }, 'starting an OCA round')
    emit({ kind: 'round-started', jobId: a.key, round, reason })
    await member.startRound(round)
  }

  /** A committee message for a round this member has not started: join it (bounded ahead). */
  function peek(a: Active, msg: { type: string; round: bigint }) {
    if (!a.member || !isOcaType(msg.type)) return
    const round = Number(msg.round)
    const base = Math.max(a.status.highestStarted, a.status.latestRound)
    if (round <= base || round > base + MAX_ROUNDS_AHEAD || a.started.has(round)) return
    void startRound(a, round, 'another member started it').catch((err: unknown) =>
      log.warn({ ...fields(a, round), err: errorMessage(err) }, 'could not join the round'),
    )
  }

  /**
   * Reads the committee's registry entries again and gives them to the host when they changed
   * (a member restarted on another port). `force` reads now; otherwise only while some member
   * is not connected, and at most every REFRESH_COMMITTEE_MS.
   */
  async function refreshCommittee(a: Active, force: boolean) {
    const host = a.host
    if (!host) return
    if (!force) {
      if (host.connectedPeers().length >= a.committee.length - 1) return
      if (Date.now() - a.lastCommitteeRefresh < REFRESH_COMMITTEE_MS) return
    }
    a.lastCommitteeRefresh = Date.now()
    const committee = await committeeFromRegistry(
      await deps.client(),
      a.spec.registryAddress,
      a.committee,
    )
    await host.setConfig({ configDigest: a.status.configDigest, committee })
  }

  async function run(a: Active): Promise<void> {
    const { spec } = a
    const signal = a.stopping.signal
    const t = timing(spec)
    // The node's key in the committee.
    const keys = [...deps.keys.keys()].map((k) => getAddress(k))
    const oracle =
      spec.transmitterAddress ??
      keys.find((k) => spec.oracles.includes(k)) ??
      keys.find((k) => spec.previousOracles?.includes(k))
    if (!oracle || !deps.keys.has(oracle)) {
      const why = spec.transmitterAddress
        ? `the node has no key ${spec.transmitterAddress} (transmitterAddress)`
        : `none of the node's keys (${keys.join(', ') || 'none'}) is one of the job's oracles`
      return fail(a, why)
    }
    const leaving = !spec.oracles.includes(oracle)
    a.status.oracle = oracle
    const account = privateKeyToAccount(deps.keys.get(oracle)!)

    // 1. The committee host, and this node's entry in the registry.
    let p2pKey: Ed25519PrivateKey
    let store: OcaRepository
    try {
      p2pKey = await deps.p2pKey()
      store = await deps.store()
    } catch (err) {
      return fail(a, errorMessage(err))
    }
    const peerId = peerIdOf(p2pKey)
    a.status.peerId = peerId
    const listen = spec.p2pListen ?? deps.p2p.listen
    try {
      a.host = await createCommitteeHost(
        { logger: common.logger, metrics: common.metrics },
        {
          privateKey: p2pKey,
          oracle,
          committee: [{ oracle, peerId, addrs: [] }],
          configDigest: a.status.configDigest,
          listen: [listen],
          backoff: { initialMs: 100, maxMs: 2_000 },
          onMessage: () => {},
        },
      )
    } catch (err) {
      return fail(a, `cannot listen on ${listen}: ${errorMessage(err)}`)
    }
    if (signal.aborted) {
      await a.host.stop().catch(() => {})
      return
    }
    a.buffered = bufferedHost(a.host, { peek: (msg) => peek(a, msg) })
    const addrs = announced(a.host)
    a.status.addrs = addrs
    setState(a, 'registering')
    const registered = await retrying(
      a,
      'registering in the OracleRegistry',
      async () => {
        const client = await deps.client()
        const entry = await registeredPeer(client, spec.registryAddress, oracle)
        if (entry.peerId === peerId && entry.addrs.join(' ') === addrs.join(' ')) return true
        await sendAndWait(
          deps.txm,
          {
            from: oracle,
            to: spec.registryAddress,
            data: encodeRegister(peerId, addrs),
            gasLimit: REGISTER_GAS,
            idempotencyKey: `oca/${deps.chainId}/${spec.registryAddress}/register/${oracle}/${keccak256(toHex(`${peerId} ${addrs.join(' ')}`))}`,
          },
          { timeoutMs: 120_000, signal },
        )
        log.info({ ...fields(a), peer_id: peerId, addrs }, 'registered in the OracleRegistry')
        emit({ kind: 'registered', jobId: a.key, oracle, peerId, addrs })
        return true
      },
      t.pollMs,
    )
    if (!registered) return

    // 2. The whole committee registered.
    setState(a, 'waiting-for-committee')
    const ready = await retrying(
      a,
      'reading the committee from the registry',
      async () => {
        const client = await deps.client()
        const missing: Address[] = []
        for (const o of a.committee) {
          if (!(await registeredPeer(client, spec.registryAddress, o)).peerId) missing.push(o)
        }
        a.status.missing = missing
        if (missing.length > 0) return undefined
        await refreshCommittee(a, true)
        return true
      },
      Math.max(t.pollMs, 200),
    )
    if (!ready) return
    a.status.error = undefined

    // 3. The group key (kept in the database: done once per configuration): a DKG, or, for a
    //    committee change, the previous committee's key reshared to this one.
    setState(a, 'key-generation')
    const previous =
      spec.previousOracles && spec.previousContractAddress
        ? {
            configDigest: configDigestOf({
              chainId: deps.chainId,
              aggregator: spec.previousContractAddress,
              oracles: spec.previousOracles,
              f: spec.previousF!,
              epoch: spec.previousConfigVersion!,
            }),
            oracles: spec.previousOracles,
            f: spec.previousF!,
          }
        : undefined
    const next = { configDigest: a.status.configDigest, oracles: spec.oracles, f: spec.f }
    const made = await retrying(
      a,
      previous ? 'resharing the group key' : 'the key DKG',
      async () =>
        previous
          ? ((await reshareGroupKey(
              { host: a.buffered!, store, logger: common.logger },
              { previous, next, phaseTimeoutMs: t.phaseTimeoutMs },
            )) ?? ('left' as const))
          : ensureGroupKey(
              { host: a.buffered!, store, logger: common.logger },
              { ...next, phaseTimeoutMs: t.phaseTimeoutMs },
            ),
      t.pollMs,
    )
    if (!made) return
    if (made === 'left' || leaving) {
      setState(a, 'left')
      log.info({ ...fields(a) }, 'dealt the key share to the new committee; leaving')
      emit({ kind: 'left', jobId: a.key })
      return
    }
    const key = made
    // From now on only the new committee is admitted.
    a.committee = spec.oracles
    await refreshCommittee(a, true).catch((err: unknown) =>
      log.warn({ ...fields(a), err: errorMessage(err) }, 'could not narrow the committee'),
    )
    const groupKey = toPublicKey(parsePoint(key.groupKey))
    a.status.groupKey = key.groupKey
    a.status.shareKeys = key.shareKeys
    a.status.groupKeyX = groupKeyHex(groupKey.x)
    a.status.groupKeyParity = groupKey.parity
    a.status.error = undefined
    log.info({ ...fields(a), group_key: key.groupKey }, 'group key ready')
    emit({
      kind: 'group-key',
      jobId: a.key,
      configDigest: a.status.configDigest,
      groupKey: key.groupKey,
      reshared: previous !== undefined,
    })

    // 4. The aggregator, deployed with this configuration and key.
    setState(a, 'waiting-for-aggregator')
    const deployed = await retrying(
      a,
      'reading the aggregator',
      () => deps.client().then((c) => readAggregator(c, spec.contractAddress)),
      Math.max(t.pollMs, 200),
    )
    if (!deployed) return
    if (deployed.configDigest.toLowerCase() !== a.status.configDigest.toLowerCase()) {
      return fail(
        a,
        `the aggregator at ${spec.contractAddress} has config digest ${deployed.configDigest}, not ${a.status.configDigest} (check oracles, f and configVersion against it)`,
      )
    }
    if (deployed.groupKey.x !== groupKey.x || deployed.groupKey.parity !== groupKey.parity) {
      return fail(
        a,
        `the aggregator at ${spec.contractAddress} was deployed with another group key than the committee's ${key.groupKey}`,
      )
    }
    if (deployed.bounds.min < INT192_MIN || deployed.bounds.max > INT192_MAX) {
      return fail(a, 'the aggregator reports bounds outside int192')
    }

    // 5. Rounds.
    try {
      a.member = await createOcaMember(
        {
          logger: common.logger,
          host: a.buffered,
          store,
          observe: async (round) => {
            const o = await observeValue(
              { taskDeps: deps.taskDeps, defaultTimeoutMs: deps.defaultTimeoutMs, signal },
              a.job,
              { isFeed: true, ...a.jobRun, round },
            )
            if ('reason' in o) throw new OcaJobError(o.reason)
            const bad = outOfBounds(o.value, deployed.bounds.min, deployed.bounds.max)
            if (bad) throw new OcaJobError(bad)
            return o.value
          },
          signObservation: (digest) => account.signMessage({ message: { raw: digest } }),
          latestRound: async () =>
            (await readFeed(await deps.client(), spec.contractAddress)).round,
          transmit: async (report, signature) => {
            await sendAndWait(
              deps.txm,
              {
                from: oracle,
                to: spec.contractAddress,
                data: encodeTransmit(report, signature),
                gasLimit: TRANSMIT_GAS,
                idempotencyKey: `oca/${deps.chainId}/${spec.contractAddress}/${report.round}/transmit`,
              },
              { timeoutMs: 120_000, signal },
            )
          },
          ...(spec.providerURL ? { toProvider: postToProvider(spec.providerURL) } : {}),
          onOutcome: (o) => {
            a.status.latestRound = Math.max(
              a.status.latestRound,
              o.transmission === 'failed' ? 0 : o.round,
            )
            emit({
              kind: 'round-signed',
              jobId: a.key,
              round: o.round,
              answer: o.report.answer,
              view: o.view,
              signers: o.signers,
              transmitter: o.transmitter,
              transmission: o.transmission,
              ...(o.error ? { error: o.error } : {}),
            })
          },
        },
        {
          configDigest: a.status.configDigest,
          oracles: spec.oracles,
          f: spec.f,
          viewTimeoutMs: t.viewTimeoutMs,
          phaseTimeoutMs: t.phaseTimeoutMs,
          roundsPerBatch: t.roundsPerBatch,
          viewsPerRound: t.viewsPerRound,
          transmitStepMs: t.transmitStepMs,
        },
      )
    } catch (err) {
      return fail(a, errorMessage(err))
    }
    if (signal.aborted) {
      await a.member.stop()
      return
    }
    a.status.latestRound = (await readFeed(await deps.client(), spec.contractAddress)).round
    setState(a, 'running')
    log.info({ ...fields(a), member: a.member.index }, 'offchainaggregation job running')
    emit({ kind: 'running', jobId: a.key, aggregator: spec.contractAddress })
    a.feedLoop = startLoop(
      () => poll(a, deployed.bounds),
      t.pollMs,
      (err) =>
        log.warn(
          { ...fields(a), err: errorMessage(err), details: (err as BaseError).details },
          'feed poll failed',
        ),
    )
  }

  /** Jobs being removed: `stop` waits for them too (a DELETE does not wait). */
  const removing = new Set<Promise<void>>()

  function removeJob(jobId: bigint): Promise<void> {
    const a = jobs.get(jobId)
    if (!a) return Promise.resolve()
    jobs.delete(jobId)
    const done = (async () => {
      a.stopping.abort()
      await a.feedLoop?.stop()
      // A DKG under way ends at its next phase timeout (its host is stopped below); no need to
      // wait for it: whatever it makes after this point is stopped where it is made.
      await Promise.race([a.run, new Promise((resolve) => setTimeout(resolve, 2_000))])
      await a.member?.stop()
      a.buffered?.detach()
      await a.host?.stop().catch(() => {})
      if (a.status.state !== 'failed') setState(a, 'stopped')
    })()
    removing.add(done)
    void done.finally(() => removing.delete(done))
    return done
  }

  return {
    /**
     * Runs `job`. `options.key` keeps it under another key than `job.id` (status, removeJob,
     * events' `jobId`): a bidder's SLA member is a synthetic job that observes through a
     * commitreveal job's pipeline, so it carries that job's id and externalJobID for the
     * pipeline's `jobSpec` variables and a key of its own. `options.jobRun` adds variables to
     * every observation's `jobRun` (an SLA's query parameters as a request round gives them).
     */
    addJob(job: OffchainAggregationJob, options: AddOcaJobOptions = {}): void {
      const spec = job.parsed.spec
      const key = options.key ?? job.id
      if (jobs.has(key) || spec.type !== 'offchainaggregation') return
      if (spec.evmChainID !== undefined && spec.evmChainID !== BigInt(deps.chainId)) {
        log.warn({ job_id: String(key) }, 'the job is for another chain; not run')
        return
      }
      const configDigest = configDigestOf({
        chainId: deps.chainId,
        aggregator: spec.contractAddress,
        oracles: spec.oracles,
        f: spec.f,
        epoch: spec.configVersion,
      })
      const a: Active = {
        key,
        job,
        jobRun: options.jobRun ?? {},
        spec,
        status: {
          state: 'starting',
          aggregator: spec.contractAddress,
          configDigest,
          oracle: undefined,
          peerId: undefined,
          addrs: [],
          groupKey: undefined,
          shareKeys: [],
          groupKeyX: undefined,
          groupKeyParity: undefined,
          missing: [],
          latestRound: 0,
          highestStarted: 0,
          error: undefined,
        },
        stopping: new AbortController(),
        host: undefined,
        buffered: undefined,
        member: undefined,
        feedLoop: undefined,
        started: new Map(),
        lastCommitteeRefresh: 0,
        committee: [...new Set([...spec.oracles, ...(spec.previousOracles ?? [])])],
        run: Promise.resolve(),
      }
      jobs.set(key, a)
      a.run = run(a).catch((err: unknown) => fail(a, errorMessage(err)))
    },

    status(jobId: bigint): OcaJobStatus | undefined {
      const a = jobs.get(jobId)
      return a
        ? { ...a.status, missing: [...a.status.missing], addrs: [...a.status.addrs] }
        : undefined
    },

    removeJob,

    async stop(): Promise<void> {
      await Promise.all([...[...jobs.keys()].map((id) => removeJob(id)), ...removing])
    },
  }
}

export type OffchainAggregationService = ReturnType<typeof createOffchainAggregationService>
