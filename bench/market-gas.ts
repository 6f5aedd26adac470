/**
 * Gas of the order-matching market (OrderMatching): posting an SLA, a bid, finalize with 4, 7
 * and 16 bidders for a committee of 4, and settlement of a round all four members answered.
 * Off-chain-aggregation mode (committee of 4 among 4 bidders): finalize, a member's group-key
 * confirmation, the confirmation that deploys the SLA's aggregator, the transmission on it and
 * settle after all four confirmed and the answer landed.
 * Measured in the steady state: warm-up SLAs first run with every bidder, so the bid book, each
 * bidder's tag in it, the pool aggregator's committee slots and every bidder's reputation record
 * already hold values, as on a market that has been running. The first bid an oracle ever
 * places on a book pays for two fresh slots (about 34k more); that figure is printed beside.
 */
import type { TransactionReceipt } from 'viem'
import type { Signer } from '../src/chain/commit-reveal-testing.ts'
import { deployMarketFixture, type MarketFixture } from '../src/chain/market-testing.ts'
import { increaseTime, LINK, type TestChain } from '../src/chain/testing.ts'

/** Off-chain-aggregation figures (committee of 4, 4 bidders). */
export type MarketOcaGas = {
  finalize_gas: number
  /** A confirmation that does not deploy (the largest of them). */
  confirm_gas: number
  /** The confirmation that makes n − f and deploys the SlaThresholdAggregator. */
  confirm_deploy_gas: number
  /** `transmit` of round 1 on the SLA's aggregator (its answer slot is still empty). */
  first_transmit_gas: number
  /** `transmit` of a later round (steady state; ThresholdAggregator's figure). */
  transmit_gas: number
  settle_gas: number
}

export type MarketGas = {
  /** Bidders (the committee is 4). */
  n: number
  propose_gas: number
  /** The largest bid of the SLA. */
  bid_gas: number
  finalize_gas: number
  settle_gas: number
}

/** Bidder counts of the finalize figures (issue 8). */
export const MARKET_BIDDERS = [4, 7, 16]
const COMMITTEE = 4
const DEPOSIT = LINK

function gasOf(receipt: TransactionReceipt, what: string): number {
  if (receipt.status !== 'success') throw new Error(`${what} reverted (${receipt.transactionHash})`)
  return Number(receipt.gasUsed)
}

async function slaRound(m: MarketFixture, bidders: Signer[], prices: (i: number) => bigint) {
  const chain = m.chain
  const [purchaser] = m.purchasers as [Signer]
  const proposal = await m.proposal({ minDeposit: DEPOSIT, paymentPerOracle: LINK })
  const { slaId, receipt } = await m.propose(purchaser, proposal)
  const propose = gasOf(receipt, 'propose')
  const bids: number[] = []
  for (const [i, o] of bidders.entries()) {
    bids.push(gasOf(await m.bid(o, slaId, prices(i), DEPOSIT), 'bid'))
  }
  await increaseTime(chain, 100)
  const finalize = gasOf(await m.call(purchaser, 'finalize', [slaId], 5_000_000n), 'finalize')
  // The members answer a few seconds in (a non-zero response time, as always in practice).
  await increaseTime(chain, 5)
  await m.serve(
    slaId,
    Array.from({ length: COMMITTEE }, (_, i) => 1_000_000n + BigInt(i)),
  )
  const settle = gasOf(await m.call(purchaser, 'settle', [slaId], 2_000_000n), 'settle')
  return { propose, bids, finalize, settle }
}

async function ocaRound(m: MarketFixture, bidders: Signer[]): Promise<MarketOcaGas> {
  const chain = m.chain
  const [purchaser] = m.purchasers as [Signer]
  const proposal = await m.ocaProposal({ minDeposit: DEPOSIT, paymentPerOracle: LINK })
  const { slaId } = await m.propose(purchaser, proposal)
  for (const o of bidders) gasOf(await m.bid(o, slaId, LINK / 2n, DEPOSIT), 'bid')
  await increaseTime(chain, 100)
  const finalize = gasOf(await m.call(purchaser, 'finalize', [slaId], 5_000_000n), 'finalize')
  const c = await m.ocaCommittee(slaId)
  const confirms: number[] = []
  for (let i = 0; i < COMMITTEE; i++) confirms.push(gasOf(await c.confirm(i), 'confirmGroupKey'))
  const quorum = COMMITTEE - c.f - 1
  await increaseTime(chain, 5)
  const first = gasOf(await c.transmit(purchaser, 1, 1_000_000n), 'transmit')
  const settle = gasOf(await m.call(purchaser, 'settle', [slaId], 2_000_000n), 'settle')
  // The aggregator goes on as a feed: a later round is the steady-state transmission.
  const transmit = gasOf(await c.transmit(purchaser, 2, 1_000_001n), 'transmit')
  return {
    finalize_gas: finalize,
    confirm_gas: Math.max(...confirms.filter((_, i) => i !== quorum)),
    confirm_deploy_gas: confirms[quorum] as number,
    first_transmit_gas: first,
    transmit_gas: transmit,
    settle_gas: settle,
  }
}

/**
 * Measures the market on `chain`; returns one figure set per bidder count, the cold bid, and
 * the off-chain-aggregation figures.
 */
export async function measureMarket(
  chain: TestChain,
): Promise<{ cases: MarketGas[]; first_bid_gas: number; oca: MarketOcaGas }> {
  const most = Math.max(...MARKET_BIDDERS)
  const m = await deployMarketFixture(chain, { aggregators: 1, purchasers: 1, oracles: most })
  const oracles = m.oracles
  // Warm-up: each group of four is the cheapest once, so every bidder gets served (and a
  // reputation record and an aggregator record) before anything is measured; all end with the
  // same score, so the price decides below.
  let firstBid = 0
  for (let g = 0; g < most / COMMITTEE; g++) {
    const r = await slaRound(m, oracles, (i) =>
      Math.floor(i / COMMITTEE) === g ? LINK / 10n : LINK / 2n,
    )
    if (g === 0) firstBid = Math.max(...r.bids)
  }
  const cases: MarketGas[] = []
  for (const n of MARKET_BIDDERS) {
    // Prices descend with bid order, so the last four bidders are the committee.
    const r = await slaRound(m, oracles.slice(0, n), (i) => LINK - BigInt(i) * (LINK / 100n))
    cases.push({
      n,
      propose_gas: r.propose,
      bid_gas: Math.max(...r.bids),
      finalize_gas: r.finalize,
      settle_gas: r.settle,
    })
  }
  // Off-chain aggregation: a warm-up SLA first (the factory's per-SLA slots are new for every
  // SLA, as the committee's on the market; the warm-up only warms what is shared).
  await ocaRound(m, oracles.slice(0, COMMITTEE))
  const oca = await ocaRound(m, oracles.slice(0, COMMITTEE))
  return { cases, first_bid_gas: firstBid, oca }
}
