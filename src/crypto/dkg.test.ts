import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { mod } from '@noble/curves/abstract/modular'
import { secp256k1 } from '@noble/curves/secp256k1'
import fc from 'fast-check'
import { type Hex, keccak256, toHex } from 'viem'
import {
  createDkgParticipant,
  DkgError,
  pointHex,
  proveKnowledge,
  verifyShareKeyProof,
} from './dkg.ts'
import { type DealerFault, runDkg } from './dkg-testing.ts'
import { Q } from './schnorr.ts'
import { lagrangeAtZero } from './threshold.ts'

const CONTEXT = keccak256(toHex('orakel dkg test: chain 31337, aggregator 0x…, config 1'))
const G = secp256k1.ProjectivePoint.BASE

/** x from the shares of `set` (Lagrange at 0). */
function reconstruct(shares: Map<number, bigint>, set: number[]): bigint {
  return set.reduce(
    (acc, i) => mod(acc + lagrangeAtZero(i, set) * (shares.get(i) as bigint), Q),
    0n,
  )
}

describe('dkg', () => {
  for (const [n, t] of [
    [4, 2],
    [7, 3],
  ] as const) {
    it(`n = ${n}, t = ${t}: everyone agrees on the key; any t shares give its secret, fewer do not`, () => {
      const { results } = runDkg(n, t, CONTEXT)
      const all = [...results.values()]
      const first = all[0]!
      for (const r of all) {
        assert.deepEqual(
          r.qualified,
          [...Array(n).keys()].map((i) => i + 1),
        )
        assert.ok(r.groupKey.equals(first.groupKey))
        assert.deepEqual(r.shareKeys, first.shareKeys)
      }
      const shares = new Map([...results].map(([i, r]) => [i, r.secretShare]))
      for (const [i, r] of results) {
        assert.equal(
          pointHex(G.multiply(r.secretShare)),
          first.shareKeys[i - 1],
          `Y_${i} = x_${i}·G`,
        )
        assert.ok(verifyShareKeyProof(first.shareKeys[i - 1]!, r.shareProof, CONTEXT, i))
      }
      fc.assert(
        fc.property(
          fc.shuffledSubarray(
            [...Array(n).keys()].map((i) => i + 1),
            { minLength: t, maxLength: n },
          ),
          (set) => {
            const x = reconstruct(shares, set)
            assert.ok(G.multiply(x).equals(first.groupKey))
          },
        ),
        { numRuns: 20 },
      )
      const tooFew = [...Array(t - 1).keys()].map((i) => i + 1)
      if (tooFew.length > 0)
        assert.ok(!G.multiply(reconstruct(shares, tooFew) || 1n).equals(first.groupKey))
    })
  }

  it('a dealer sending bad shares and not answering, or answering wrongly, is disqualified; the others finish', () => {
    for (const answer of ['none', 'wrong'] as const) {
      const faults = new Map<number, DealerFault>([[3, { kind: 'badShares', to: [1, 2], answer }]])
      const { results, complaints } = runDkg(4, 2, CONTEXT, faults)
      assert.deepEqual(
        complaints.map((c) => [c.accuser, c.dealer]),
        [
          [1, 3],
          [2, 3],
        ],
      )
      for (const r of results.values()) assert.deepEqual(r.qualified, [1, 2, 4])
      const shares = new Map([...results].map(([i, r]) => [i, r.secretShare]))
      const groupKey = results.get(1)!.groupKey
      assert.ok(G.multiply(reconstruct(shares, [1, 4])).equals(groupKey))
      assert.ok(G.multiply(reconstruct(shares, [2, 4])).equals(groupKey))
    }
  })

  it('a dealer that answers complaints with the right shares stays in; the accusers use the published shares', () => {
    const faults = new Map<number, DealerFault>([
      [2, { kind: 'badShares', to: [4], answer: 'correct' }],
    ])
    // Dealer 2 takes part as a participant too; only its dealing misbehaved, so let it finish.
    const { results, participants } = runDkg(4, 2, CONTEXT, faults)
    const two = participants[1]!.finish()
    for (const r of [...results.values(), two]) assert.deepEqual(r.qualified, [1, 2, 3, 4])
    assert.ok(
      G.multiply(
        reconstruct(
          new Map([
            [2, two.secretShare],
            [4, results.get(4)!.secretShare],
          ]),
          [2, 4],
        ),
      ).equals(two.groupKey),
    )
  })

  it('dealers with a bad proof of knowledge, too few commitments, or no broadcast are disqualified', () => {
    const faults = new Map<number, DealerFault>([
      [1, { kind: 'badProof' }],
      [5, { kind: 'shortCommitments' }],
      [7, { kind: 'silent' }],
    ])
    const { results, participants } = runDkg(7, 3, CONTEXT, faults)
    for (const r of results.values()) assert.deepEqual(r.qualified, [2, 3, 4, 6])
    const why = participants[1]!.disqualified()
    assert.match(why.get(1)!, /proof of knowledge/)
    assert.match(why.get(5)!, /2 coefficients, not 3/)
    assert.match(why.get(7)!, /no broadcast/)
  })

  it('fails with a clear error when fewer than t dealers qualify', () => {
    const faults = new Map<number, DealerFault>([
      [1, { kind: 'silent' }],
      [2, { kind: 'silent' }],
      [3, { kind: 'silent' }],
    ])
    assert.throws(
      () => runDkg(4, 2, CONTEXT, faults),
      (err: unknown) =>
        err instanceof DkgError && /only 1 dealers qualified; 2 are needed/.test(err.message),
    )
  })

  it('refuses a rogue share key without a valid proof of possession', () => {
    const { results } = runDkg(4, 2, CONTEXT)
    const r = results.get(2)!
    const rogue = pointHex(G.multiply(12345n))
    assert.equal(verifyShareKeyProof(rogue, r.shareProof, CONTEXT, 2), false)
    // A proof made with a different secret, for another participant, or another context fails.
    assert.equal(
      verifyShareKeyProof(r.shareKeys[1]!, proveKnowledge(999n, CONTEXT, 'share', 2), CONTEXT, 2),
      false,
    )
    assert.equal(verifyShareKeyProof(r.shareKeys[1]!, r.shareProof, CONTEXT, 3), false)
    assert.equal(verifyShareKeyProof(r.shareKeys[1]!, r.shareProof, keccak256(CONTEXT), 2), false)
    assert.equal(verifyShareKeyProof('0x02' as Hex, r.shareProof, CONTEXT, 2), false)
  })

  it('refuses invalid parameters', () => {
    assert.throws(() => createDkgParticipant({ n: 4, t: 5, index: 1, context: CONTEXT }), DkgError)
    assert.throws(() => createDkgParticipant({ n: 4, t: 2, index: 0, context: CONTEXT }), DkgError)
    assert.throws(() => createDkgParticipant({ n: 4, t: 2, index: 5, context: CONTEXT }), DkgError)
  })
})
