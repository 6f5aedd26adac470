import {
  type Address,
  decodeEventLog,
  encodeFunctionData,
  getAbiItem,
  getAddress,
  type Hex,
  type Log,
  type PublicClient,
  toEventSelector,
} from 'viem'
import {
  IOrderMatchingAbi,
  IThresholdAggregatorFactoryAbi,
  LinkTokenAbi,
} from '../../artifacts/abis.ts'
import { AGGREGATION_MODE, bidData } from '../chain/market.ts'
import { groupKeyHex } from '../chain/oca-deploy.ts'
import { decodeRevertData, revertDataOf } from '../chain/revert.ts'
import type { Common } from '../common.ts'
import { readFeed } from '../oca/aggregator.ts'
import type { BidderSpec, OffchainAggregationSpec, ParsedJob } from '../pipeline/job-spec.ts'
import type { Queryable } from '../store/db.ts'
import type { Txm } from '../txm/index.ts'
import { type Loop, startLoop } from './commitreveal/loop.ts'
import type { LogSubscription } from './log-broadcaster.ts'
import type { AddOcaJobOptions, OffchainAggregationJob } from './offchainaggregation.ts'

/**
 * The `bidder` job type (whitepaper §2.1, issue 8 item 3): the node watches an OrderMatching
 * market for `SLAProposed`, keeps the proposals its policy accepts (a spec it serves, payment ≥
 * its price and minimum, deposit ≤ its maximum, capacity left, bidding open by the chain's
 * clock; off-chain-aggregation mode only with a `registryAddress`) and bids on them with
 * `LINK.transferAndCall(market, minDeposit, bid(slaId, price))` through the transaction manager.
 * Selected (`SLAFinalized` names its key), it serves a commit–reveal SLA's round through its
 * commitreveal job of that spec (`serve`, which adds the pool aggregator to that job); for an
 * OCA-mode SLA it runs an offchainaggregation committee member on the SLA's aggregator that
 * observes through that job's pipeline (`oca.start`), confirms the member's group key on the
 * market (`confirmGroupKey`), and stops the member once the aggregator has an answer. It also
 * finalizes an SLA whose window closed and settles one whose round is over (OCA: whose
 * aggregator answered), so an SLA never waits on its purchaser. Every transaction has an idempotency key `bidder/<chain>/<market>/<slaId>/<what>`.
 * docs/protocol/market.md, "The node's bidder job", describes it.
 */

const topic = (name: string) =>
  toEventSelector(getAbiItem({ abi: IOrderMatchingAbi, name } as never) as never)

export const SLA_PROPOSED_TOPIC = topic('SLAProposed')
export const SLA_FINALIZED_TOPIC = topic('SLAFinalized')
export const SLA_CANCELLED_TOPIC = topic('SLACancelled')
export const SLA_SETTLED_TOPIC = topic('SLASettled')
export const SLA_ANSWERED_TOPIC = topic('SLAAnswered')

/** Gas of a bid (`transferAndCall` into the market; the contract's target is ≤ 60k). */
export const BID_GAS = 300_000n
/** Least gas of `confirmGroupKey`: the confirmation that deploys the aggregator uses ≈ 892k. */
export const CONFIRM_KEY_GAS = 1_300_000n

export type BidderJob = {
  id: bigint
  externalJobID: string
  name?: string | null | undefined
  parsed: ParsedJob
}

export type BidderEvent =
  | { kind: 'skipped'; jobId: bigint; slaId: bigint; reason: string }
  | { kind: 'bid-sent'; jobId: bigint; slaId: bigint; price: bigint; deposit: bigint; txId: bigint }
  | { kind: 'bid-failed'; jobId: bigint; slaId: bigint; reason: string }
  | { kind: 'bid-placed'; jobId: bigint; slaId: bigint }
  | {
      kind: 'selected'
      jobId: bigint
      slaId: bigint
      aggregator: Address
      roundId: bigint
      serving: boolean
    }
  | { kind: 'not-selected'; jobId: bigint; slaId: bigint }
  /** OCA mode: the committee member runs under `key` in the offchainaggregation service. */
  | { kind: 'member-started'; jobId: bigint; slaId: bigint; key: bigint; aggregator: Address }
  | { kind: 'key-confirm-sent'; jobId: bigint; slaId: bigint; groupKeyX: string; txId: bigint }
  /** OCA mode: the aggregator has an answer (the member is stopped; settle follows). */
  | { kind: 'answered'; jobId: bigint; slaId: bigint; answer: bigint; updatedAt: bigint }
  | { kind: 'finalize-sent'; jobId: bigint; slaId: bigint; txId: bigint }
  | { kind: 'settle-sent'; jobId: bigint; slaId: bigint; txId: bigint }
  | { kind: 'cancelled'; jobId: bigint; slaId: bigint; reason: number }
  | { kind: 'settled'; jobId: bigint; slaId: bigint; revealed: boolean }

