/**
 * Gas of the order-matching market (OrderMatching): posting an SLA, a bid, finalize with 4, 7
 * and 16 bidders for a committee of 4, and settlement of a round all four members answered.
 * Measured in the steady state: warm-up SLAs first run with every bidder, so the bid book, each
 * bidder's tag in it, the pool aggregator's committee slots and every bidder's reputation record
 * already hold values, as on a market that has been running. The first bid an oracle ever
 * places on a book pays for two fresh slots (about 34k more); that figure is printed beside.
 */
import type { TransactionReceipt } from 'viem'
import type { Signer } from '../src/chain/commit-reveal-testing.ts'
import { deployMarketFixture, type MarketFixture } from '../src/chain/market-testing.ts'
import { increaseTime, LINK, type TestChain } from '../src/chain/testing.ts'

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

/** Measures the market on `chain`; returns one figure set per bidder count, and the cold bid. */
export async function measureMarket(
  chain: TestChain,
): Promise<{ cases: MarketGas[]; first_bid_gas: number }> {
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
  return { cases, first_bid_gas: firstBid }
}
