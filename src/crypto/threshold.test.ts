import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { keccak256, toHex } from 'viem'
import { runDkg } from './dkg-testing.ts'
import { toPublicKey, verify } from './schnorr.ts'
import {
  combine,
  lagrangeAtZero,
  partialSign,
  ThresholdError,
  thresholdChallenge,
  verifyPartial,
} from './threshold.ts'

const KEY_CONTEXT = keccak256(toHex('orakel threshold test: key'))

/** A key DKG and one nonce DKG among n; every participant's partial signature of `message`. */
function signRound(n: number, t: number, message: `0x${string}`, nonceLabel: string) {
  const key = runDkg(n, t, KEY_CONTEXT)
  const nonce = runDkg(n, t, keccak256(toHex(`orakel threshold test: nonce ${nonceLabel}`)))
  const groupKey = key.results.get(1)!.groupKey
  const R = nonce.results.get(1)!.groupKey
  const { e, nonceAddress } = thresholdChallenge(groupKey, message, R)
  const partials = [...key.results].map(([i, r]) => ({
    index: i,
    sigma: partialSign(r.secretShare, nonce.results.get(i)!.secretShare, e),
  }))
  return {
    groupKey,
    e,
    nonceAddress,
    partials,
    shareKeys: key.results.get(1)!.shareKeys,
    nonceShares: nonce.results.get(1)!.shareKeys,
  }
}

describe('threshold signing', () => {
  for (const [n, t] of [
    [4, 2],
    [7, 3],
  ] as const) {
    it(`n = ${n}, t = ${t}: any t valid partials combine into a signature one ecrecover-style check accepts`, () => {
      const message = keccak256(toHex(`report for n = ${n}`))
      const round = signRound(n, t, message, `${n}`)
      for (const p of round.partials) {
        assert.ok(
          verifyPartial(
            round.shareKeys[p.index - 1]!,
            round.nonceShares[p.index - 1]!,
            round.e,
            p.sigma,
          ),
        )
      }
      fc.assert(
        fc.property(
          fc.shuffledSubarray(round.partials, { minLength: t, maxLength: t }),
          (chosen) => {
            const sig = combine(chosen, t, round.nonceAddress)
            assert.ok(verify(toPublicKey(round.groupKey), message, sig))
            assert.equal(verify(toPublicKey(round.groupKey), keccak256(message), sig), false)
          },
        ),
        { numRuns: 15 },
      )
    })
  }

  it('an invalid partial is caught against its share key, and spoils a combination that uses it', () => {
    const message = keccak256(toHex('report'))
    const round = signRound(4, 2, message, 'bad')
    const [a, b] = round.partials as [
      { index: number; sigma: bigint },
      { index: number; sigma: bigint },
    ]
    const forged = { ...b, sigma: b.sigma + 1n }
    assert.equal(
      verifyPartial(
        round.shareKeys[b.index - 1]!,
        round.nonceShares[b.index - 1]!,
        round.e,
        forged.sigma,
      ),
      false,
    )
    // A freeloader copying another's partial under its own index fails the check too.
    assert.equal(
      verifyPartial(
        round.shareKeys[b.index - 1]!,
        round.nonceShares[b.index - 1]!,
        round.e,
        a.sigma,
      ),
      false,
    )
    const sig = combine([a, forged], 2, round.nonceAddress)
    assert.equal(verify(toPublicKey(round.groupKey), message, sig), false)
  })

  it('refuses too few or duplicate partials', () => {
    assert.throws(
      () => combine([{ index: 1, sigma: 5n }], 2, '0x0000000000000000000000000000000000000001'),
      ThresholdError,
    )
    assert.throws(
      () =>
        combine(
          [
            { index: 1, sigma: 5n },
            { index: 1, sigma: 6n },
          ],
          2,
          '0x0000000000000000000000000000000000000001',
        ),
      ThresholdError,
    )
  })

  it('Lagrange coefficients at 0 sum to 1 over any set', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 31 }), { minLength: 1, maxLength: 10 }),
        (set) => {
          const sum = set.reduce((acc, i) => acc + lagrangeAtZero(i, set), 0n)
          assert.equal(
            sum % 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
            1n,
          )
        },
      ),
    )
  })
})