export type BidderDeps = {
  chainId: number
  subscribe(sub: LogSubscription): () => void
  txm: Pick<Txm, 'enqueue' | 'wake' | 'get'>
  client: () => PublicClient | Promise<PublicClient>
  /** The node's sending keys; the bid comes from `bidFrom` or the first. */
  keys: readonly Address[]
  defaultMinConfirmations: number
  /** Milliseconds between checks of the SLAs a job follows (bids, finalize, settle). */
  tickMs: number
  /**
   * Milliseconds (wall clock) a node waits per place before it finalizes or settles an SLA
   * someone else may be finalizing or settling: the first bidder / committee member at once.
   */
  staggerMs?: number
  /** Whether the node has a job serving `specId` (a commitreveal job). */
  canServe(specId: Hex): boolean
  /** Start taking part in `aggregator`'s rounds for `specId` (from `fromBlock`); false if none. */
  serve(specId: Hex, aggregator: Address, fromBlock?: bigint): boolean
  /** Stop taking part in `aggregator`'s rounds for `specId`. */
  unserve(specId: Hex, aggregator: Address): void
  /** Committee members of OCA-mode SLAs (the node's offchainaggregation service). */
  oca?: {
    /** Starts `member`; false if no commitreveal job of the node serves its spec. */
    start(member: SlaMember): boolean
    status(key: bigint): SlaMemberStatus | undefined
    stop(key: bigint): void
  }
  onEvent?(event: BidderEvent): void
}

/** An OCA-mode SLA's committee member, as the bidder asks the node to run it. */
export type SlaMember = {
  /** The offchainaggregation service's key for it: negative, so no job id collides. */
  key: bigint
  slaId: bigint
  market: Address
  specId: Hex
  /** The SLA's aggregator: the factory's CREATE2 address (code once n − f confirmed the key). */
  aggregator: Address
  /** The committee, in the market's (and the aggregator's) order. */
  oracles: Address[]
  f: number
  registry: Address
  /** The node's key in the committee (the bidder's key). */
  oracle: Address
  /** Seconds from selection to the response deadline, at least 1: the member's heartbeat. */
  heartbeatSeconds: bigint
  /** The SLA's query parameters (CBOR), the pipeline's `$(jobRun.data)` as in a request round. */
  data: Hex
}

export type SlaMemberStatus = {
  state: string
  groupKeyX: string | undefined
  groupKeyParity: number | undefined
  error: string | undefined
}

/** The service key of the member of `slaId` run for bidder job `jobId`. */
export const slaMemberKey = (jobId: bigint, slaId: bigint): bigint => -((jobId << 128n) | slaId)

/**
 * The offchainaggregation job of an SLA member: the spec from the SLA (aggregator, committee,
 * f = ⌊(n−1)/3⌋, configVersion 1, the registry, the bidder's key as the member) with the
 * pipeline of the node's commitreveal job of the spec, whose id and externalJobID it keeps for
 * the pipeline's `jobSpec` variables; the service keeps it under `member.key`. One round is all
 * the SLA needs: the heartbeat is the time left (the first round starts anyway, the aggregator
 * having no answer), no deviation starts another, and the bidder stops the member once the
 * answer is on chain.
 */
export function slaMemberJob(
  commitReveal: OffchainAggregationJob,
  member: SlaMember,
): { job: OffchainAggregationJob; options: AddOcaJobOptions } | undefined {
  const cr = commitReveal.parsed.spec
  if (cr.type !== 'commitreveal') return undefined
  const spec: OffchainAggregationSpec = {
    type: 'offchainaggregation',
    schemaVersion: 1,
    name: `SLA ${member.slaId} of ${member.market}`,
    ...(cr.externalJobID === undefined ? {} : { externalJobID: cr.externalJobID }),
    ...(cr.maxTaskDuration === undefined ? {} : { maxTaskDuration: cr.maxTaskDuration }),
    observationSource: cr.observationSource,
    contractAddress: member.aggregator,
    registryAddress: member.registry,
    oracles: member.oracles,
    f: member.f,
    configVersion: 1,
    transmitterAddress: member.oracle,
    heartbeat: `${member.heartbeatSeconds > 0n ? member.heartbeatSeconds : 1n}s`,
    deviationThreshold: '1000000',
    pollPeriod: '1s',
  }
  return {
    job: {
      id: commitReveal.id,
      externalJobID: commitReveal.externalJobID,
      name: spec.name,
      parsed: { ...commitReveal.parsed, spec },
    },
    options: {
      key: member.key,
      jobRun: {
        isFeed: false,
        roundId: 1n,
        requester: member.market,
        specId: member.specId,
        slaId: member.slaId,
        data: member.data,
      },
    },
  }
}

