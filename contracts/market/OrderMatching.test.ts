import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  type Address,
  type ContractEventArgsFromTopics,
  type ContractEventName,
  type Hex,
  parseEventLogs,
  type TransactionReceipt,
} from 'viem'
import {
  CommitRevealAggregatorAbi,
  CommitRevealAggregatorBytecode,
  OrderMatchingAbi,
  RefusingLinkAbi,
  RefusingLinkBytecode,
  ReputationAbi,
} from '../../artifacts/abis.ts'
import { fundedSigners, type Signer } from '../../src/chain/commit-reveal-testing.ts'
import {
  AGGREGATION_MODE,
  bidData,
  proposeData,
  SLA_STATUS,
  slaRequestId,
} from '../../src/chain/market.ts'
import { deployMarketFixture, type MarketFixture, SPEC_ID } from '../../src/chain/market-testing.ts'
import {
  deployContract,
  increaseTime,
  LINK,
  linkBalance,
  send,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'

const DEPOSIT = 5n * LINK

function events(receipt: TransactionReceipt) {
  return parseEventLogs({ abi: OrderMatchingAbi, logs: receipt.logs })
}

/** The args of the first `eventName` event of the market in `receipt`. */
function eventOf<const N extends ContractEventName<typeof OrderMatchingAbi>>(
  receipt: TransactionReceipt,
  eventName: N,
) {
  const [event] = parseEventLogs({
    abi: OrderMatchingAbi,
    logs: receipt.logs,
    eventName: [eventName],
  })
  assert.ok(event, `no ${eventName} event`)
  return event.args as ContractEventArgsFromTopics<typeof OrderMatchingAbi, N>
}

function ok(receipt: TransactionReceipt, what: string) {
  assert.equal(receipt.status, 'success', `${what} reverted`)
  return receipt
}

function statusOf(status: number) {
  return SLA_STATUS[status]
}

describe('OrderMatching', () => {
  let chain: TestChain
  let m: MarketFixture
  before(async () => {
    chain = await startTestChain()
    m = await deployMarketFixture(chain, { aggregators: 2, purchasers: 2, oracles: 7 })
  })
  after(async () => {
    await chain?.stop()
  })

  const balances = (accounts: Address[]) =>
    Promise.all(accounts.map((a) => linkBalance(chain, m.link, a)))

  /** Proposes, lets `bidders` bid `prices`, passes the window and finalizes. */
  async function serving(bidders: Signer[], prices: bigint[], purchaser = m.purchasers[0]!) {
    const { slaId } = await m.propose(purchaser, await m.proposal())
    for (const [i, o] of bidders.entries()) {
      ok(await m.bid(o, slaId, prices[i] as bigint, DEPOSIT), `bid ${i}`)
    }
    await increaseTime(chain, 100)
    const receipt = ok(await m.call(purchaser, 'finalize', [slaId]), 'finalize')
    return { slaId, receipt }
  }

  it('full flow: propose, bids, selection by price, round served, deposits returned, reputation recorded', async () => {
    const [purchaser] = m.purchasers as [Signer]
    const bidders = m.oracles.slice(0, 6)
    const prices = [LINK / 2n, LINK / 4n, LINK, (3n * LINK) / 4n, LINK / 5n, LINK / 3n]
    const accounts = [purchaser.address, ...bidders.map((o) => o.address), m.market]
    const before = await balances(accounts)

    const proposal = await m.proposal()
    const { slaId, receipt: proposed } = await m.propose(purchaser, proposal, 5n * LINK)
    assert.equal(eventOf(proposed, 'SLAProposed').escrow, 5n * LINK)
    let v = await m.sla(slaId)
    assert.equal(statusOf(v.status), 'Bidding')
    assert.equal(v.escrow, 5n * LINK)
    assert.equal(await m.read('slaData', [slaId]), proposal.data)

    for (const [i, o] of bidders.entries()) {
      const r = ok(await m.bid(o, slaId, prices[i] as bigint, DEPOSIT), `bid ${i}`)
      assert.ok(events(r).some((e) => e.eventName === 'BidPlaced'))
    }
    v = await m.sla(slaId)
    assert.equal(v.bids, 6n)
    assert.equal(v.lockedDeposits, 6n * DEPOSIT)
    const [listed] = await m.read<[Address[], bigint[]]>('bidsOf', [slaId])
    assert.deepEqual(
      listed,
      bidders.map((o) => o.address),
    )

    await increaseTime(chain, 100)
    const fin = ok(await m.call(m.oracles[6] as Signer, 'finalize', [slaId]), 'finalize')
    const finalized = eventOf(fin, 'SLAFinalized')
    // All scores are 0 (newcomers): cheapest first: 1/5, 1/4, 1/3, 1/2.
    const expected = [4, 1, 5, 0].map((i) => bidders[i]!.address)
    assert.deepEqual(finalized.oracles, expected)
    assert.equal(finalized.clearingPrice, LINK / 2n)
    assert.deepEqual(await m.read('committeeOf', [slaId]), expected)
    const returned = events(fin)
      .filter((e) => e.eventName === 'DepositReturned')
      .map((e) => (e.eventName === 'DepositReturned' ? e.args.oracle : undefined))
    assert.deepEqual(returned, [bidders[2]!.address, bidders[3]!.address])
    v = await m.sla(slaId)
    assert.equal(statusOf(v.status), 'Serving')
    assert.equal(v.escrow, 0n)
    assert.equal(v.clearingPrice, LINK / 2n)
    assert.equal(v.lockedDeposits, 4n * DEPOSIT)
    // The round was opened on the aggregator, paid 4 × clearing price, with the SLA's data.
    const round = await chain.owner.readContract({
      address: finalized.aggregator,
      abi: CommitRevealAggregatorAbi,
      functionName: 'getRound',
      args: [finalized.roundId],
    })
    assert.equal(round.escrow, 2n * LINK)
    const started = parseEventLogs({
      abi: CommitRevealAggregatorAbi,
      logs: fin.logs,
      eventName: 'RoundStarted',
    })[0]
    assert.equal(started?.args.specId, SPEC_ID)
    assert.equal(started?.args.data, proposal.data)
    assert.equal(started?.args.revealDeadline, proposal.responseDeadline)
    assert.equal(started?.args.requester, m.market)
    // The market asks with the SLA id as its nonce.
    assert.equal(started?.args.requestId, slaRequestId(m.market, slaId))
    assert.equal(await m.read('requestIdOf', [slaId]), slaRequestId(m.market, slaId))
    for (const o of expected) {
      const rec = await m.record(o, SPEC_ID)
      assert.equal(rec.assigned, 1)
      assert.equal(rec.depositsLocked, DEPOSIT)
    }
    // Purchaser escrowed 5, paid 4 × 1/2 = 2 to the aggregator: 3 back at finalize.
    let now = await balances(accounts)
    assert.equal(now[0], (before[0] as bigint) - 2n * LINK)

    // The committee answers: three agree, one is far off.
    await increaseTime(chain, 7)
    const reveals = await m.serve(slaId, [1000n, 1005n, 995n, 5000n])
    // The third reveal (2f+1) finalised the round and the aggregator called the market back.
    assert.equal(eventOf(reveals[2] as TransactionReceipt, 'SLAAnswered').answer, 1000n)
    const [isAnswered, answer] = await m.read<[boolean, bigint, bigint]>('answerOf', [slaId])
    assert.equal(isAnswered, true)
    assert.equal(answer, 1000n)

    const settled = ok(await m.call(purchaser, 'settle', [slaId]), 'settle')
    const s = eventOf(settled, 'SLASettled')
    assert.equal(s.revealBitmap, 0b1111n)
    assert.equal(s.agreeBitmap, 0b0111n)
    assert.equal(s.forfeited, 0n)
    assert.equal(s.refunded, 0n)
    assert.equal(statusOf((await m.sla(slaId)).status), 'Settled')
    assert.deepEqual(await m.read('freeAggregators'), m.aggregators)

    now = await balances(accounts)
    // Deposits all back; members earn the clearing price on the aggregator.
    for (const [i] of bidders.entries()) assert.equal(now[i + 1], before[i + 1])
    assert.equal(now[accounts.length - 1], 0n, 'the market holds nothing')
    for (const [j, o] of expected.entries()) {
      const rec = await m.record(o, SPEC_ID)
      assert.equal(rec.completed, 1)
      assert.equal(rec.accepted, j < 3 ? 1 : 0)
      assert.equal(rec.missed, 0)
      assert.ok(rec.totalResponseSeconds >= 7n, `response time ${rec.totalResponseSeconds}`)
      const earned = (await chain.owner.readContract({
        address: finalized.aggregator,
        abi: CommitRevealAggregatorAbi,
        functionName: 'getOracle',
        args: [o],
      })) as { withdrawable: bigint }
      assert.equal(earned.withdrawable, LINK / 2n)
    }
    // score = accepted × 10,000 / (outcomes + 3).
    const score = await chain.owner.readContract({
      address: m.reputation,
      abi: ReputationAbi,
      functionName: 'score',
      args: [expected[0] as Address, SPEC_ID],
    })
    assert.equal(score, 2500n)
    assert.equal(await m.revertOf(purchaser, 'settle', [slaId]), 'NotServing')
  })

  it('a selected oracle that never answers: its deposit goes to the purchaser and reputation records the penalty', async () => {
    const [, purchaser] = m.purchasers as [Signer, Signer]
    const bidders = m.oracles.slice(0, 4)
    const { slaId, receipt } = await serving(
      bidders,
      [1n, 2n, 3n, 4n].map((x) => x * 10n ** 17n),
      purchaser,
    )
    const committee = eventOf(receipt, 'SLAFinalized').oracles
    const silent = committee[3] as Address
    const beforeSilent = await m.record(silent, SPEC_ID)
    const purchaserBefore = await linkBalance(chain, m.link, purchaser.address)
    // Before anyone answers, the round is in progress.
    assert.equal(await m.revertOf(purchaser, 'settle', [slaId]), 'RoundInProgress')
    // The escrow cannot be taken back mid-round.
    assert.equal(await m.revertOf(purchaser, 'cancel', [slaId]), 'EscrowLocked')
    await m.serve(slaId, [7n, 7n, 7n, undefined])
    // Three reveals finalised the round and the silent member never committed: settle at once.
    const settled = ok(await m.call(m.oracles[5] as Signer, 'settle', [slaId]), 'settle')
    const forfeits = events(settled).filter((e) => e.eventName === 'DepositForfeited')
    assert.equal(forfeits.length, 1)
    assert.equal(eventOf(settled, 'DepositForfeited').oracle, silent)
    // The purchaser gets the silent member's deposit and its unpaid share (0.4 LINK).
    assert.equal(
      await linkBalance(chain, m.link, purchaser.address),
      purchaserBefore + DEPOSIT + 4n * 10n ** 17n,
    )
    const rec = await m.record(silent, SPEC_ID)
    assert.equal(rec.missed, beforeSilent.missed + 1)
    assert.equal(rec.penaltiesPaid, beforeSilent.penaltiesPaid + DEPOSIT)
    assert.equal(rec.completed, beforeSilent.completed)
    assert.equal(await linkBalance(chain, m.link, m.market), 0n)
  })

  it('a round that fails: settled on the aggregator after its deadline; revealers complete, the rest forfeit', async () => {
    const [purchaser] = m.purchasers as [Signer]
    const { slaId } = await serving(m.oracles.slice(0, 4), [LINK, LINK, LINK, LINK], purchaser)
    const before = await linkBalance(chain, m.link, purchaser.address)
    const committee = await m.read<Address[]>('committeeOf', [slaId])
    const records = await Promise.all(committee.map((o) => m.record(o, SPEC_ID)))
    // Only two of four reveal: the median of 3 cannot decide.
    // Reveals open at the commit deadline (half of the 600 s response time).
    await m.serve(slaId, [10n, 11n, undefined, undefined], { secondsBeforeReveals: 301 })
    const v = await m.sla(slaId)
    assert.equal(v.aggregatorRefund, 0n)
    assert.equal(await m.revertOf(purchaser, 'settle', [slaId]), 'RoundInProgress')
    await increaseTime(chain, 300)
    const settled = ok(await m.call(purchaser, 'settle', [slaId]), 'settle')
    const names = parseEventLogs({ abi: CommitRevealAggregatorAbi, logs: settled.logs }).map(
      (e) => e.eventName,
    )
    assert.ok(names.includes('RoundFailed'), names.join(','))
    // Two deposits forfeited, two answers unpaid.
    assert.equal(
      await linkBalance(chain, m.link, purchaser.address),
      before + 2n * DEPOSIT + 2n * LINK,
    )
    for (const [i, o] of committee.entries()) {
      const rec = await m.record(o, SPEC_ID)
      const was = records[i] as typeof rec
      assert.equal(rec.completed - was.completed, i < 2 ? 1 : 0)
      assert.equal(rec.accepted - was.accepted, 0)
      assert.equal(rec.missed - was.missed, i < 2 ? 0 : 1)
    }
    const [answered] = await m.read<[boolean]>('answerOf', [slaId])
    assert.equal(answered, false)
    assert.equal(await linkBalance(chain, m.link, m.market), 0n)
  })

  it('refuses bad bids, each with its named error, and returns a deposit beyond the minimum', async () => {
    const [purchaser] = m.purchasers as [Signer]
    const [a, b] = m.oracles as [Signer, Signer]
    const { slaId } = await m.propose(purchaser, await m.proposal())
    assert.equal(await m.transferRevertOf(a, DEPOSIT, bidData(999n, 1n)), 'UnknownSLA')
    assert.equal(await m.transferRevertOf(a, DEPOSIT, bidData(slaId, LINK + 1n)), 'PriceTooHigh')
    assert.equal(await m.transferRevertOf(a, DEPOSIT - 1n, bidData(slaId, LINK)), 'DepositTooLow')
    assert.equal(await m.transferRevertOf(a, DEPOSIT, '0x12345678'), 'UnknownAction')
    assert.equal(await m.transferRevertOf(a, DEPOSIT, '0x'), 'UnknownAction')
    assert.equal(await m.transferRevertOf(a, DEPOSIT, `${bidData(slaId, 1n)}00`), 'MalformedData')
    // Only through LINK.transferAndCall.
    assert.equal(await m.revertOf(a, 'bid', [slaId, 1n]), 'NotLinkToken')
    assert.equal(
      await m.revertOf(a, 'onTokenTransfer', [a.address, DEPOSIT, bidData(slaId, 1n)]),
      'NotLinkToken',
    )

    const before = await linkBalance(chain, m.link, a.address)
    ok(await m.bid(a, slaId, LINK, DEPOSIT + 3n * LINK), 'bid with a larger deposit')
    assert.equal(await linkBalance(chain, m.link, a.address), before - DEPOSIT)
    assert.equal((await m.sla(slaId)).lockedDeposits, DEPOSIT)
    assert.equal(await m.transferRevertOf(a, DEPOSIT, bidData(slaId, LINK)), 'AlreadyBid')
    await increaseTime(chain, 100)
    assert.equal(await m.transferRevertOf(b, DEPOSIT, bidData(slaId, LINK)), 'BiddingClosed')
    // Nothing was lost: the failed calls moved no LINK.
    assert.equal(await linkBalance(chain, m.link, m.market), 4n * LINK + DEPOSIT)
    ok(await m.call(purchaser, 'finalize', [slaId]), 'finalize (cancels: one bid)')
    assert.equal(await linkBalance(chain, m.link, m.market), 0n)
  })

  it('refuses bad proposals, each with its named error', async () => {
    const [purchaser] = m.purchasers as [Signer]
    const t = await m.now()
    const cases: [Partial<Parameters<MarketFixture['proposal']>[0]>, string, bigint?][] = [
      // Off-chain aggregation uses no aggregation function: it must be zero.
      [{ mode: AGGREGATION_MODE.OffchainAggregation }, 'InvalidAggregation'],
      [{ n: 3 }, 'InvalidCommitteeSize'],
      [{ n: 32 }, 'InvalidCommitteeSize'],
      [{ aggregation: purchaser.address }, 'InvalidAggregation'],
      [{ minReputation: 10_001 }, 'InvalidMinReputation'],
      [{ agreementBps: 10_001 }, 'InvalidAgreementBps'],
      [{ minDeposit: 2n ** 88n }, 'AmountTooLarge'],
      [{ biddingEnd: t - 1 }, 'InvalidBiddingEnd'],
      [{ biddingEnd: t + 100, responseDeadline: t + 100 }, 'InvalidResponseDeadline'],
      [{}, 'InsufficientEscrow', 4n * LINK - 1n],
    ]
    for (const [overrides, error, escrow] of cases) {
      const p = await m.proposal(overrides)
      assert.equal(
        await m.transferRevertOf(purchaser, escrow ?? 4n * LINK, proposeData(p)),
        error,
        JSON.stringify(overrides, (_, v) => (typeof v === 'bigint' ? String(v) : v)),
      )
    }
    assert.equal(await m.revertOf(purchaser, 'propose', [await m.proposal()]), 'NotLinkToken')
  })

  it('finalize early, twice, or of an unknown SLA: named errors; too few bids: cancelled and everything refunded', async () => {
    const [purchaser] = m.purchasers as [Signer]
    const bidders = m.oracles.slice(0, 3)
    const accounts = [purchaser.address, ...bidders.map((o) => o.address)]
    const before = await balances(accounts)
    const { slaId } = await m.propose(purchaser, await m.proposal(), 6n * LINK)
    for (const o of bidders) ok(await m.bid(o, slaId, LINK, DEPOSIT), 'bid')
    assert.equal(await m.revertOf(purchaser, 'finalize', [slaId]), 'BiddingOpen')
    assert.equal(await m.revertOf(purchaser, 'finalize', [slaId + 100n]), 'UnknownSLA')
    await increaseTime(chain, 100)
    const fin = ok(await m.call(purchaser, 'finalize', [slaId]), 'finalize')
    assert.equal(eventOf(fin, 'SLACancelled').reason, 1) // TooFewBids
    assert.equal(events(fin).filter((e) => e.eventName === 'DepositReturned').length, 3)
    assert.deepEqual(await balances(accounts), before)
    assert.equal(statusOf((await m.sla(slaId)).status), 'Cancelled')
    assert.equal(await m.revertOf(purchaser, 'finalize', [slaId]), 'AlreadyFinalized')
    assert.equal(await m.revertOf(purchaser, 'cancel', [slaId]), 'SLAClosed')

    // A served SLA cannot be finalized again either.
    const served = await serving(m.oracles.slice(0, 4), [1n, 1n, 1n, 1n])
    assert.equal(await m.revertOf(purchaser, 'finalize', [served.slaId]), 'AlreadyFinalized')
    await m.serve(served.slaId, [5n, 5n, 5n, 5n])
    ok(await m.call(purchaser, 'settle', [served.slaId]), 'settle')
  })

  it('the purchaser takes its escrow back only while no one bid', async () => {
    const [purchaser, other] = m.purchasers as [Signer, Signer]
    const before = await linkBalance(chain, m.link, purchaser.address)
    const { slaId } = await m.propose(purchaser, await m.proposal())
    assert.equal(await m.revertOf(other, 'cancel', [slaId]), 'NotPurchaser')
    ok(await m.call(purchaser, 'cancel', [slaId]), 'cancel')
    assert.equal(await linkBalance(chain, m.link, purchaser.address), before)
    assert.equal(await m.revertOf(purchaser, 'cancel', [slaId]), 'SLAClosed')
    const second = await m.propose(purchaser, await m.proposal())
    ok(await m.bid(m.oracles[0] as Signer, second.slaId, LINK, DEPOSIT), 'bid')
    assert.equal(await m.revertOf(purchaser, 'cancel', [second.slaId]), 'EscrowLocked')
    await increaseTime(chain, 100)
    ok(await m.call(purchaser, 'finalize', [second.slaId]), 'finalize')
  })

  it('selects by reputation, then price, then bid order; bids below the minimum reputation do not qualify', async () => {
    const [purchaser] = m.purchasers as [Signer]
    const specId = `0x${'7a'.repeat(32)}` as Hex
    const [a, b, c, d, e] = m.oracles as [Signer, Signer, Signer, Signer, Signer]
    // The owner records outcomes itself for this spec: a scores 4000 (2 of 2), b 2500 (1 of 1).
    await send(chain.owner, {
      address: m.reputation,
      abi: ReputationAbi,
      functionName: 'setWriter',
      args: [chain.owner.account.address, true],
    })
    const outcome = (oracle: Address) => ({
      oracle,
      completed: true,
      accepted: true,
      responseSeconds: 5,
      penalty: 0n,
    })
    await send(chain.owner, {
      address: m.reputation,
      abi: ReputationAbi,
      functionName: 'recordOutcomes',
      args: [specId, [outcome(a.address), outcome(a.address), outcome(b.address)]],
    })

    // c, d and e are newcomers at the same price: bid order decides between them.
    const bids: [Signer, bigint][] = [
      [c, LINK / 10n],
      [e, LINK / 10n],
      [a, LINK],
      [d, LINK / 10n],
      [b, LINK / 2n],
    ]
    const { slaId } = await m.propose(purchaser, await m.proposal({ specId }))
    for (const [o, price] of bids) ok(await m.bid(o, slaId, price, DEPOSIT), 'bid')
    await increaseTime(chain, 100)
    const fin = ok(await m.call(purchaser, 'finalize', [slaId]), 'finalize')
    const committee = eventOf(fin, 'SLAFinalized')
    assert.deepEqual(committee.oracles, [a.address, b.address, c.address, e.address])
    assert.equal(committee.clearingPrice, LINK)
    await m.serve(slaId, [1n, 1n, 1n, 1n])
    ok(await m.call(purchaser, 'settle', [slaId]), 'settle')

    // Now a scores 5,000 (3 of 3), b 4,000, c and e 2,500, d 0. With a minimum reputation of
    // 4,000 only a and b qualify: too few for 4.
    assert.deepEqual(
      await chain.owner.readContract({
        address: m.reputation,
        abi: ReputationAbi,
        functionName: 'scores',
        args: [[a.address, b.address, c.address, d.address, e.address], specId],
      }),
      [5000n, 4000n, 2500n, 0n, 2500n],
    )
    const strict = await m.propose(purchaser, await m.proposal({ specId, minReputation: 4_000 }))
    for (const [o, price] of bids) ok(await m.bid(o, strict.slaId, price, DEPOSIT), 'bid')
    await increaseTime(chain, 100)
    const cancelled = ok(await m.call(purchaser, 'finalize', [strict.slaId]), 'finalize')
    assert.equal(eventOf(cancelled, 'SLACancelled').reason, 1)
    assert.equal(await linkBalance(chain, m.link, m.market), 0n)
  })

  it('only the serving aggregator may deliver an answer; the pool takes only aggregators the market owns', async () => {
    const [purchaser] = m.purchasers as [Signer]
    assert.equal(
      await m.revertOf(purchaser, 'onSLAAnswer', [`0x${'00'.repeat(32)}`, 1n]),
      'NotServingAggregator',
    )
    const stranger = { address: chain.stranger.account.address } as Signer
    assert.equal(await m.revertOf(stranger, 'addAggregator', [m.aggregators[0]]), 'NotOwner')
    const owner = chain.owner.account.address
    assert.equal(
      await m.revertOf(owner, 'addAggregator', [m.aggregators[0]]),
      'AggregatorAlreadyAdded',
    )
    const loose = await deployContract(chain.owner, {
      name: 'CommitRevealAggregator',
      abi: CommitRevealAggregatorAbi,
      bytecode: CommitRevealAggregatorBytecode,
      args: [m.link, owner, 8, 'not offered'],
    })
    // Not offered to the market: it cannot accept the ownership.
    assert.equal(await m.revertOf(owner, 'addAggregator', [loose]), 'NotPendingOwner')
    assert.equal(await m.revertOf(owner, 'removeAggregator', [loose, owner]), 'AggregatorNotFree')
  })

  it('no free aggregator or a passed response deadline: cancelled, everything refunded', async () => {
    const [purchaser] = m.purchasers as [Signer]
    const four = m.oracles.slice(0, 4)
    const busy = []
    for (let i = 0; i < m.aggregators.length; i++) busy.push(await serving(four, [1n, 1n, 1n, 1n]))
    const owner = chain.owner.account.address
    assert.equal(
      await m.revertOf(owner, 'removeAggregator', [m.aggregators[0], owner]),
      'AggregatorNotFree',
    )
    const before = await balances([purchaser.address, ...four.map((o) => o.address)])
    const { slaId } = await m.propose(purchaser, await m.proposal())
    for (const o of four) ok(await m.bid(o, slaId, 1n, DEPOSIT), 'bid')
    await increaseTime(chain, 100)
    const fin = ok(await m.call(purchaser, 'finalize', [slaId]), 'finalize')
    assert.equal(
      eventOf(fin, 'SLACancelled').reason,
      2, // NoAggregator
    )
    assert.deepEqual(await balances([purchaser.address, ...four.map((o) => o.address)]), before)
    for (const s of busy) {
      await m.serve(s.slaId, [3n, 3n, 3n, 3n])
      ok(await m.call(purchaser, 'settle', [s.slaId]), 'settle')
    }

    const late = await m.propose(purchaser, await m.proposal())
    for (const o of four) ok(await m.bid(o, late.slaId, 1n, DEPOSIT), 'bid')
    await increaseTime(chain, 100 + 600)
    const cancelled = ok(await m.call(purchaser, 'finalize', [late.slaId]), 'finalize')
    assert.equal(
      eventOf(cancelled, 'SLACancelled').reason,
      3, // DeadlinePassed
    )
    assert.equal(await linkBalance(chain, m.link, m.market), 0n)

    // A free aggregator leaves the pool and is offered back.
    const agg = m.aggregators[1] as Address
    await send(chain.owner, {
      address: m.market,
      abi: OrderMatchingAbi,
      functionName: 'removeAggregator',
      args: [agg, owner],
    })
    await send(chain.owner, {
      address: agg,
      abi: CommitRevealAggregatorAbi,
      functionName: 'acceptOwnership',
      args: [],
    })
    assert.equal(
      await chain.owner.readContract({
        address: agg,
        abi: CommitRevealAggregatorAbi,
        functionName: 'owner',
      }),
      owner,
    )
    assert.deepEqual(await m.read('freeAggregators'), [m.aggregators[0]])
  })

  it('takes at most 128 bids per SLA; finalize over 128 bids stays well within a block', async () => {
    const [purchaser] = m.purchasers as [Signer]
    // No deposit, so the crowd needs gas only.
    const { slaId } = await m.propose(purchaser, await m.proposal({ minDeposit: 0n }))
    const crowd = await fundedSigners(chain, 125)
    const cheapest = m.oracles.slice(0, 4)
    for (const [i, o] of cheapest.entries()) ok(await m.bid(o, slaId, BigInt(i + 1), 0n), 'bid')
    for (const o of crowd.slice(0, 124)) ok(await m.bid(o, slaId, LINK / 2n, 0n), 'crowd bid')
    assert.equal((await m.sla(slaId)).bids, 128n)
    assert.equal(
      await m.transferRevertOf(crowd[124] as Signer, 0n, bidData(slaId, 1n)),
      'TooManyBids',
    )
    await increaseTime(chain, 100)
    const fin = ok(await m.call(purchaser, 'finalize', [slaId], 10_000_000n), 'finalize')
    // The four cheapest (they also have scores from the tests above: order among them by score).
    assert.deepEqual(
      [...eventOf(fin, 'SLAFinalized').oracles].sort(),
      cheapest.map((o) => o.address).sort(),
    )
    assert.ok(fin.gasUsed < 3_000_000n, `finalize over 128 bids: ${fin.gasUsed} gas`)
    await m.serve(slaId, [2n, 2n, 2n, 2n])
    ok(await m.call(purchaser, 'settle', [slaId]), 'settle')
  })
})

describe('OrderMatching with a token that refuses transfers', () => {
  let chain: TestChain
  before(async () => {
    chain = await startTestChain()
  })
  after(async () => {
    await chain?.stop()
  })

  it('credits what it cannot send, and the recipient withdraws it later: nothing is lost', async () => {
    const token = await deployContract(chain.owner, {
      name: 'RefusingLink',
      abi: RefusingLinkAbi,
      bytecode: RefusingLinkBytecode,
      args: [],
    })
    const m = await deployMarketFixture(chain, { link: token, aggregators: 1, oracles: 5 })
    const refuse = (account: Address, mode: number) =>
      send(chain.owner, {
        address: token,
        abi: RefusingLinkAbi,
        functionName: 'setRefusal',
        args: [account, mode],
      })
    const [purchaser] = m.purchasers as [Signer]
    const [a, b, c, d, e] = m.oracles as [Signer, Signer, Signer, Signer, Signer]
    const { slaId } = await m.propose(purchaser, await m.proposal(), 6n * LINK)
    for (const [o, price] of [
      [a, LINK / 4n],
      [b, LINK / 4n],
      [c, LINK / 4n],
      [d, LINK / 4n],
      [e, LINK],
    ] as const)
      ok(await m.bid(o, slaId, price, DEPOSIT), 'bid')
    // e (unselected) reverts on receipt, the purchaser's refund returns false.
    await refuse(e.address, 2)
    await refuse(purchaser.address, 1)
    await increaseTime(chain, 100)
    const fin = ok(await m.call(purchaser, 'finalize', [slaId]), 'finalize')
    const owedEvents = events(fin).filter((x) => x.eventName === 'PaymentOwed')
    assert.equal(owedEvents.length, 2)
    assert.equal(await m.read('owed', [e.address]), DEPOSIT)
    assert.equal(await m.read('owed', [purchaser.address]), 5n * LINK)
    // Held: the committee's four deposits and what is owed.
    assert.equal(await linkBalance(chain, token, m.market), 4n * DEPOSIT + DEPOSIT + 5n * LINK)

    assert.equal(await m.revertOf(e, 'withdraw', []), 'Refused')
    assert.equal(await m.revertOf(purchaser, 'withdraw', []), 'LinkTransferFailed')
    assert.equal(await m.revertOf(a, 'withdraw', []), 'NothingOwed')
    await refuse(e.address, 0)
    await refuse(purchaser.address, 0)
    const before = await linkBalance(chain, token, e.address)
    ok(await m.call(e, 'withdraw', []), 'withdraw')
    assert.equal(await linkBalance(chain, token, e.address), before + DEPOSIT)
    ok(await m.call(purchaser, 'withdraw', []), 'withdraw')
    assert.equal(await m.read('owed', [purchaser.address]), 0n)
    assert.equal(await m.revertOf(e, 'withdraw', []), 'NothingOwed')

    await m.serve(slaId, [1n, 1n, 1n, 1n])
    ok(await m.call(purchaser, 'settle', [slaId]), 'settle')
    assert.equal(await linkBalance(chain, token, m.market), 0n)
  })
})
