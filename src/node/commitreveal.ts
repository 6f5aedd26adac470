import {
  type Address,
  decodeEventLog,
  getAbiItem,
  getAddress,
  type Hex,
  type Log,
  toEventSelector,
  zeroAddress,
} from 'viem'
import { commitmentOf, randomSalt } from '../chain/commit-reveal.ts'
import type { Common } from '../common.ts'
import type { CommitRevealSpec, ParsedJob } from '../pipeline/job-spec.ts'
import { parseDuration } from '../pipeline/params.ts'
import type { TaskDeps } from '../pipeline/task.ts'
import type { CommitRevealRepository, CommitRevealRound, RoundKey } from '../store/commitreveal.ts'
import type { Queryable } from '../store/db.ts'
import type { Txm } from '../txm/index.ts'
import {
  AGGREGATOR_ABI,
  type AggregatorConfig,
  type AggregatorReader,
  encodeCommit,
  encodeReveal,
  encodeSettle,
  encodeStartFeedRound,
} from './commitreveal/aggregator.ts'
import { feedRoundReason, outOfBounds, settleDelay, starterIndex } from './commitreveal/feed.ts'
import { type Loop, startLoop } from './commitreveal/loop.ts'
import { specIdOf } from './directrequest.ts'
import type { LogSubscription } from './log-broadcaster.ts'
import { observeValue as observeJobValue } from './observe.ts'

/**
 * The `commitreveal` job type (whitepaper §4.2, Algorithm 1, one committee member's side): the
 * node takes part in the rounds of a CommitRevealAggregator. On `RoundStarted` (a request whose
 * specId is the job's, or, for `feed = true` jobs, a feed round) it runs the pipeline, checks
 * the integer it gives against the configuration's bounds, stores value, salt and commitment,
 * and queues `commit` in the same database transaction. When reveals open (`RevealsOpened`, or
 * the commit deadline by the chain's clock) it queues `reveal`. A round still open after its
 * reveal deadline is settled by one designated member. Feed jobs also watch the feed and start
 * rounds on a deviation or a heartbeat. Every transaction has an idempotency key
 * (`commitreveal/<chain>/<aggregator>/<round>/commit|reveal|settle`), so a restart never sends
 * a second, different one; rounds committed before a restart are revealed after it.
 * docs/protocol/commit-reveal.md describes the protocol from the node's side.
 */

const topic = (name: string) =>
  toEventSelector(getAbiItem({ abi: AGGREGATOR_ABI, name } as never) as never)

export const ROUND_STARTED_TOPIC = topic('RoundStarted')
export const REVEALS_OPENED_TOPIC = topic('RevealsOpened')
export const ROUND_FINALIZED_TOPIC = topic('RoundFinalized')
export const ROUND_FAILED_TOPIC = topic('RoundFailed')
export const CONFIG_SET_TOPIC = topic('ConfigSet')

/** Gas limits of the node's own transactions (reveal: see `revealGasLimit`). */
export const COMMIT_GAS = 200_000n
export const SETTLE_GAS = 300_000n
export const START_FEED_ROUND_GAS = 300_000n

/**
 * Gas for a reveal that may finalise the round: the aggregation over n values and the
 * requester's callback, which the contract promises `callbackGasLimit`.
 */
export function revealGasLimit(config: Pick<AggregatorConfig, 'callbackGasLimit' | 'oracles'>) {
  return BigInt(config.callbackGasLimit) + 300_000n + 10_000n * BigInt(config.oracles.length)
}

/** Defaults of the feed settings (a job sets them with `feed = true`). */
export const FEED_DEFAULTS = { deviationThreshold: '0.5', heartbeat: '1h', pollPeriod: '10s' }
/** Poll periods a member waits, when it is not its turn, before starting a needed feed round. */
export const FEED_GRACE_POLLS = 3

export type CommitRevealJob = {
  id: bigint
  externalJobID: string
  name?: string | null | undefined
  parsed: ParsedJob
}