/** What the proposal policy sees of an SLA. */
export type ProposalTerms = {
  specId: Hex
  mode: number
  paymentPerOracle: bigint
  minDeposit: bigint
  biddingEnd: bigint
}

/**
 * Why the policy skips a proposal, or undefined when the node bids on it. `now` is the chain's
 * clock, `following` how many SLAs the job bids on or serves.
 */
export function skipReason(
  spec: Pick<
    BidderSpec,
    'specIds' | 'price' | 'maxDeposit' | 'maxConcurrent' | 'minPayment' | 'registryAddress'
  >,
  terms: ProposalTerms,
  ctx: {
    now: bigint
    following: number
    canServe: boolean
    /** OCA-mode SLAs the job bids on or serves (each member needs the key's registry entry). */
    followingOca?: number
  },
): string | undefined {
  const specId = terms.specId.toLowerCase()
  if (!spec.specIds.some((s) => s.toLowerCase() === specId))
    return `spec ${terms.specId} is not one the job bids on`
  if (!ctx.canServe) return `no commitreveal job of the node serves spec ${terms.specId}`
  if (terms.mode === AGGREGATION_MODE.OffchainAggregation) {
    if (spec.registryAddress === undefined)
      return `aggregation mode ${terms.mode} (off-chain aggregation) needs registryAddress in the bidder spec`
    if ((ctx.followingOca ?? 0) > 0)
      return 'already bidding on or serving an off-chain-aggregation SLA (one at a time: the registry holds one address per key)'
  } else if (terms.mode !== AGGREGATION_MODE.CommitReveal)
    return `aggregation mode ${terms.mode} is not served`
  if (terms.paymentPerOracle < spec.price)
    return `payment per oracle ${terms.paymentPerOracle} is below the price ${spec.price}`
  if (spec.minPayment !== undefined && terms.paymentPerOracle < spec.minPayment)
    return `payment per oracle ${terms.paymentPerOracle} is below minPayment ${spec.minPayment}`
  if (terms.minDeposit > spec.maxDeposit)
    return `deposit ${terms.minDeposit} is above maxDeposit ${spec.maxDeposit}`
  if (ctx.following >= spec.maxConcurrent)
    return `at capacity: ${ctx.following} of maxConcurrent ${spec.maxConcurrent} SLAs`
  if (ctx.now >= terms.biddingEnd)
    return `bidding closed at ${terms.biddingEnd} (chain time ${ctx.now})`
  return undefined
}

type Phase = 'bidding' | 'serving'

type Followed = {
  slaId: bigint
  specId: Hex
  mode: number
  phase: Phase
  biddingEnd: bigint
  responseDeadline: bigint
  bidTxId: bigint | undefined
  bidConfirmed: boolean
  /** While serving. */
  aggregator?: Address
  member?: Address
  memberIndex?: number
  answered: boolean
  /** OCA mode, while serving: the committee, the member's key in the service once started. */
  committee?: Address[]
  memberKey?: bigint
  keyConfirmSent?: boolean
  /** The member's group key once its DKG made it (kept: it is confirmed after the member stops). */
  groupKey?: { x: bigint; parity: number }
  /** Wall-clock ms when the bidder saw the answer. */
  answeredAt?: number
  /** The member could not be started (no commitreveal job of the spec): logged once. */
  memberFailed?: boolean
  /** Wall-clock ms when this node first found it could finalize / settle. */
  finalizeSince?: number
  settleSince?: number
  finalizeSent: boolean
  settleSent: boolean
}

type ActiveJob = {
  job: BidderJob
  spec: BidderSpec
  market: Address
  from: Address
  link: Address | undefined
  /** The market's aggregator factory (OCA mode), once read. */
  factory?: Address
  slas: Map<bigint, Followed>
  unsubscribe: () => void
  tick: Loop
}

