/**
 * Invariant fuzzing of the order-matching market's money on a real anvil: random sequences of
 * proposals (three purchasers), bids (seven oracles, some refused), finalizations, committees
 * answering (some members silent, some far off), settlements, purchaser cancellations and clock
 * jumps, over two pool aggregators; a third of the SLAs are served by off-chain aggregation
 * (members confirm a key from a real DKG, some stay silent, the committee signs a report when the
 * key was agreed). After every step:
 *   LINK held by the market = Σ escrow (SLAs bidding; OCA SLAs serving) + Σ locked deposits (bidding or serving)
 *     + Σ escrow the aggregators refunded and settle has not passed on (serving) + Σ owed;
 * at the end, once every SLA is driven to its end: the market holds nothing, and every deposit
 * a bid locked was returned or forfeited exactly once (never both, never twice).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { type Address, parseEventLogs } from 'viem'
import { CommitRevealAggregatorAbi, OrderMatchingAbi } from '../../artifacts/abis.ts'
import type { Signer } from '../../src/chain/commit-reveal-testing.ts'
import {
  deployMarketFixture,
  type MarketFixture,
  type OcaCommittee,
} from '../../src/chain/market-testing.ts'
import {
  increaseTime,
  LINK,
  linkBalance,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'

const UNIT = LINK / 10n
const PURCHASERS = 3
const ORACLES = 7

type Action =
  | {
      kind: 'propose'
      purchaser: number
      n: number
      payment: bigint
      deposit: bigint
      window: number
      response: number
      extra: bigint
      strict: boolean
      oca: boolean
    }
  | { kind: 'bid'; oracle: number; sla: number; pricePct: number; extra: bigint; short: boolean }
  | { kind: 'crowd'; sla: number; bidders: number; offset: number; seed: number }
  | { kind: 'finalize'; sla: number; wait: boolean }
  | { kind: 'answer'; sla: number; silent: number; wild: number }
  | { kind: 'settle'; sla: number }
  | { kind: 'cancel'; sla: number }
  | { kind: 'time'; seconds: number }

const sla = fc.nat({ max: 40 })
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('propose' as const),
      purchaser: fc.nat({ max: PURCHASERS - 1 }),
      n: fc.constantFrom(4, 4, 5),
      payment: fc.bigInt({ min: 0n, max: 3n * UNIT }),
      deposit: fc.bigInt({ min: 0n, max: 2n * UNIT }),
      window: fc.integer({ min: 60, max: 400 }),
      response: fc.integer({ min: 60, max: 600 }),
      extra: fc.bigInt({ min: 0n, max: UNIT }),
      strict: fc.nat({ max: 5 }).map((x) => x === 0),
      oca: fc.nat({ max: 2 }).map((x) => x === 0),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('bid' as const),
      oracle: fc.nat({ max: ORACLES - 1 }),
      sla,
      pricePct: fc.integer({ min: 0, max: 110 }),
      extra: fc.bigInt({ min: 0n, max: UNIT }),
      short: fc.nat({ max: 9 }).map((x) => x < 2),
    }),
  },
  // Several oracles bid on one SLA (so committees form).
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('crowd' as const),
      sla,
      bidders: fc.integer({ min: 4, max: ORACLES }),
      offset: fc.nat({ max: ORACLES - 1 }),
      seed: fc.nat({ max: 1000 }),
    }),
  },
  {
    weight: 3,
    // With `wait`, the clock first moves to the end of the SLA's bidding window.
    arbitrary: fc.record({ kind: fc.constant('finalize' as const), sla, wait: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('answer' as const),
      sla,
      // Bit i set: member i stays silent / answers far off.
      silent: fc.nat({ max: 31 }).map((x) => (x < 16 ? 0 : x & 0b1111)),
      wild: fc.nat({ max: 31 }).map((x) => (x < 20 ? 0 : x & 0b1111)),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('settle' as const), sla }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), sla }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('time' as const),
      seconds: fc.integer({ min: 1, max: 150 }),
    }),
  },
)

describe('OrderMatching invariants', () => {
  let chain: TestChain
  before(async () => {
    chain = await startTestChain()
  })
  after(async () => {
    await chain?.stop()
  })

  it('LINK held = escrows + locked deposits + refunds in transit + owed; every deposit returned or forfeited exactly once', async () => {
    let steps = 0
    let settled = 0
    let forfeited = 0
    let ocaSettled = 0
    let ocaPaid = 0
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 25, maxLength: 50 }), async (actions) => {
        const m = await deployMarketFixture(chain, {
          aggregators: 2,
          purchasers: PURCHASERS,
          oracles: ORACLES,
          funds: 100n * LINK,
        })
        const fromBlock = await chain.owner.getBlockNumber()
        const accounts = accountsOf(m)
        const pick = async (r: number) => {
          const count = Number(await m.read<bigint>('slaCount'))
          if (count === 0) return 1n
          // Mostly the newest SLAs, sometimes an older one.
          return BigInt(r % 4 === 0 ? (r % count) + 1 : count - (r % Math.min(count, 3)))
        }
        for (const a of actions) {
          await step(m, a, pick)
          steps += 1
          await checkBalance(m, accounts)
        }
        // Drive every SLA to its end: finalize when its window closes, let its committee
        // answer, settle after its deadline. Then nothing may be left, no deposit unaccounted.
        const count = Number(await m.read<bigint>('slaCount'))
        for (let id = 1n; id <= BigInt(count); id++) {
          const before = await m.sla(id)
          if (before.status === 1 && (await m.now()) < before.biddingEnd) {
            // The oracles that have not bid yet do (the others are refused: AlreadyBid).
            const seed = Number(id)
            const crowd = { bidders: ORACLES, offset: seed % ORACLES, seed }
            await step(m, { kind: 'crowd', sla: 0, ...crowd }, async () => id)
          }
          await step(m, { kind: 'finalize', sla: 0, wait: true }, async () => id)
          await step(
            m,
            { kind: 'answer', sla: 0, silent: Number(id % 3n), wild: 0 },
            async () => id,
          )
          await checkBalance(m, accounts)
          const v = await m.sla(id)
          if (v.status === 2) {
            const wait = v.responseDeadline - (await m.now()) + 1
            if (wait > 0) await increaseTime(chain, wait)
            const r = await m.call(m.purchasers[0] as Signer, 'settle', [id], 3_000_000n)
            assert.equal(r.status, 'success', `settle ${id} after its deadline`)
          }
          await checkBalance(m, accounts)
        }
        assert.equal(await linkBalance(chain, m.link, m.market), 0n, 'the market holds nothing')
        const ends = await checkDeposits(m, fromBlock)
        settled += ends.settled
        forfeited += ends.forfeited
        ocaSettled += ends.ocaSettled
        ocaPaid += ends.ocaPaid
      }),
      { numRuns: 8, endOnFailure: true, seed: Number(process.env.FC_SEED ?? 20_261_124) },
    )
    assert.ok(steps > 150, `${steps} steps`)
    assert.ok(settled >= 3, `${settled} SLAs served and settled`)
    assert.ok(forfeited >= 1, `${forfeited} deposits forfeited`)
    assert.ok(ocaSettled >= 2, `${ocaSettled} OCA SLAs settled`)
    assert.ok(ocaPaid >= 1, `${ocaPaid} OCA SLAs answered and paid`)
  })

  async function step(m: MarketFixture, a: Action, pick: (r: number) => Promise<bigint>) {
    const someone = m.purchasers[0] as Signer
    switch (a.kind) {
      case 'propose': {
        const t = await m.now()
        const proposal = await (a.oca ? m.ocaProposal : m.proposal)({
          n: a.n,
          paymentPerOracle: a.payment,
          minDeposit: a.deposit,
          biddingEnd: t + a.window,
          responseDeadline: t + a.window + a.response,
          minReputation: a.strict ? 2_000 : 0,
        })
        await m.propose(
          m.purchasers[a.purchaser] as Signer,
          proposal,
          BigInt(a.n) * a.payment + a.extra,
        )
        break
      }
      case 'bid': {
        const id = await pick(a.sla)
        const v = await m.sla(id)
        const price = (v.paymentPerOracle * BigInt(a.pricePct)) / 100n
        const deposit = a.short && v.minDeposit > 0n ? v.minDeposit - 1n : v.minDeposit + a.extra
        // Refused bids (closed, twice, short, too dear) revert and must move nothing.
        await m.bid(m.oracles[a.oracle] as Signer, id, price, deposit)
        break
      }
      case 'crowd': {
        const id = await pick(a.sla)
        const v = await m.sla(id)
        for (let k = 0; k < a.bidders; k++) {
          const oracle = m.oracles[(a.offset + k) % ORACLES] as Signer
          const price = (v.paymentPerOracle * BigInt((a.seed * (k + 7)) % 101)) / 100n
          await m.bid(oracle, id, price, v.minDeposit)
          await checkBalance(m, accountsOf(m))
        }
        break
      }
      case 'finalize': {
        const id = await pick(a.sla)
        if (a.wait) {
          const v = await m.sla(id)
          const now = await m.now()
          if (v.status === 1 && now < v.biddingEnd) await increaseTime(m.chain, v.biddingEnd - now)
        }
        await m.call(someone, 'finalize', [id], 5_000_000n)
        break
      }
      case 'answer': {
        const id = await pick(a.sla)
        const v = await m.sla(id)
        if (v.status !== 2) break
        if (v.mode === 1) {
          await answerOffchain(m, id, a.silent)
          break
        }
        const round = await m.chain.owner.readContract({
          address: v.aggregator,
          abi: CommitRevealAggregatorAbi,
          functionName: 'getRound',
          args: [v.roundId],
        })
        if (round.status !== 1 || round.commitBitmap !== 0) break
        const now = await m.now()
        if (now >= round.commitDeadline) break
        const values = Array.from({ length: v.n }, (_, i) =>
          a.silent & (1 << i) ? undefined : a.wild & (1 << i) ? 9_000n + BigInt(i) : 100n,
        )
        const answering = values.filter((x) => x !== undefined).length
        const f = Math.floor((v.n - 1) / 3)
        try {
          await m.serve(id, values, {
            // Reveals open at 2f+1 commits, or else at the commit deadline.
            ...(answering < 2 * f + 1 ? { secondsBeforeReveals: round.commitDeadline - now } : {}),
          })
        } catch {
          // A member's reveal can miss its window after the clock jump; the round then fails.
        }
        break
      }
      case 'settle':
        await m.call(someone, 'settle', [await pick(a.sla)], 3_000_000n)
        break
      case 'cancel': {
        const id = await pick(a.sla)
        const v = await m.sla(id)
        if (v.status === 0) break
        await m.call(m.signerOf(v.purchaser), 'cancel', [id], 2_000_000n)
        break
      }
      case 'time':
        await increaseTime(m.chain, a.seconds)
        break
    }
  }

  /** The committee of an OCA SLA (one DKG per SLA and fixture). */
  const committees = new Map<string, Promise<OcaCommittee>>()

  /** Members whose bit of `silent` is clear confirm the key; with n − f of them the committee signs. */
  async function answerOffchain(m: MarketFixture, id: bigint, silent: number) {
    const key = `${m.market}/${id}`
    if (!committees.has(key)) committees.set(key, m.ocaCommittee(id))
    const c = (await committees.get(key)) as OcaCommittee
    // Refused when a member already confirmed (a second answer step): moves nothing.
    for (let i = 0; i < c.members.length; i++) if (!(silent & (1 << i))) await c.confirm(i)
    if ((await m.chain.owner.getCode({ address: c.aggregator })) === undefined) return
    await c.transmit(m.purchasers[0] as Signer, 1, 100n)
  }

  const accountsOf = (m: MarketFixture) => [...m.purchasers, ...m.oracles].map((s) => s.address)

  async function checkBalance(m: MarketFixture, accounts: Address[]) {
    const count = Number(await m.read<bigint>('slaCount'))
    const [held, views, owed] = await Promise.all([
      linkBalance(chain, m.link, m.market),
      Promise.all(Array.from({ length: count }, (_, i) => m.sla(BigInt(i + 1)))),
      Promise.all(accounts.map((a) => m.read<bigint>('owed', [a]))),
    ])
    let expected = owed.reduce((s, x) => s + x, 0n)
    for (const v of views) expected += v.escrow + v.lockedDeposits + v.aggregatorRefund
    assert.equal(held, expected, 'LINK held = escrows + deposits + refunds in transit + owed')
  }

  async function checkDeposits(m: MarketFixture, fromBlock: bigint) {
    const logs = await chain.owner.getLogs({ address: m.market, fromBlock })
    const events = parseEventLogs({ abi: OrderMatchingAbi, logs })
    const locked = new Map<string, bigint>()
    const ended = new Map<string, string>()
    let settled = 0
    let forfeited = 0
    let ocaSettled = 0
    let ocaPaid = 0
    for (const e of events) {
      if (e.eventName === 'BidPlaced') {
        const key = `${e.args.slaId}/${e.args.oracle}`
        assert.ok(!locked.has(key), `two bids ${key}`)
        locked.set(key, (await m.sla(e.args.slaId)).minDeposit)
      } else if (e.eventName === 'DepositReturned' || e.eventName === 'DepositForfeited') {
        const key = `${e.args.slaId}/${e.args.oracle}`
        assert.ok(locked.has(key), `${e.eventName} without a bid: ${key}`)
        assert.ok(!ended.has(key), `deposit ${key} ended twice (${ended.get(key)}, ${e.eventName})`)
        assert.equal(e.args.amount, locked.get(key))
        ended.set(key, e.eventName)
        if (e.eventName === 'DepositForfeited') forfeited += 1
      } else if (e.eventName === 'SLASettled') {
        settled += 1
        if ((await m.sla(e.args.slaId)).mode === 1) {
          ocaSettled += 1
          if (e.args.agreeBitmap !== 0n) ocaPaid += 1
        }
      }
    }
    for (const key of locked.keys()) assert.ok(ended.has(key), `deposit ${key} never ended`)
    return { settled, forfeited, ocaSettled, ocaPaid }
  }
})