export type CommitRevealEvent =
  | {
      kind: 'round-started'
      jobId: bigint
      roundId: bigint
      isFeed: boolean
      requestId: Hex | undefined
      requester: Address | undefined
      commitDeadline: bigint
      revealDeadline: bigint
    }
  | { kind: 'skipped'; jobId: bigint; roundId: bigint; reason: string }
  | {
      kind: 'committed'
      jobId: bigint
      roundId: bigint
      oracle: Address
      value: bigint
      commitment: Hex
      txId: bigint
    }
  | {
      kind: 'revealed'
      jobId: bigint
      roundId: bigint
      oracle: Address
      value: bigint
      txId: bigint
    }
  | { kind: 'finalized'; jobId: bigint; roundId: bigint; answer: bigint }
  | { kind: 'round-failed'; jobId: bigint; roundId: bigint }
  /** This node's part failed (a transaction reverted, a deadline passed). */
  | { kind: 'failed'; jobId: bigint; roundId: bigint; reason: string }
  | { kind: 'feed-round-requested'; jobId: bigint; reason: string; txId: bigint }
  | { kind: 'settle-sent'; jobId: bigint; roundId: bigint; txId: bigint }

export type CommitRevealDeps = {
  chainId: number
  subscribe(sub: LogSubscription): () => void
  rounds: CommitRevealRepository
  txm: Pick<Txm, 'enqueue' | 'wake' | 'get'>
  aggregator: AggregatorReader
  /** The node's sending keys; the one in the committee commits and reveals. */
  keys: readonly Address[]
  taskDeps: TaskDeps
  defaultTimeoutMs: number
  defaultMinConfirmations: number
  /** Milliseconds between checks of a job's open rounds (reveals, deadlines, settling). */
  tickMs: number
  /** Called as things happen, for `npm start` and tests. */
  onEvent?(event: CommitRevealEvent): void
  /** Salt source (tests); 32 random bytes by default. */
  salt?: () => Hex
}

type FeedState = {
  /** When (wall clock, ms) this node first saw that the feed needs a round, waiting its turn. */
  neededSince: number | undefined
  /** The idempotency key of the last startFeedRound this node queued. */
  lastStartKey: string | undefined
}

type ActiveJob = {
  job: CommitRevealJob
  spec: CommitRevealSpec
  aggregator: Address
  specId: Hex
  unsubscribe: () => void
  tick: Loop
  poll: Loop | undefined
  /** Rounds whose observation runs in this process (by round id). */
  observing: Set<bigint>
  /** Reveal transactions seen confirmed (no need to look again). */
  revealsConfirmed: Set<bigint>
  feed: FeedState
  /** Logged once: the node's keys are not in the committee. */
  notMemberLogged: boolean
}

