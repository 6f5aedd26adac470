import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { Decimal } from '../../pipeline/decimal.ts'
import { CommitRevealError } from './errors.ts'
import {
  deviates,
  feedRoundReason,
  outOfBounds,
  revealValue,
  settleDelay,
  starterIndex,
} from './feed.ts'

describe('revealValue', () => {
  it('takes integers in any of the pipeline number forms', () => {
    assert.equal(revealValue(42n), 42n)
    assert.equal(revealValue(-7), -7n)
    assert.equal(revealValue('300012'), 300012n)
    assert.equal(revealValue(new Decimal(12300n, 2)), 123n)
    assert.equal(revealValue('1e3'), 1000n)
    assert.equal(revealValue(2n ** 255n - 1n), 2n ** 255n - 1n)
  })

  it('refuses fractions, non-numbers and values beyond int256, saying why', () => {
    const message = (v: unknown) => {
      try {
        revealValue(v)
      } catch (err) {
        assert.ok(err instanceof CommitRevealError)
        return err.shortMessage
      }
      assert.fail('accepted')
    }
    assert.match(message(new Decimal(12345n, 2)), /123\.45 is not an integer/)
    assert.match(message('abc'), /did not end in a number/)
    assert.match(message(null), /did not end in a number/)
    assert.match(message(2n ** 255n), /does not fit in an int256/)
  })
})

describe('feed decisions', () => {
  it('bounds', () => {
    assert.equal(outOfBounds(5n, 1n, 10n), undefined)
    assert.equal(outOfBounds(0n, 1n, 10n), 'value 0 is below minAnswer 1')
    assert.equal(outOfBounds(11n, 1n, 10n), 'value 11 is above maxAnswer 10')
  })

  it('deviation is exact and symmetric in sign', () => {
    assert.equal(deviates(1000n, 1005n, '0.5'), true)
    assert.equal(deviates(1000n, 1004n, '0.5'), false)
    assert.equal(deviates(1000n, 995n, '0.5'), true)
    assert.equal(deviates(-1000n, -1005n, '0.5'), true)
    assert.equal(deviates(0n, 1n, '50'), true, 'from zero any change counts')
    assert.equal(deviates(0n, 0n, '50'), false)
    assert.equal(deviates(7n, 8n, '0'), true, 'a zero threshold counts any change')
    assert.equal(deviates(7n, 7n, '0'), false)
    // Against a rational model.
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).filter((v) => v !== 0n),
        fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
        fc.integer({ min: 0, max: 100_000 }),
        (old, next, milli) => {
          const diff = next > old ? next - old : old - next
          const abs = old < 0n ? -old : old
          const expected = diff > 0n && diff * 100_000n >= BigInt(milli) * abs
          return deviates(old, next, (milli / 1000).toFixed(3)) === expected
        },
      ),
    )
  })

  it('asks for a round without an answer, on deviation and on heartbeat', () => {
    const base = { value: 1000n, now: 1_000n, heartbeatSeconds: 60n, deviationThreshold: '1' }
    assert.match(feedRoundReason({ ...base, latest: undefined })!, /no answer/)
    assert.equal(
      feedRoundReason({ ...base, latest: { answer: 1005n, updatedAt: 990n } }),
      undefined,
    )
    assert.match(
      feedRoundReason({ ...base, latest: { answer: 1020n, updatedAt: 990n } })!,
      /deviates from the answer 1020 by at least 1%/,
    )
    assert.match(
      feedRoundReason({ ...base, latest: { answer: 1000n, updatedAt: 940n } })!,
      /60 s old \(heartbeat 60 s\)/,
    )
  })

  it('rotates the starter once per heartbeat', () => {
    assert.equal(starterIndex(0n, 60n, 4), 0)
    assert.equal(starterIndex(59n, 60n, 4), 0)
    assert.equal(starterIndex(60n, 60n, 4), 1)
    assert.equal(starterIndex(60n * 5n, 60n, 4), 1)
    assert.throws(() => starterIndex(1n, 60n, 0), CommitRevealError)
  })

  it('gives exactly one member each settle slot, the designated one first', () => {
    for (const roundId of [0n, 1n, 5n, 2n ** 70n + 3n]) {
      const delays = [0, 1, 2, 3].map((i) => settleDelay(roundId, i, 4, 30n))
      assert.equal(delays[Number(roundId % 4n)], 0n)
      assert.deepEqual(
        [...delays].sort((a, b) => Number(a - b)),
        [0n, 30n, 60n, 90n],
      )
    }
  })
})
