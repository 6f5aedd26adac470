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
import { IOrderMatchingAbi, LinkTokenAbi } from '../../artifacts/abis.ts'
import { AGGREGATION_MODE, bidData } from '../chain/market.ts'
import { decodeRevertData, revertDataOf } from '../chain/revert.ts'
import type { Common } from '../common.ts'
import type { BidderSpec, ParsedJob } from '../pipeline/job-spec.ts'
import type { Queryable } from '../store/db.ts'
import type { Txm } from '../txm/index.ts'
import { type Loop, startLoop } from './commitreveal/loop.ts'
import type { LogSubscription } from './log-broadcaster.ts'

/**
 * The `bidder` job type (whitepaper §2.1, issue 8 item 3): the node watches an OrderMatching
 * market for `SLAProposed`, keeps the proposals its policy accepts (a spec it serves, payment ≥
 * its price and minimum, deposit ≤ its maximum, capacity left, bidding open by the chain's
 * clock, commit–reveal mode) and bids on them with
 * `LINK.transferAndCall(market, minDeposit, bid(slaId, price))` through the transaction manager.
 * Selected (`SLAFinalized` names its key), it serves the SLA's round through its commitreveal job
 * of that spec (`serve`, which adds the pool aggregator to that job). It also finalizes an SLA
 * whose window closed and settles one whose round is over, so an SLA never waits on its
 * purchaser. Every transaction has an idempotency key `bidder/<chain>/<market>/<slaId>/<what>`.
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
  onEvent?(event: BidderEvent): void
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
  spec: Pick<BidderSpec, 'specIds' | 'price' | 'maxDeposit' | 'maxConcurrent' | 'minPayment'>,
  terms: ProposalTerms,
  ctx: { now: bigint; following: number; canServe: boolean },
): string | undefined {
  const specId = terms.specId.toLowerCase()
  if (!spec.specIds.some((s) => s.toLowerCase() === specId))
    return `spec ${terms.specId} is not one the job bids on`
  if (!ctx.canServe) return `no commitreveal job of the node serves spec ${terms.specId}`
  if (terms.mode !== AGGREGATION_MODE.CommitReveal)
    return `aggregation mode ${terms.mode} is not served (commit–reveal only)`
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

  async function skip(a: ActiveJob, slaId: bigint, reason: string) {
    log.info({ ...fields(a, slaId), reason }, 'not bidding on the SLA')
    emit({ kind: 'skipped', jobId: a.job.id, slaId, reason })
  }

  function drop(a: ActiveJob, f: Followed) {
    a.slas.delete(f.slaId)
    if (f.phase === 'serving' && f.aggregator) deps.unserve(f.specId, f.aggregator)
  }

  /** SLAProposed: bid when the policy accepts it (the bid is queued in the delivery's transaction). */
  async function onProposed(a: ActiveJob, raw: Log, tx: Queryable, batch: Set<bigint>) {
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
      canServe: deps.canServe(p.specId),
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
    batch.add(slaId)
    const f: Followed = {
      slaId,
      specId: p.specId,
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
    const serving = deps.serve(f.specId, f.aggregator, fromBlock)
    if (serving) log.info({ ...fields(a, f.slaId), aggregator, round: String(roundId) }, 'selected')
    else log.error({ ...fields(a, f.slaId), aggregator }, 'selected, but no job serves the spec')
    emit({ kind: 'selected', jobId: a.job.id, slaId: f.slaId, aggregator, roundId, serving })
    return true
  }

  async function onLogs(a: ActiveJob, logs: Log[], tx: Queryable): Promise<() => void> {
    const thens: (() => void)[] = []
    /** SLAs this delivery bids on (they count against the capacity at once). */
    const batch = new Set<bigint>()
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
        } else if (
          f.phase === 'serving' &&
          !f.settleSent &&
          (f.answered || t >= f.responseDeadline)
        ) {
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
        biddingEnd: number
        responseDeadline: number
        aggregator: Address
        roundId: bigint
      }>(a, 'getSLA', [slaId])
      const base = {
        slaId,
        specId: v.specId,
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