export function createCommitRevealService(common: Common, deps: CommitRevealDeps) {
  const { db } = common
  const log = common.logger.child({ component: 'commitreveal', chain_id: deps.chainId })
  const jobs = new Map<bigint, ActiveJob>()
  /** The latest configuration read per aggregator; dropped on ConfigSet. */
  const configs = new Map<Address, AggregatorConfig>()
  const keys = deps.keys.map((k) => getAddress(k))
  const pending = new Set<Promise<void>>()
  const stopping = new AbortController()
  let stopped = false

  const emit = (event: CommitRevealEvent) => deps.onEvent?.(event)
  const keyOf = (a: ActiveJob, roundId: bigint): RoundKey => ({
    chainId: deps.chainId,
    aggregator: a.aggregator,
    roundId,
  })
  const txKey = (a: ActiveJob, what: string) =>
    `commitreveal/${deps.chainId}/${a.aggregator}/${what}`
  const fields = (a: ActiveJob, roundId?: bigint) => ({
    job_id: String(a.job.id),
    aggregator: a.aggregator,
    ...(roundId === undefined ? {} : { round: String(roundId) }),
  })

  function background(work: Promise<void>): void {
    pending.add(work)
    void work.finally(() => pending.delete(work))
  }

  /**
   * The configuration for a round of `version` (or the latest): read once per configuration
   * version. A newer version than the round's means the round can only be settled.
   */
  async function configFor(aggregator: Address, version?: number): Promise<AggregatorConfig> {
    const cached = configs.get(aggregator)
    if (cached && (version === undefined || cached.version >= version)) return cached
    const fresh = await deps.aggregator.latestConfig(aggregator)
    configs.set(aggregator, fresh)
    return fresh
  }

  function memberOf(config: AggregatorConfig): { address: Address; index: number } | undefined {
    for (const address of keys) {
      const index = config.oracles.findIndex((o) => getAddress(o) === address)
      if (index >= 0) return { address, index }
    }
    return undefined
  }

  /** The integer the pipeline gives, or why there is none. */
  const observeValue = (a: ActiveJob, jobRun: Record<string, unknown>) =>
    observeJobValue(
      {
        taskDeps: deps.taskDeps,
        defaultTimeoutMs: deps.defaultTimeoutMs,
        signal: stopping.signal,
      },
      a.job,
      jobRun,
    )

  async function skip(a: ActiveJob, roundId: bigint, reason: string): Promise<void> {
    if (!(await deps.rounds.skipped(keyOf(a, roundId), reason))) return
    log.info({ ...fields(a, roundId), reason }, 'not taking part in the round')
    emit({ kind: 'skipped', jobId: a.job.id, roundId, reason })
  }

  async function fail(a: ActiveJob, roundId: bigint, reason: string): Promise<void> {
    if (!(await deps.rounds.failed(keyOf(a, roundId), reason))) return
    log.warn({ ...fields(a, roundId), reason }, 'round participation failed')
    emit({ kind: 'failed', jobId: a.job.id, roundId, reason })
  }

  /**
   * Observes a round and commits: value checked against the bounds, value + salt + commitment
   * stored with the commit transaction in one database transaction. A failure that may pass
   * (RPC) leaves the round `observing`; the next tick tries again while commits are open.
   */
  async function observe(
    a: ActiveJob,
    round: Pick<CommitRevealRound, 'roundId' | 'configVersion' | 'commitDeadline' | 'inputs'>,
  ): Promise<void> {
    const { roundId } = round
    if (stopped || a.observing.has(roundId)) return
    a.observing.add(roundId)
    try {
      const config = await configFor(a.aggregator, round.configVersion)
      if (config.version !== round.configVersion) {
        return await skip(
          a,
          roundId,
          `the round runs under configuration ${round.configVersion}, replaced by ${config.version}`,
        )
      }
      const me = memberOf(config)
      if (!me) return await skip(a, roundId, "none of the node's keys is a committee member")
      const observed = await observeValue(a, round.inputs)
      if (stopped) return
      if ('reason' in observed) return await skip(a, roundId, observed.reason)
      const { value } = observed
      const bounds = outOfBounds(value, config.minAnswer, config.maxAnswer)
      if (bounds) return await skip(a, roundId, bounds)
      // Commits close at the deadline and at the first reveal.
      const [now, onChain] = await Promise.all([
        deps.aggregator.now(),
        deps.aggregator.getRound(a.aggregator, roundId),
      ])
      if (onChain.status !== 'Open' || onChain.revealBitmap !== 0 || now >= round.commitDeadline) {
        return await skip(a, roundId, 'commits closed before the observation finished')
      }
      const salt = deps.salt?.() ?? randomSalt()
      const commitment = commitmentOf({
        chainId: deps.chainId,
        aggregator: a.aggregator,
        configVersion: round.configVersion,
        roundId,
        oracle: me.address,
        value,
        salt,
      })
      const key = keyOf(a, roundId)
      const txId = await db.transaction(async (tx) => {
        if (
          !(await deps.rounds.committed(key, { oracle: me.address, value, salt, commitment }, tx))
        )
          return undefined
        const { id } = await deps.txm.enqueue(
          {
            from: me.address,
            to: a.aggregator,
            data: encodeCommit(roundId, commitment),
            gasLimit: COMMIT_GAS,
            idempotencyKey: txKey(a, `${roundId}/commit`),
          },
          tx,
        )
        await deps.rounds.setCommitTx(key, id, tx)
        return id
      })
      if (txId === undefined) return
      deps.txm.wake()
      log.info({ ...fields(a, roundId), oracle: me.address, tx_id: String(txId) }, 'committed')
      emit({
        kind: 'committed',
        jobId: a.job.id,
        roundId,
        oracle: me.address,
        value,
        commitment,
        txId,
      })
    } finally {
      a.observing.delete(roundId)
    }
  }

  /** A transaction's final outcome in words, or undefined while it is not final. */
  async function txOutcome(
    id: bigint | undefined,
  ): Promise<{ ok: true } | { ok: false; why: string } | undefined> {
    if (id === undefined) return { ok: false, why: 'no transaction was queued' }
    const t = await deps.txm.get(id)
    if (!t) return { ok: false, why: `transaction ${id} is unknown` }
    if (t.state === 'confirmed') return { ok: true }
    if (t.state === 'reverted') return { ok: false, why: `reverted: ${t.revertReason ?? '?'}` }
    if (t.state === 'fatal_error') return { ok: false, why: `never sent: ${t.error ?? '?'}` }
    return undefined
  }

  /** A committed round: reveal once the commit is mined and reveals are open. */
  async function afterCommit(a: ActiveJob, row: CommitRevealRound, now: bigint): Promise<void> {
    const commit = await txOutcome(row.commitTxId)
    if (commit === undefined) return
    if (!commit.ok) return fail(a, row.roundId, `the commit transaction ${commit.why}`)
    if (now >= row.revealDeadline) {
      return fail(a, row.roundId, 'the reveal deadline passed before the node could reveal')
    }
    // Until RevealsOpened is seen or the commit deadline passes there is nothing to do: no
    // chain read every tick while waiting.
    if (!(row.revealsOpen || now >= row.commitDeadline)) return
    const round = await deps.aggregator.getRound(a.aggregator, row.roundId)
    if (round.status === 'Failed') return fail(a, row.roundId, 'the round failed before the reveal')
    if (round.status === 'None') return
    const config = await configFor(a.aggregator, row.configVersion)
    if (config.version !== row.configVersion) {
      return fail(a, row.roundId, 'the configuration was replaced; the round can only be settled')
    }
    const key = keyOf(a, row.roundId)
    const oracle = row.oracle!
    const value = row.value!
    const txId = await db.transaction(async (tx) => {
      const { id } = await deps.txm.enqueue(
        {
          from: oracle,
          to: a.aggregator,
          data: encodeReveal(row.roundId, value, row.salt!),
          gasLimit: revealGasLimit(config),
          idempotencyKey: txKey(a, `${row.roundId}/reveal`),
        },
        tx,
      )
      return (await deps.rounds.revealed(key, id, tx)) ? id : undefined
    })
    if (txId === undefined) return
    deps.txm.wake()
    log.info({ ...fields(a, row.roundId), oracle, tx_id: String(txId) }, 'revealed')
    emit({ kind: 'revealed', jobId: a.job.id, roundId: row.roundId, oracle, value, txId })
  }

  /** The outcome of a round past its reveal deadline; settles it when it is this node's turn. */
  async function afterDeadline(a: ActiveJob, row: CommitRevealRound, now: bigint): Promise<void> {
    const key = keyOf(a, row.roundId)
    const round = await deps.aggregator.getRound(a.aggregator, row.roundId)
    if (round.status === 'Finalized') {
      await finalized(a, row.roundId, round.answer)
      return
    }
    if (round.status === 'Failed') {
      await roundFailed(a, row.roundId)
      return
    }
    if (round.status !== 'Open') return
    const config = await configFor(a.aggregator)
    const me = memberOf(config)
    if (!me) {
      await deps.rounds.settle(key, 'unsettled')
      return
    }
    if (row.settleTxId !== undefined) {
      const outcome = await txOutcome(row.settleTxId)
      if (outcome && !outcome.ok) {
        log.warn({ ...fields(a, row.roundId), reason: outcome.why }, 'settle failed')
        await deps.rounds.settle(key, 'unsettled')
      }
      return
    }
    const delay = settleDelay(
      row.roundId,
      me.index,
      config.oracles.length,
      BigInt(config.revealWindow),
    )
    if (now < row.revealDeadline + delay) return
    const { id } = await deps.txm.enqueue({
      from: me.address,
      to: a.aggregator,
      data: encodeSettle(row.roundId),
      gasLimit: SETTLE_GAS,
      idempotencyKey: txKey(a, `${row.roundId}/settle`),
    })
    await deps.rounds.setSettleTx(key, id)
    log.info({ ...fields(a, row.roundId), tx_id: String(id) }, 'settling a round past its deadline')
    emit({ kind: 'settle-sent', jobId: a.job.id, roundId: row.roundId, txId: id })
  }

  async function finalized(a: ActiveJob, roundId: bigint, answer: bigint, tx?: Queryable) {
    if (!(await deps.rounds.settle(keyOf(a, roundId), 'finalized', answer, tx))) return undefined
    const then = () => {
      log.info({ ...fields(a, roundId), answer: String(answer) }, 'round finalized')
      emit({ kind: 'finalized', jobId: a.job.id, roundId, answer })
    }
    if (tx) return then
    then()
    return undefined
  }

  async function roundFailed(a: ActiveJob, roundId: bigint, tx?: Queryable) {
    if (!(await deps.rounds.settle(keyOf(a, roundId), 'failed', undefined, tx))) return undefined
    const row = await deps.rounds.get(keyOf(a, roundId), tx)
    if (row?.state === 'observing')
      await deps.rounds.skipped(keyOf(a, roundId), 'the round failed', tx)
    if (row?.state === 'committed')
      await deps.rounds.failed(keyOf(a, roundId), 'the round failed', tx)
    const then = () => {
      log.warn(fields(a, roundId), 'round failed')
      emit({ kind: 'round-failed', jobId: a.job.id, roundId })
    }
    if (tx) return then
    then()
    return undefined
  }

  /** One pass over the job's active rounds. */
  async function tick(a: ActiveJob): Promise<void> {
    // A job's rounds may be on several aggregators (see `serveAggregator`): each has its loop.
    const rows = (await deps.rounds.active(a.job.id)).filter(
      (r) => r.aggregator.toLowerCase() === a.aggregator.toLowerCase(),
    )
    if (rows.length === 0) return
    const now = await deps.aggregator.now()
    for (const row of rows) {
      if (stopped) return
      try {
        if (row.state === 'observing' && !a.observing.has(row.roundId)) {
          if (now >= row.commitDeadline) {
            await skip(a, row.roundId, 'commits closed before the node observed the round')
          } else {
            background(
              observe(a, row).catch((err: unknown) =>
                log.warn({ ...fields(a, row.roundId), err }, 'observation failed; will retry'),
              ),
            )
          }
        } else if (row.state === 'committed') {
          await afterCommit(a, row, now)
        } else if (
          row.state === 'revealed' &&
          row.revealTxId !== undefined &&
          !a.revealsConfirmed.has(row.revealTxId)
        ) {
          const outcome = await txOutcome(row.revealTxId)
          if (outcome?.ok) a.revealsConfirmed.add(row.revealTxId)
          else if (outcome) await fail(a, row.roundId, `the reveal transaction ${outcome.why}`)
        }
        if (row.roundStatus === 'open' && now >= row.revealDeadline) {
          await afterDeadline(a, row, now)
        }
      } catch (err) {
        log.warn({ ...fields(a, row.roundId), err }, 'round check failed; will retry')
      }
    }
  }

  /** Feed jobs, every pollPeriod: start a round when the feed needs one and it is our turn. */
  async function poll(a: ActiveJob): Promise<void> {
    const spec = a.spec
    const config = await configFor(a.aggregator)
    const me = memberOf(config)
    if (!me) {
      if (!a.notMemberLogged) log.warn(fields(a), "none of the node's keys is in the committee")
      a.notMemberLogged = true
      return
    }
    a.notMemberLogged = false
    const [feedRoundId, now] = await Promise.all([
      deps.aggregator.latestFeedRoundId(a.aggregator),
      deps.aggregator.now(),
    ])
    if (feedRoundId > 0n) {
      const round = await deps.aggregator.getRound(a.aggregator, feedRoundId)
      if (round.status === 'Open' && now < round.revealDeadline) {
        a.feed.neededSince = undefined
        return
      }
    }
    const observed = await observeValue(a, { isFeed: true })
    if ('reason' in observed) {
      log.warn({ ...fields(a), reason: observed.reason }, 'feed observation failed')
      return
    }
    const bounds = outOfBounds(observed.value, config.minAnswer, config.maxAnswer)
    if (bounds) {
      log.warn({ ...fields(a), reason: bounds }, 'feed observation outside the bounds')
      return
    }
    const heartbeatSeconds = BigInt(
      Math.max(1, Math.floor(parseDuration(spec.heartbeat ?? FEED_DEFAULTS.heartbeat) / 1000)),
    )
    const reason = feedRoundReason({
      latest: await deps.aggregator.latestAnswer(a.aggregator),
      value: observed.value,
      now,
      heartbeatSeconds,
      deviationThreshold: spec.deviationThreshold ?? FEED_DEFAULTS.deviationThreshold,
    })
    if (!reason) {
      a.feed.neededSince = undefined
      return
    }
    a.feed.neededSince ??= Date.now()
    const pollMs = parseDuration(spec.pollPeriod ?? FEED_DEFAULTS.pollPeriod)
    const turn = starterIndex(now, heartbeatSeconds, config.oracles.length)
    if (me.index !== turn && Date.now() - a.feed.neededSince < FEED_GRACE_POLLS * pollMs) return
    // One attempt per previous feed round and minute: a refused start is retried a minute later.
    const idempotencyKey = txKey(a, `start-feed/${feedRoundId}/${now / 60n}`)
    if (idempotencyKey === a.feed.lastStartKey) return
    const data = encodeStartFeedRound()
    const revert = await deps.aggregator.wouldRevert(a.aggregator, me.address, data)
    if (revert) {
      log.info({ ...fields(a), reason, revert }, 'not starting a feed round')
      return
    }
    const { id, created } = await deps.txm.enqueue({
      from: me.address,
      to: a.aggregator,
      data,
      gasLimit: START_FEED_ROUND_GAS,
      idempotencyKey,
    })
    a.feed.lastStartKey = idempotencyKey
    if (!created) return
    log.info(
      { ...fields(a), reason, tx_id: String(id), turn: me.index === turn },
      'starting a feed round',
    )
    emit({ kind: 'feed-round-requested', jobId: a.job.id, reason, txId: id })
  }

  /** A job's logs of one delivery, in chain order; returns what to do once it committed. */
  async function onLogs(a: ActiveJob, logs: Log[], tx: Queryable): Promise<() => void> {
    const thens: (() => void)[] = []
    for (const raw of logs) {
      const t0 = raw.topics[0]
      if (t0 === CONFIG_SET_TOPIC) {
        thens.push(() => configs.delete(a.aggregator))
        continue
      }
      if (t0 === ROUND_STARTED_TOPIC) {
        const then = await onRoundStarted(a, raw, tx)
        if (then) thens.push(then)
        continue
      }
      const roundIdTopic = raw.topics[1]
      if (roundIdTopic === undefined) continue
      const roundId = BigInt(roundIdTopic)
      if (t0 === REVEALS_OPENED_TOPIC) {
        await deps.rounds.markRevealsOpen(keyOf(a, roundId), tx)
        thens.push(() => a.tick.kick())
      } else if (t0 === ROUND_FINALIZED_TOPIC) {
        const { args } = decodeEventLog({
          abi: AGGREGATOR_ABI,
          data: raw.data,
          topics: raw.topics,
          eventName: 'RoundFinalized',
        })
        const then = await finalized(a, roundId, args.answer, tx)
        if (then) thens.push(then)
      } else if (t0 === ROUND_FAILED_TOPIC) {
        const then = await roundFailed(a, roundId, tx)
        if (then) thens.push(then)
      }
    }
    return () => {
      for (const then of thens) then()
    }
  }

  async function onRoundStarted(
    a: ActiveJob,
    raw: Log,
    tx: Queryable,
  ): Promise<(() => void) | undefined> {
    const { args } = decodeEventLog({
      abi: AGGREGATOR_ABI,
      data: raw.data,
      topics: raw.topics,
      eventName: 'RoundStarted',
    })
    const isFeed = args.requester === zeroAddress
    // Request rounds for this job's spec id; feed rounds for feed jobs.
    if (isFeed ? !a.spec.feed : args.specId !== a.specId) return undefined
    const inputs: Record<string, unknown> = {
      roundId: args.roundId,
      isFeed,
      configVersion: args.configVersion,
      commitDeadline: args.commitDeadline,
      revealDeadline: args.revealDeadline,
      logTxHash: raw.transactionHash,
      logBlockHash: raw.blockHash,
      logBlockNumber: raw.blockNumber,
      ...(isFeed
        ? {}
        : {
            requester: args.requester,
            requestId: args.requestId,
            specId: args.specId,
            data: args.data,
          }),
    }
    const round = {
      chainId: deps.chainId,
      aggregator: a.aggregator,
      roundId: args.roundId,
      jobId: a.job.id,
      isFeed,
      configVersion: Number(args.configVersion),
      commitDeadline: BigInt(args.commitDeadline),
      revealDeadline: BigInt(args.revealDeadline),
      requestId: isFeed ? undefined : args.requestId,
      inputs,
    }
    if (!(await deps.rounds.insert(round, tx))) return undefined
    return () => {
      log.info({ ...fields(a, args.roundId), feed: isFeed }, 'round started')
      emit({
        kind: 'round-started',
        jobId: a.job.id,
        roundId: args.roundId,
        isFeed,
        requestId: isFeed ? undefined : args.requestId,
        requester: isFeed ? undefined : args.requester,
        commitDeadline: round.commitDeadline,
        revealDeadline: round.revealDeadline,
      })
      background(
        observe(a, round).catch((err: unknown) => {
          log.warn({ ...fields(a, args.roundId), err }, 'observation failed; will retry')
        }),
      )
    }
  }

  /** Rounds of other aggregators a job serves, by `<job id>/<aggregator>` (`serveAggregator`). */
  const served = new Map<string, ActiveJob>()
  const servedKey = (jobId: bigint, aggregator: Address) => `${jobId}/${getAddress(aggregator)}`

  function activate(job: CommitRevealJob, aggregator: Address, fromBlock?: bigint): ActiveJob {
    const spec = job.parsed.spec as CommitRevealSpec
    const onError = (what: string) => (err: unknown) =>
      log.warn({ job_id: String(job.id), aggregator, err }, `${what} failed`)
    const own = getAddress(aggregator) === getAddress(spec.contractAddress)
    const a = {
      job,
      // Another aggregator's request rounds only: the job's feed is on its own aggregator.
      spec: own ? spec : { ...spec, feed: false },
      aggregator: getAddress(aggregator),
      specId: specIdOf(job.externalJobID),
      observing: new Set<bigint>(),
      revealsConfirmed: new Set<bigint>(),
      feed: { neededSince: undefined, lastStartKey: undefined },
      notMemberLogged: false,
    } as ActiveJob
    a.unsubscribe = deps.subscribe({
      jobId: job.id,
      address: a.aggregator,
      topics: [
        [
          ROUND_STARTED_TOPIC,
          REVEALS_OPENED_TOPIC,
          ROUND_FINALIZED_TOPIC,
          ROUND_FAILED_TOPIC,
          CONFIG_SET_TOPIC,
        ],
      ],
      ...(fromBlock === undefined ? {} : { fromBlock }),
      minConfirmations: spec.minIncomingConfirmations ?? deps.defaultMinConfirmations,
      onLog: (raw, tx) => onLogs(a, [raw], tx),
      onLogs: (logs, tx) => onLogs(a, logs, tx),
      onRemoved: async (raw) => {
        log.warn(
          { ...fields(a), topic: raw.topics[0], round: raw.topics[1] },
          'an aggregator log left the canonical chain; the round goes on as the chain decides',
        )
      },
    })
    // The first tick runs at once: rounds committed before a restart are revealed.
    a.tick = startLoop(() => tick(a), deps.tickMs, onError('round check'))
    a.poll = a.spec.feed
      ? startLoop(
          () => poll(a),
          parseDuration(spec.pollPeriod ?? FEED_DEFAULTS.pollPeriod),
          onError('feed poll'),
        )
      : undefined
    return a
  }

  const halt = async (a: ActiveJob) => {
    a.unsubscribe()
    await Promise.all([a.tick.stop(), a.poll?.stop()])
  }

  return {
    /**
     * Also takes part in the request rounds of `aggregator` whose specId is job `jobId`'s, with
     * the job's pipeline, from block `fromBlock` on: how a node serves an SLA it was selected for
     * on one of a market's pool aggregators (src/node/bidder.ts). The subscription is the job's
     * (its log cursor and processed logs are the job's). False when the job is not active.
     */
    serveAggregator(jobId: bigint, aggregator: Address, fromBlock?: bigint): boolean {
      const base = jobs.get(jobId)
      if (stopped || !base) return false
      if (getAddress(aggregator) === base.aggregator) return true
      const key = servedKey(jobId, aggregator)
      if (served.has(key)) return true
      served.set(key, activate(base.job, aggregator, fromBlock))
      log.info({ job_id: String(jobId), aggregator, from_block: fromBlock }, 'serving aggregator')
      return true
    },

    /** Stops taking part in `aggregator`'s rounds for job `jobId` (its SLA is over). */
    async stopServing(jobId: bigint, aggregator: Address): Promise<void> {
      const key = servedKey(jobId, aggregator)
      const a = served.get(key)
      if (!a) return
      served.delete(key)
      await halt(a)
      log.info({ job_id: String(jobId), aggregator }, 'no longer serving aggregator')
    },

    /** Starts taking part in `job`'s aggregator's rounds (and, for feeds, watching the feed). */
    addJob(job: CommitRevealJob): void {
      if (stopped || jobs.has(job.id)) return
      const spec = job.parsed.spec
      if (spec.type !== 'commitreveal') return
      const a = activate(job, spec.contractAddress)
      jobs.set(job.id, a)
      log.info(
        { job_id: String(job.id), aggregator: a.aggregator, spec_id: a.specId, feed: spec.feed },
        'job active',
      )
    },

    async removeJob(jobId: bigint): Promise<void> {
      const a = jobs.get(jobId)
      if (!a) return
      jobs.delete(jobId)
      const extra = [...served].filter(([, s]) => s.job.id === jobId)
      for (const [key] of extra) served.delete(key)
      await Promise.all([a, ...extra.map(([, s]) => s)].map(halt))
    },

    /** Runs one check of a job's rounds now (tests). */
    async tick(jobId: bigint): Promise<void> {
      const a = jobs.get(jobId)
      if (a) await tick(a)
    },

    /** Waits for the observations in flight (tests, shutdown). */
    async idle(): Promise<void> {
      while (pending.size > 0) await Promise.all([...pending])
    },

    async stop(): Promise<void> {
      stopped = true
      stopping.abort()
      const all = [...jobs.values(), ...served.values()]
      jobs.clear()
      served.clear()
      for (const a of all) a.unsubscribe()
      await Promise.all(all.flatMap((a) => [a.tick.stop(), a.poll?.stop()]))
      await Promise.all([...pending])
    },
  }
}

export type CommitRevealService = ReturnType<typeof createCommitRevealService>