export function createBidderService(common: Common, deps: BidderDeps) {
  const { db } = common
  const log = common.logger.child({ component: 'bidder', chain_id: deps.chainId })
  const jobs = new Map<bigint, ActiveJob>()
  const keys = deps.keys.map((k) => getAddress(k))
  const staggerMs = deps.staggerMs ?? 5000
  let stopped = false

  const emit = (event: BidderEvent) => deps.onEvent?.(event)
  const txKey = (a: ActiveJob, slaId: bigint, what: string) =>
    `bidder/${deps.chainId}/${a.market}/${slaId}/${what}`
  const fields = (a: ActiveJob, slaId?: bigint) => ({
    job_id: String(a.job.id),
    market: a.market,
    ...(slaId === undefined ? {} : { sla: String(slaId) }),
  })
  const read = async <T>(a: ActiveJob, functionName: string, args: unknown[] = []) =>
    (await deps.client()).readContract({
      address: a.market,
      abi: IOrderMatchingAbi,
      functionName,
      args,
    } as never) as Promise<T>
  const now = async () => (await (await deps.client()).getBlock({ blockTag: 'latest' })).timestamp

  async function linkOf(a: ActiveJob): Promise<Address> {
    a.link ??= a.spec.linkAddress ?? getAddress(await read<Address>(a, 'linkToken'))
    return a.link
  }

  /** Gas for a market call, or the custom error it would revert with. */
  async function estimate(a: ActiveJob, data: Hex): Promise<{ gas: bigint } | { revert: string }> {
    try {
      const gas = await (await deps.client()).estimateGas({
        account: a.from,
        to: a.market,
        data,
      })
      return { gas: (gas * 13n) / 10n + 20_000n }
    } catch (err) {
      const revert = revertDataOf(err)
      if (revert === undefined) throw err
      return { revert: decodeRevertData(revert, IOrderMatchingAbi as never) }
    }
  }

  const following = (a: ActiveJob) => a.slas.size
  const followingOca = (a: ActiveJob) =>
    [...a.slas.values()].filter((f) => f.mode === AGGREGATION_MODE.OffchainAggregation).length

  async function skip(a: ActiveJob, slaId: bigint, reason: string) {
    log.info({ ...fields(a, slaId), reason }, 'not bidding on the SLA')
    emit({ kind: 'skipped', jobId: a.job.id, slaId, reason })
  }

  function drop(a: ActiveJob, f: Followed) {
    a.slas.delete(f.slaId)
    stopMember(f)
    if (f.phase === 'serving' && f.aggregator && f.mode === AGGREGATION_MODE.CommitReveal)
      deps.unserve(f.specId, f.aggregator)
  }

  /** OCA mode: stops the SLA's committee member (its round is on chain, or the SLA is over). */
  function stopMember(f: Followed) {
    if (f.memberKey === undefined) return
    deps.oca?.stop(f.memberKey)
    f.memberKey = undefined
  }

  /** SLAProposed: bid when the policy accepts it (the bid is queued in the delivery's transaction). */
  async function onProposed(a: ActiveJob, raw: Log, tx: Queryable, batch: Map<bigint, number>) {
    const { args } = decodeEventLog({
      abi: IOrderMatchingAbi,
      data: raw.data,
      topics: raw.topics,
      eventName: 'SLAProposed',
    })
    const p = args.proposal
    const slaId = args.slaId
    if (a.slas.has(slaId) || batch.has(slaId)) return undefined
    const terms: ProposalTerms = {
      specId: p.specId,
      mode: p.mode,
      paymentPerOracle: p.paymentPerOracle,
      minDeposit: p.minDeposit,
      biddingEnd: BigInt(p.biddingEnd),
    }
    const reason = skipReason(a.spec, terms, {
      now: await now(),
      following: following(a) + batch.size,
      canServe:
        deps.canServe(p.specId) &&
        (p.mode !== AGGREGATION_MODE.OffchainAggregation || deps.oca !== undefined),
      followingOca:
        followingOca(a) +
        [...batch.values()].filter((m) => m === AGGREGATION_MODE.OffchainAggregation).length,
    })
    if (reason) return () => void skip(a, slaId, reason)
    const link = await linkOf(a)
    const { id, created } = await deps.txm.enqueue(
      {
        from: a.from,
        to: link,
        data: encodeFunctionData({
          abi: LinkTokenAbi,
          functionName: 'transferAndCall',
          args: [a.market, p.minDeposit, bidData(slaId, a.spec.price)],
        }),
        gasLimit: BID_GAS,
        idempotencyKey: txKey(a, slaId, 'bid'),
      },
      tx,
    )
    batch.set(slaId, p.mode)
    const f: Followed = {
      slaId,
      specId: p.specId,
      mode: p.mode,
      phase: 'bidding',
      biddingEnd: BigInt(p.biddingEnd),
      responseDeadline: BigInt(p.responseDeadline),
      bidTxId: id,
      bidConfirmed: false,
      answered: false,
      finalizeSent: false,
      settleSent: false,
    }
    return () => {
      a.slas.set(slaId, f)
      deps.txm.wake()
      if (!created) return
      log.info(
        { ...fields(a, slaId), price: String(a.spec.price), deposit: String(p.minDeposit) },
        'bidding',
      )
      emit({
        kind: 'bid-sent',
        jobId: a.job.id,
        slaId,
        price: a.spec.price,
        deposit: p.minDeposit,
        txId: id,
      })
    }
  }

  /** This node was selected: serve the round on the SLA's aggregator. */
  function select(
    a: ActiveJob,
    f: Followed,
    committee: readonly Address[],
    aggregator: Address,
    roundId: bigint,
    fromBlock: bigint | undefined,
  ): boolean {
    const members = committee.map((o) => getAddress(o))
    const index = members.indexOf(a.from)
    if (index < 0) return false
    f.phase = 'serving'
    f.aggregator = getAddress(aggregator)
    f.member = a.from
    f.memberIndex = index
    // OCA mode: the member starts in the next tick (it needs the chain's clock and the SLA's data).
    const oca = f.mode === AGGREGATION_MODE.OffchainAggregation
    if (oca) f.committee = members
    const serving = oca
      ? deps.oca !== undefined && deps.canServe(f.specId)
      : deps.serve(f.specId, f.aggregator, fromBlock)
    if (oca) a.tick.kick()
    if (serving) log.info({ ...fields(a, f.slaId), aggregator, round: String(roundId) }, 'selected')
    else log.error({ ...fields(a, f.slaId), aggregator }, 'selected, but no job serves the spec')
    emit({ kind: 'selected', jobId: a.job.id, slaId: f.slaId, aggregator, roundId, serving })
    return true
  }

  async function onLogs(a: ActiveJob, logs: Log[], tx: Queryable): Promise<() => void> {
    const thens: (() => void)[] = []
    /** SLAs this delivery bids on, with their modes (they count against the capacity at once). */
    const batch = new Map<bigint, number>()
    for (const raw of logs) {
      const t0 = raw.topics[0]
      if (t0 === SLA_PROPOSED_TOPIC) {
        const then = await onProposed(a, raw, tx, batch)
        if (then) thens.push(then)
        continue
      }
      const slaIdTopic = raw.topics[1]
      if (slaIdTopic === undefined) continue
      const slaId = BigInt(slaIdTopic)
      // An SLA bid on earlier in this delivery and closed later in it (a replay of history)
      // no longer counts against the capacity of the proposals after it.
      if (t0 === SLA_CANCELLED_TOPIC || t0 === SLA_SETTLED_TOPIC) batch.delete(slaId)
      if (t0 === SLA_FINALIZED_TOPIC) {
        const { args } = decodeEventLog({
          abi: IOrderMatchingAbi,
          data: raw.data,
          topics: raw.topics,
          eventName: 'SLAFinalized',
        })
        thens.push(() => {
          const f = a.slas.get(slaId)
          if (f?.phase !== 'bidding') return
          if (
            !select(a, f, args.oracles, args.aggregator, args.roundId, raw.blockNumber ?? undefined)
          ) {
            a.slas.delete(slaId)
            log.info(fields(a, slaId), 'not selected; the deposit came back')
            emit({ kind: 'not-selected', jobId: a.job.id, slaId })
          }
        })
      } else if (t0 === SLA_ANSWERED_TOPIC) {
        thens.push(() => {
          const f = a.slas.get(slaId)
          if (f) f.answered = true
          a.tick.kick()
        })
      } else if (t0 === SLA_CANCELLED_TOPIC) {
        const { args } = decodeEventLog({
          abi: IOrderMatchingAbi,
          data: raw.data,
          topics: raw.topics,
          eventName: 'SLACancelled',
        })
        thens.push(() => {
          const f = a.slas.get(slaId)
          if (!f) return
          drop(a, f)
          log.info({ ...fields(a, slaId), reason: args.reason }, 'SLA cancelled')
          emit({ kind: 'cancelled', jobId: a.job.id, slaId, reason: args.reason })
        })
      } else if (t0 === SLA_SETTLED_TOPIC) {
        const { args } = decodeEventLog({
          abi: IOrderMatchingAbi,
          data: raw.data,
          topics: raw.topics,
          eventName: 'SLASettled',
        })
        thens.push(() => {
          const f = a.slas.get(slaId)
          if (!f) return
          drop(a, f)
          const revealed =
            f.memberIndex !== undefined &&
            ((args.revealBitmap >> BigInt(f.memberIndex)) & 1n) === 1n
          log.info({ ...fields(a, slaId), revealed }, 'SLA settled')
          emit({ kind: 'settled', jobId: a.job.id, slaId, revealed })
        })
      }
    }
    return () => {
      for (const then of thens) then()
    }
  }

  /** Sends `finalize` or `settle` once it would succeed and it is this node's turn. */
  async function closeOut(a: ActiveJob, f: Followed, what: 'finalize' | 'settle', place: number) {
    const sinceKey = what === 'finalize' ? 'finalizeSince' : 'settleSince'
    const data = encodeFunctionData({
      abi: IOrderMatchingAbi,
      functionName: what,
      args: [f.slaId],
    })
    const est = await estimate(a, data)
    if ('revert' in est) return // not yet, or someone else did it (the log will tell)
    f[sinceKey] ??= Date.now()
    if (Date.now() - f[sinceKey] < place * staggerMs) return
    const { id, created } = await db.transaction((tx) =>
      deps.txm.enqueue(
        {
          from: a.from,
          to: a.market,
          data,
          gasLimit: est.gas,
          idempotencyKey: txKey(a, f.slaId, what),
        },
        tx,
      ),
    )
    if (what === 'finalize') f.finalizeSent = true
    else f.settleSent = true
    deps.txm.wake()
    if (!created) return
    log.info({ ...fields(a, f.slaId), tx_id: String(id) }, `sending ${what}`)
    emit({ kind: `${what}-sent`, jobId: a.job.id, slaId: f.slaId, txId: id })
  }

  /**
   * OCA mode, one step per tick: confirm the member's group key on the market once its DKG made
   * it, watch the aggregator for the SLA's answer (then the member has done its part and stops;
   * `tick` settles), and start the committee member.
   */
  async function serveOca(a: ActiveJob, f: Followed, t: bigint): Promise<void> {
    const oca = deps.oca
    if (!oca || !f.aggregator || !f.committee) return
    if (f.memberKey !== undefined && f.groupKey === undefined) {
      const st = oca.status(f.memberKey)
      if (st?.groupKeyX !== undefined && st.groupKeyParity !== undefined)
        f.groupKey = { x: BigInt(st.groupKeyX), parity: st.groupKeyParity }
    }
    // Confirmed also after the answer: settle pays the members that confirmed by then.
    if (f.groupKey && !f.keyConfirmSent) await confirmKey(a, f, f.groupKey)
    if (f.answered) {
      if (f.groupKey) stopMember(f)
      return
    }
    const client = await deps.client()
    const code = await client.getCode({ address: f.aggregator })
    if (code && code !== '0x') {
      const feed = await readFeed(client, f.aggregator)
      if (feed.answer !== undefined && feed.updatedAt !== undefined && feed.round > 0) {
        f.answered = true
        f.answeredAt = Date.now()
        // A member still without its key keeps going until it has it (and confirms it).
        if (f.groupKey) stopMember(f)
        log.info(
          {
            ...fields(a, f.slaId),
            answer: String(feed.answer),
            updated_at: String(feed.updatedAt),
          },
          'the SLA aggregator answered',
        )
        emit({
          kind: 'answered',
          jobId: a.job.id,
          slaId: f.slaId,
          answer: feed.answer,
          updatedAt: feed.updatedAt,
        })
        return
      }
    }
    if (t >= f.responseDeadline) {
      // Too late for an answer that counts; settle forfeits (or pays an answer that landed).
      stopMember(f)
      return
    }
    if (f.memberKey === undefined) {
      if (f.memberFailed) return
      const member: SlaMember = {
        key: slaMemberKey(a.job.id, f.slaId),
        slaId: f.slaId,
        market: a.market,
        specId: f.specId,
        aggregator: f.aggregator,
        oracles: f.committee,
        f: Math.floor((f.committee.length - 1) / 3),
        registry: a.spec.registryAddress!,
        oracle: a.from,
        heartbeatSeconds: f.responseDeadline - t,
        data: await read<Hex>(a, 'slaData', [f.slaId]),
      }
      if (!a.spec.registryAddress || !oca.start(member)) {
        f.memberFailed = true
        log.error(
          { ...fields(a, f.slaId), aggregator: f.aggregator },
          'selected for an OCA SLA, but no commitreveal job of the node serves its spec (or no registryAddress)',
        )
        return
      }
      f.memberKey = member.key
      log.info(
        { ...fields(a, f.slaId), aggregator: f.aggregator, member_key: String(member.key) },
        'committee member started',
      )
      emit({
        kind: 'member-started',
        jobId: a.job.id,
        slaId: f.slaId,
        key: member.key,
        aggregator: f.aggregator,
      })
    }
  }

  /** Sends `confirmGroupKey` with the member's key (once; `KeyAlreadyConfirmed` counts as sent). */
  async function confirmKey(a: ActiveJob, f: Followed, key: { x: bigint; parity: number }) {
    const groupKeyX = groupKeyHex(key.x)
    const data = encodeFunctionData({
      abi: IOrderMatchingAbi,
      functionName: 'confirmGroupKey',
      args: [f.slaId, key.x, key.parity],
    })
    const est = await estimate(a, data)
    if ('revert' in est) {
      if (est.revert.startsWith('KeyAlreadyConfirmed')) f.keyConfirmSent = true
      else log.warn({ ...fields(a, f.slaId), revert: est.revert }, 'confirmGroupKey would revert')
      return
    }
    // Whichever confirmation makes n − f agree deploys the aggregator: the gas of that one, not
    // the estimate's, since members confirm at about the same time.
    const { id, created } = await db.transaction((tx) =>
      deps.txm.enqueue(
        {
          from: a.from,
          to: a.market,
          data,
          gasLimit: est.gas > CONFIRM_KEY_GAS ? est.gas : CONFIRM_KEY_GAS,
          idempotencyKey: txKey(a, f.slaId, 'confirm-key'),
        },
        tx,
      ),
    )
    f.keyConfirmSent = true
    deps.txm.wake()
    if (!created) return
    log.info(
      { ...fields(a, f.slaId), tx_id: String(id), group_key_x: groupKeyX },
      'confirming the group key',
    )
    emit({
      kind: 'key-confirm-sent',
      jobId: a.job.id,
      slaId: f.slaId,
      groupKeyX,
      txId: id,
    })
  }

  /**
   * OCA mode: settle pays the members that confirmed the key by then, so with an answer in, the
   * bidder settles once every member confirmed or `staggerMs` after it saw the answer (a late
   * member's confirmation has that long), whichever comes first; then the usual staggering.
   */
  async function mayPayOca(a: ActiveJob, f: Followed): Promise<boolean> {
    if (!f.answered || f.answeredAt === undefined) return true
    if (Date.now() - f.answeredAt >= staggerMs) return true
    a.factory ??= getAddress(await read<Address>(a, 'aggregatorFactory'))
    const bitmap = (await (
      await deps.client()
    ).readContract({
      address: a.factory,
      abi: IThresholdAggregatorFactoryAbi,
      functionName: 'confirmations',
      args: [f.slaId],
    })) as bigint
    const all = (1n << BigInt(f.committee?.length ?? 0)) - 1n
    return (bitmap & all) === all
  }

  /** One pass over the SLAs the job follows. */
  async function tick(a: ActiveJob): Promise<void> {
    if (a.slas.size === 0) return
    const t = await now()
    for (const f of [...a.slas.values()]) {
      if (stopped) return
      try {
        if (f.phase === 'bidding') {
          if (!f.bidConfirmed && f.bidTxId !== undefined) {
            const sent = await deps.txm.get(f.bidTxId)
            if (sent?.state === 'confirmed') {
              f.bidConfirmed = true
              emit({ kind: 'bid-placed', jobId: a.job.id, slaId: f.slaId })
            } else if (sent?.state === 'reverted' || sent?.state === 'fatal_error') {
              const reason =
                sent.state === 'reverted'
                  ? `the bid reverted: ${sent.revertReason ?? '?'}`
                  : `the bid was never sent: ${sent.error ?? '?'}`
              a.slas.delete(f.slaId)
              log.warn({ ...fields(a, f.slaId), reason }, 'bid failed')
              emit({ kind: 'bid-failed', jobId: a.job.id, slaId: f.slaId, reason })
              continue
            }
          }
          if (f.bidConfirmed && !f.finalizeSent && t >= f.biddingEnd) {
            const [bidders] = await read<readonly [readonly Address[], readonly bigint[]]>(
              a,
              'bidsOf',
              [f.slaId],
            )
            const place = bidders.map((b) => getAddress(b)).indexOf(a.from)
            await closeOut(a, f, 'finalize', Math.max(place, 0))
          }
        } else if (f.phase === 'serving') {
          const oca = f.mode === AGGREGATION_MODE.OffchainAggregation
          if (oca) await serveOca(a, f, t)
          if (
            !f.settleSent &&
            (f.answered || t >= f.responseDeadline) &&
            (!oca || (await mayPayOca(a, f)))
          )
            await closeOut(a, f, 'settle', f.memberIndex ?? 0)
        }
      } catch (err) {
        log.warn({ ...fields(a, f.slaId), err }, 'SLA check failed; will retry')
      }
    }
  }

  /**
   * After a restart: the SLAs the node bid on that are still bidding, and those it serves, from
   * the market itself (the market's logs were delivered before; the state is on chain).
   */
  async function recover(a: ActiveJob): Promise<void> {
    const count = await read<bigint>(a, 'slaCount')
    const lowest = count > 256n ? count - 255n : 1n
    for (let slaId = count; slaId >= lowest && !stopped; slaId--) {
      if (a.slas.has(slaId)) continue
      const v = await read<{
        status: number
        specId: Hex
        mode: number
        biddingEnd: number
        responseDeadline: number
        aggregator: Address
        roundId: bigint
      }>(a, 'getSLA', [slaId])
      const base = {
        slaId,
        specId: v.specId,
        mode: v.mode,
        biddingEnd: BigInt(v.biddingEnd),
        responseDeadline: BigInt(v.responseDeadline),
        bidTxId: undefined,
        bidConfirmed: true,
        answered: false,
        finalizeSent: false,
        settleSent: false,
      }
      if (v.status === 1) {
        const [bidders] = await read<readonly [readonly Address[], readonly bigint[]]>(
          a,
          'bidsOf',
          [slaId],
        )
        if (bidders.some((b) => getAddress(b) === a.from) && !a.slas.has(slaId))
          a.slas.set(slaId, { ...base, phase: 'bidding' })
      } else if (v.status === 2) {
        const committee = await read<readonly Address[]>(a, 'committeeOf', [slaId])
        if (a.slas.has(slaId)) continue
        const f: Followed = { ...base, phase: 'bidding' }
        if (select(a, f, committee, v.aggregator, v.roundId, undefined)) a.slas.set(slaId, f)
      }
    }
    if (a.slas.size > 0) log.info({ ...fields(a), slas: a.slas.size }, 'following SLAs again')
  }

  return {
    /** Starts watching `job`'s market. */
    addJob(job: BidderJob): void {
      if (stopped || jobs.has(job.id)) return
      const spec = job.parsed.spec
      if (spec.type !== 'bidder') return
      const from = spec.bidFrom ?? keys[0]
      if (from === undefined || !keys.includes(from)) {
        log.error(
          { job_id: String(job.id), bid_from: from },
          spec.bidFrom ? 'bidFrom is not one of the node keys' : 'the node has no key to bid from',
        )
        return
      }
      const a = {
        job,
        spec,
        market: spec.contractAddress,
        from,
        link: undefined,
        slas: new Map(),
      } as unknown as ActiveJob
      a.unsubscribe = deps.subscribe({
        jobId: job.id,
        address: a.market,
        topics: [
          [
            SLA_PROPOSED_TOPIC,
            SLA_FINALIZED_TOPIC,
            SLA_ANSWERED_TOPIC,
            SLA_CANCELLED_TOPIC,
            SLA_SETTLED_TOPIC,
          ],
        ],
        minConfirmations: spec.minIncomingConfirmations ?? deps.defaultMinConfirmations,
        onLog: (raw, tx) => onLogs(a, [raw], tx),
        onLogs: (logs, tx) => onLogs(a, logs, tx),
        onRemoved: async (raw) => {
          log.warn(
            { ...fields(a), topic: raw.topics[0], sla: raw.topics[1] },
            'a market log left the canonical chain; the SLA goes on as the chain decides',
          )
        },
      })
      let recovered = false
      a.tick = startLoop(
        async () => {
          if (!recovered) {
            await recover(a)
            recovered = true
          }
          await tick(a)
        },
        deps.tickMs,
        (err) => log.warn({ job_id: String(job.id), err }, 'SLA check failed'),
      )
      jobs.set(job.id, a)
      log.info(
        { job_id: String(job.id), market: a.market, from, spec_ids: spec.specIds },
        'job active',
      )
    },

    async removeJob(jobId: bigint): Promise<void> {
      const a = jobs.get(jobId)
      if (!a) return
      jobs.delete(jobId)
      a.unsubscribe()
      await a.tick.stop()
      for (const f of a.slas.values()) if (f.phase === 'serving' && f.aggregator) drop(a, f)
    },

    /** The SLAs a job bids on or serves (tests, status). */
    following(jobId: bigint): { slaId: bigint; phase: Phase }[] {
      const a = jobs.get(jobId)
      return a ? [...a.slas.values()].map((f) => ({ slaId: f.slaId, phase: f.phase })) : []
    },

    async stop(): Promise<void> {
      stopped = true
      const all = [...jobs.values()]
      jobs.clear()
      for (const a of all) a.unsubscribe()
      await Promise.all(all.map((a) => a.tick.stop()))
    },
  }
}

export type BidderService = ReturnType<typeof createBidderService>
