import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { toHex } from 'viem'
import { skipReason } from './bidder.ts'

/** The bidder's proposal policy: each refusal is named, the first that applies. */
describe('bidder policy (skipReason)', () => {
  const SPEC = toHex('spec-a', { size: 32 })
  const policy = {
    specIds: [SPEC],
    price: 50n,
    maxDeposit: 1000n,
    maxConcurrent: 2,
    minPayment: undefined,
  }
  const terms = {
    specId: SPEC,
    mode: 0,
    paymentPerOracle: 100n,
    minDeposit: 500n,
    biddingEnd: 200n,
  }
  const ctx = { now: 100n, following: 0, canServe: true }
  const REGISTRY = '0x00000000000000000000000000000000000000aa' as const

  it('bids on a proposal its policy accepts', () => {
    assert.equal(skipReason(policy, terms, ctx), undefined)
    assert.equal(
      skipReason(policy, { ...terms, paymentPerOracle: 50n, minDeposit: 1000n }, ctx),
      undefined,
    )
  })

  it('bids on an off-chain-aggregation SLA with a registry, one at a time', () => {
    const oca = { ...policy, registryAddress: REGISTRY }
    assert.equal(skipReason(oca, { ...terms, mode: 1 }, ctx), undefined)
    assert.equal(skipReason(oca, { ...terms, mode: 1 }, { ...ctx, followingOca: 0 }), undefined)
    // A commit–reveal SLA is not held back by an OCA one.
    assert.equal(skipReason(oca, terms, { ...ctx, following: 1, followingOca: 1 }), undefined)
  })

  it('names why it skips one', () => {
    const other = toHex('spec-b', { size: 32 })
    const cases: [Parameters<typeof skipReason>, RegExp][] = [
      [[policy, { ...terms, specId: other }, ctx], /spec 0x.* is not one the job bids on/],
      [[policy, terms, { ...ctx, canServe: false }], /no commitreveal job of the node serves spec/],
      [
        [policy, { ...terms, mode: 1 }, ctx],
        /aggregation mode 1 \(off-chain aggregation\) needs registryAddress/,
      ],
      [[policy, { ...terms, mode: 2 }, ctx], /aggregation mode 2 is not served/],
      [
        [
          { ...policy, registryAddress: REGISTRY },
          { ...terms, mode: 1 },
          { ...ctx, followingOca: 1 },
        ],
        /already bidding on or serving an off-chain-aggregation SLA/,
      ],
      [
        [policy, { ...terms, paymentPerOracle: 49n }, ctx],
        /payment per oracle 49 is below the price 50/,
      ],
      [
        [{ ...policy, minPayment: 120n }, terms, ctx],
        /payment per oracle 100 is below minPayment 120/,
      ],
      [[policy, { ...terms, minDeposit: 1001n }, ctx], /deposit 1001 is above maxDeposit 1000/],
      [[policy, terms, { ...ctx, following: 2 }], /at capacity: 2 of maxConcurrent 2/],
      [[policy, terms, { ...ctx, now: 200n }], /bidding closed at 200 \(chain time 200\)/],
    ]
    for (const [args, reason] of cases) assert.match(skipReason(...args) ?? '', reason)
  })

  it('matches spec ids whatever their hex case', () => {
    assert.equal(
      skipReason(
        policy,
        { ...terms, specId: SPEC.toUpperCase().replace('0X', '0x') as `0x${string}` },
        ctx,
      ),
      undefined,
    )
  })
})
