/**
 * The order-matching market in off-chain-aggregation mode, on anvil with a real threshold
 * committee: the DKG (in process) is bound to the config digest of the SLA's predicted
 * aggregator, the members confirm the key on the market, the factory deploys the
 * SlaThresholdAggregator with CREATE2 at the predicted address, the committee's threshold
 * Schnorr signature lands a report on it, and settle pays, returns and forfeits.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  type Address,
  decodeErrorResult,
  encodeFunctionData,
  type Hex,
  keccak256,
  parseEventLogs,
  type TransactionReceipt,
  toHex,
} from 'viem'
import {
  OrderMatchingAbi,
  SlaAggregatorFactoryAbi,
  SlaThresholdAggregatorBytecode,
  ThresholdAggregatorAbi,
  ThresholdAggregatorBytecode,
} from '../../artifacts/abis.ts'
import type { Signer } from '../../src/chain/commit-reveal-testing.ts'
import { SLA_STATUS } from '../../src/chain/market.ts'
import {
  deployMarketFixture,
  FACTORY_ABI,
  type MarketFixture,
  type OcaCommittee,
  SPEC_ID,
} from '../../src/chain/market-testing.ts'
import { revertDataOf } from '../../src/chain/revert.ts'
import {
  deployContract,
  increaseTime,
  LINK,
  linkBalance,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'
import { publicKeyOf, Q, randomSecret } from '../../src/crypto/schnorr.ts'
import { reportMessage } from '../../src/oca/report.ts'

const DEPOSIT = 5n * LINK
const PRICE = LINK

function ok(receipt: TransactionReceipt, what: string) {
  assert.equal(receipt.status, 'success', `${what} reverted`)
  return receipt
}

function marketEvents(receipt: TransactionReceipt) {
  return parseEventLogs({ abi: OrderMatchingAbi, logs: receipt.logs })
}

function factoryEvents(receipt: TransactionReceipt) {
  return parseEventLogs({ abi: SlaAggregatorFactoryAbi, logs: receipt.logs })
}

describe('OrderMatching, off-chain aggregation', () => {
  let chain: TestChain
  let m: MarketFixture
  before(async () => {
    chain = await startTestChain()
    m = await deployMarketFixture(chain, { aggregators: 1, purchasers: 2, oracles: 6 })
  })
  after(async () => {
    await chain?.stop()
  })

  /** An OCA SLA with committee of 4 out of `bidders` (cheapest first), finalized. */
  async function servingSla(bidders = 5, overrides = {}) {
    const [purchaser] = m.purchasers as [Signer]
    const proposal = await m.ocaProposal({
      minDeposit: DEPOSIT,
      paymentPerOracle: PRICE,
      ...overrides,
    })
    const { slaId } = await m.propose(purchaser, proposal)
    for (const [i, o] of m.oracles.slice(0, bidders).entries()) {
      ok(await m.bid(o, slaId, PRICE - BigInt(i) * (LINK / 10n), DEPOSIT), `bid ${i}`)
    }
    await increaseTime(chain, 100)
    const finalize = ok(await m.call(purchaser, 'finalize', [slaId], 5_000_000n), 'finalize')
    return { slaId, purchaser, proposal, finalize }
  }

  const factoryRead = <T>(functionName: string, args: readonly unknown[] = []) =>
    chain.owner.readContract({
      address: m.factory,
      abi: FACTORY_ABI,
      functionName,
      args,
    }) as Promise<T>

  async function factoryErrorOf(from: Address, functionName: string, args: readonly unknown[]) {
    try {
      await chain.owner.call({
        account: from,
        to: m.factory,
        data: encodeFunctionData({ abi: FACTORY_ABI, functionName, args }),
      })
      return undefined
    } catch (err) {
      const data = revertDataOf(err)
      if (!data) throw err
      return decodeErrorResult({ abi: FACTORY_ABI, data }).errorName
    }
  }

  it('serves an SLA end to end: predicted aggregator, key confirmed, report signed, members paid, the silent one forfeits', async () => {
    // The aggregators' runtime code is ThresholdAggregator's: transmit costs the same.
    const runtime = (name: string) =>
      JSON.parse(readFileSync(join(import.meta.dirname, '../../artifacts', `${name}.json`), 'utf8'))
        .deployedBytecode
    assert.equal(runtime('SlaThresholdAggregator'), runtime('ThresholdAggregator'))
    assert.notEqual(SlaThresholdAggregatorBytecode, ThresholdAggregatorBytecode)

    const { slaId, purchaser, finalize } = await servingSla(5)
    const predicted = await factoryRead<Address>('predict', [slaId])
    const [finalized] = parseEventLogs({
      abi: OrderMatchingAbi,
      logs: finalize.logs,
      eventName: 'SLAFinalized',
    })
    assert.ok(finalized)
    assert.equal(finalized.args.aggregator, predicted)
    assert.equal(finalized.args.roundId, 1n)
    // The cheapest four (bidders 1–4) at the highest selected price.
    assert.deepEqual(
      finalized.args.oracles,
      m.oracles
        .slice(1, 5)
        .reverse()
        .map((o) => o.address),
    )
    const clearing = PRICE - LINK / 10n
    assert.equal(finalized.args.clearingPrice, clearing)
    const v = await m.sla(slaId)
    assert.equal(SLA_STATUS[v.status], 'Serving')
    assert.equal(v.aggregator, predicted)
    assert.equal(v.roundId, 1n)
    assert.equal(v.escrow, 4n * clearing, 'n × clearing price stays in the market')
    assert.equal(v.lockedDeposits, 4n * DEPOSIT)
    assert.equal(v.aggregatorRefund, 0n)
    assert.equal(await linkBalance(chain, m.link, m.market), 4n * clearing + 4n * DEPOSIT)
    assert.deepEqual(await m.read('answerOf', [slaId]), [false, 0n, 0n])
    assert.equal((await chain.owner.getCode({ address: predicted })) ?? '0x', '0x')

    const c = await m.ocaCommittee(slaId)
    assert.equal(c.aggregator, predicted)
    // Members 0 and 1 confirm: recorded, nothing deployed; member 2 makes n − f = 3.
    for (const i of [0, 1]) {
      const r = ok(await c.confirm(i), `confirm ${i}`)
      const [e] = factoryEvents(r)
      assert.equal(e?.eventName, 'GroupKeyConfirmed')
      assert.equal((await chain.owner.getCode({ address: predicted })) ?? '0x', '0x')
    }
    assert.equal(await factoryRead('confirmations', [slaId]), 0b11n)
    const third = ok(await c.confirm(2), 'the confirmation that deploys')
    const deployed = factoryEvents(third).find((e) => e.eventName === 'AggregatorDeployed')
    assert.ok(deployed, 'AggregatorDeployed')
    assert.equal(deployed.args.aggregator, predicted, 'CREATE2 address = predict(slaId)')
    const agg = (functionName: string) =>
      chain.owner.readContract({
        address: predicted,
        abi: ThresholdAggregatorAbi,
        functionName,
      } as never)
    assert.equal(await agg('configDigest'), c.configDigest)
    assert.deepEqual(await agg('groupKey'), [c.key.publicKey.x, c.key.publicKey.parity])
    assert.deepEqual(await agg('committee'), [c.members, 1, 1])
    assert.equal(await agg('decimals'), 0)
    assert.equal(await agg('description'), 'Orakel SLA')
    // Outside a deployment the factory has no parameters; nobody but the market confirms.
    assert.equal(await factoryErrorOf(purchaser.address, 'parameters', []), 'NotDeploying')
    assert.equal(
      await factoryErrorOf(c.members[3] as Address, 'confirm', [
        slaId,
        c.members[3],
        c.key.publicKey.x,
        c.key.publicKey.parity,
      ]),
      'NotMarket',
    )

    // Member 3 never confirms. Anyone transmits the committee's report.
    await increaseTime(chain, 7)
    const tx = ok(await c.transmit(purchaser, 1, 123_456n), 'transmit')
    const answeredAt = Number(
      (await chain.owner.getBlock({ blockNumber: tx.blockNumber })).timestamp,
    )
    const finalizedAt = Number(
      (await chain.owner.getBlock({ blockNumber: finalize.blockNumber })).timestamp,
    )
    assert.deepEqual(await m.read('answerOf', [slaId]), [true, 123_456n, BigInt(answeredAt)])

    const members = c.members
    const before = await Promise.all(
      [...members, purchaser.address].map((a) => linkBalance(chain, m.link, a)),
    )
    const settle = ok(await m.call(m.oracles[0] as Signer, 'settle', [slaId], 2_000_000n), 'settle')
    const after = await Promise.all(
      [...members, purchaser.address].map((a) => linkBalance(chain, m.link, a)),
    )
    for (const i of [0, 1, 2])
      assert.equal(after[i]! - before[i]!, clearing + DEPOSIT, `member ${i} paid`)
    assert.equal(after[3], before[3], 'member 3 forfeits')
    assert.equal(
      after[4]! - before[4]!,
      clearing + DEPOSIT,
      'purchaser: the unpaid seat and the forfeit',
    )
    assert.equal(await linkBalance(chain, m.link, m.market), 0n)
    const ev = marketEvents(settle)
    const settled = ev.find((e) => e.eventName === 'SLASettled')
    assert.ok(settled)
    assert.deepEqual(settled.args, {
      slaId,
      revealBitmap: 0b0111n,
      agreeBitmap: 0b0111n,
      forfeited: DEPOSIT,
      refunded: clearing,
    })
    assert.ok(ev.some((e) => e.eventName === 'SLAAnswered' && e.args.answer === 123_456n))
    assert.equal(ev.filter((e) => e.eventName === 'DepositReturned').length, 3)
    assert.equal(ev.filter((e) => e.eventName === 'DepositForfeited').length, 1)
    assert.equal(SLA_STATUS[(await m.sla(slaId)).status], 'Settled')
    for (const i of [0, 1, 2]) {
      const r = await m.record(members[i] as Address, SPEC_ID)
      assert.equal(r.completed, 1)
      assert.equal(r.accepted, 1)
      assert.equal(r.totalResponseSeconds, BigInt(answeredAt - finalizedAt))
    }
    const silent = await m.record(members[3] as Address, SPEC_ID)
    assert.equal(silent.missed, 1)
    assert.equal(silent.penaltiesPaid, DEPOSIT)

    // Closed: no more confirmations, no second settle.
    assert.equal(
      await m.revertOf(m.signerOf(members[3] as Address), 'confirmGroupKey', [slaId, 1n, 0]),
      'NotServing',
    )
    assert.equal(await m.revertOf(purchaser, 'settle', [slaId]), 'NotServing')
  })

  it('refuses bad confirmations, each with its named error', async () => {
    const [purchaser] = m.purchasers as [Signer]
    const key = publicKeyOf(randomSecret())
    const o = m.oracles[0] as Signer
    assert.equal(await m.revertOf(o, 'confirmGroupKey', [9_999n, key.x, key.parity]), 'UnknownSLA')
    // Still bidding: not served yet.
    const { slaId: bidding } = await m.propose(purchaser, await m.ocaProposal())
    assert.equal(await m.revertOf(o, 'confirmGroupKey', [bidding, key.x, key.parity]), 'NotServing')
    ok(await m.call(purchaser, 'cancel', [bidding]), 'cancel')

    const { slaId } = await servingSla(4)
    const c = await m.ocaCommittee(slaId)
    const member = m.signerOf(c.members[0] as Address)
    const notMember = m.oracles[5] as Signer
    assert.equal(
      await m.revertOf(notMember, 'confirmGroupKey', [slaId, key.x, key.parity]),
      'NotCommitteeMember',
    )
    assert.equal(
      await m.revertOf(purchaser, 'confirmGroupKey', [slaId, key.x, key.parity]),
      'NotCommitteeMember',
    )
    // Not a key: px 0, px ≥ Q, parity 2, or an x with no point on the curve.
    let offCurve = 5n
    while (isOnCurve(offCurve)) offCurve += 1n
    for (const [px, parity] of [
      [0n, 0],
      [Q, 0],
      [key.x, 2],
      [offCurve, 0],
    ] as const) {
      assert.equal(
        await m.revertOf(member, 'confirmGroupKey', [slaId, px, parity]),
        'InvalidGroupKey',
        `${px}, ${parity}`,
      )
    }
    ok(await c.confirm(0), 'first confirmation')
    assert.equal(
      await m.revertOf(member, 'confirmGroupKey', [slaId, key.x, key.parity]),
      'KeyAlreadyConfirmed',
    )
    assert.equal(
      await m.revertOf(member, 'confirmGroupKey', [
        slaId,
        c.key.publicKey.x,
        c.key.publicKey.parity,
      ]),
      'KeyAlreadyConfirmed',
    )
    // Nothing to settle before the deadline without an answer.
    assert.equal(await m.revertOf(purchaser, 'settle', [slaId]), 'RoundInProgress')

    // A commit–reveal SLA has no group key.
    const { slaId: cr } = await m.propose(purchaser, await m.proposal({ minDeposit: DEPOSIT }))
    for (const o of m.oracles.slice(0, 4)) ok(await m.bid(o, cr, PRICE, DEPOSIT), 'bid')
    await increaseTime(chain, 100)
    ok(await m.call(purchaser, 'finalize', [cr], 5_000_000n), 'finalize')
    assert.equal(
      await m.revertOf(m.oracles[0] as Signer, 'confirmGroupKey', [cr, key.x, key.parity]),
      'NotOffchainAggregation',
    )
    await increaseTime(chain, 700)
    ok(await m.call(purchaser, 'settle', [cr], 2_000_000n), 'settle the commit–reveal SLA')
    ok(await m.call(purchaser, 'settle', [slaId], 2_000_000n), 'settle the OCA SLA')
  })

  it('a key confirmed by fewer than n − f is never deployed; later confirmations of the agreed key are recorded and paid, other keys are not', async () => {
    const [purchaser] = m.purchasers as [Signer]
    const { slaId } = await servingSla(4)
    const c = await m.ocaCommittee(slaId)
    const other = publicKeyOf(randomSecret())
    // Member 0 confirms another key; 1, 2 the committee's: 2 < n − f, nothing deployed.
    ok(await c.confirm(0, other), 'another key')
    ok(await c.confirm(1), 'confirm 1')
    const r2 = ok(await c.confirm(2), 'confirm 2')
    assert.equal(
      factoryEvents(r2).some((e) => e.eventName === 'AggregatorDeployed'),
      false,
    )
    // Member 3 makes three for the committee's key: deployed once.
    const r3 = ok(await c.confirm(3), 'confirm 3')
    assert.equal(factoryEvents(r3).filter((e) => e.eventName === 'AggregatorDeployed').length, 1)
    assert.equal(await factoryRead('confirmations', [slaId]), 0b1111n)
    ok(await c.transmit(purchaser, 1, -7n), 'transmit a negative answer')
    const settle = ok(await m.call(purchaser, 'settle', [slaId], 2_000_000n), 'settle')
    const settled = marketEvents(settle).find((e) => e.eventName === 'SLASettled')
    assert.equal(
      settled?.args.agreeBitmap,
      0b1110n,
      'the member that confirmed another key is not paid',
    )
    assert.equal(settled?.args.forfeited, DEPOSIT)
  })

  it('no answer by the deadline: every deposit is forfeited and the whole escrow refunded; a late answer does not count', async () => {
    const [purchaser] = m.purchasers as [Signer]
    for (const late of [false, true]) {
      const { slaId } = await servingSla(4)
      const c = await m.ocaCommittee(slaId)
      for (const i of [0, 1, 2, 3]) ok(await c.confirm(i), `confirm ${i}`)
      const v = await m.sla(slaId)
      assert.equal(await m.revertOf(purchaser, 'settle', [slaId]), 'RoundInProgress')
      await increaseTime(chain, v.responseDeadline - (await m.now()) + 1)
      if (late) ok(await c.transmit(purchaser, 1, 42n), 'a transmission after the deadline')
      assert.deepEqual(await m.read('answerOf', [slaId]), [false, 0n, 0n])
      const before = await linkBalance(chain, m.link, purchaser.address)
      const settle = ok(
        await m.call(m.oracles[0] as Signer, 'settle', [slaId], 2_000_000n),
        'settle',
      )
      assert.equal(
        (await linkBalance(chain, m.link, purchaser.address)) - before,
        v.escrow + 4n * DEPOSIT,
        'the purchaser gets the escrow and every deposit',
      )
      const settled = marketEvents(settle).find((e) => e.eventName === 'SLASettled')
      assert.deepEqual(settled?.args, {
        slaId,
        revealBitmap: 0b1111n,
        agreeBitmap: 0n,
        forfeited: 4n * DEPOSIT,
        refunded: v.escrow,
      })
      assert.equal(await linkBalance(chain, m.link, m.market), 0n)
    }
    // No key quorum at all (no aggregator): the same.
    const { slaId } = await servingSla(4)
    const c = await m.ocaCommittee(slaId)
    ok(await c.confirm(0), 'a lone confirmation')
    const v = await m.sla(slaId)
    await increaseTime(chain, v.responseDeadline - (await m.now()) + 1)
    const settle = ok(await m.call(purchaser, 'settle', [slaId], 2_000_000n), 'settle')
    const settled = marketEvents(settle).find((e) => e.eventName === 'SLASettled')
    assert.equal(settled?.args.forfeited, 4n * DEPOSIT)
    assert.equal(settled?.args.revealBitmap, 0n)
    const r = await m.record(c.members[0] as Address, SPEC_ID)
    assert.ok(r.missed >= 1)
    assert.equal(await linkBalance(chain, m.link, m.market), 0n)
  })

  it('an SlaThresholdAggregator transmits for the same gas as a ThresholdAggregator', async () => {
    const [purchaser] = m.purchasers as [Signer]
    const { slaId } = await servingSla(4)
    const c: OcaCommittee = await m.ocaCommittee(slaId)
    for (const i of [0, 1, 2]) ok(await c.confirm(i), `confirm ${i}`)
    const sla = ok(await c.transmit(purchaser, 1, 1_000n), 'transmit (SLA aggregator)')
    // The same committee on a plain ThresholdAggregator (its own digest, its own DKG).
    const plain = await deployContract(chain.owner, {
      name: 'ThresholdAggregator',
      abi: ThresholdAggregatorAbi,
      bytecode: ThresholdAggregatorBytecode,
      args: [
        c.key.publicKey.x,
        c.key.publicKey.parity,
        c.members,
        1,
        1,
        -(2n ** 127n),
        2n ** 127n - 1n,
        0,
        'Orakel SLA',
      ],
    })
    const digest = (await chain.owner.readContract({
      address: plain,
      abi: ThresholdAggregatorAbi,
      functionName: 'configDigest',
    })) as Hex
    const observationsHash = keccak256(toHex('observations of round 1'))
    const sig = c.key.sign(reportMessage(digest, { round: 1, answer: 1_000n, observationsHash }))
    const tx = ok(
      await purchaser.send(
        plain,
        encodeFunctionData({
          abi: ThresholdAggregatorAbi,
          functionName: 'transmit',
          args: [1, 1_000n, observationsHash, sig.s, sig.nonceAddress],
        }),
        200_000n,
      ),
      'transmit (plain aggregator)',
    )
    // Equal but for the calldata bytes of the signature (a zero byte costs 4 gas, others 16).
    assert.ok(
      Math.abs(Number(sla.gasUsed) - Number(tx.gasUsed)) <= 200,
      `${sla.gasUsed} vs ${tx.gasUsed}`,
    )
    // A confirmation after the deployment is recorded (and paid), nothing is deployed again.
    const late = ok(await c.confirm(3), 'a confirmation after the deployment')
    assert.equal(
      factoryEvents(late).some((e) => e.eventName === 'AggregatorDeployed'),
      false,
    )
    const settle = ok(await m.call(purchaser, 'settle', [slaId], 2_000_000n), 'settle')
    const settled = marketEvents(settle).find((e) => e.eventName === 'SLASettled')
    assert.equal(settled?.args.agreeBitmap, 0b1111n)
  })
})

const P = 2n ** 256n - 2n ** 32n - 977n

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n
  b %= m
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m
    b = (b * b) % m
    e >>= 1n
  }
  return r
}

/** Whether x is the x coordinate of a secp256k1 point (x³ + 7 a square mod P). */
function isOnCurve(x: bigint): boolean {
  return modPow((x * x * x + 7n) % P, (P - 1n) / 2n, P) === 1n
}
