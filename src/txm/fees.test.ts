import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { bumpFees, initialFees, raiseByPercent } from './fees.ts'

const GWEI = 10n ** 9n

describe('initialFees', () => {
  it('offers 2 × base fee + priority fee', () => {
    assert.deepEqual(
      initialFees({ baseFee: 10n * GWEI, priorityFee: 2n * GWEI, feeCap: 100n * GWEI }),
      {
        ok: true,
        fees: { maxFeePerGas: 22n * GWEI, maxPriorityFeePerGas: 2n * GWEI },
      },
    )
  })

  it('caps both fees at the fee cap', () => {
    assert.deepEqual(
      initialFees({ baseFee: 10n * GWEI, priorityFee: 30n * GWEI, feeCap: 25n * GWEI }),
      {
        ok: true,
        fees: { maxFeePerGas: 25n * GWEI, maxPriorityFeePerGas: 25n * GWEI },
      },
    )
  })

  it('waits when the cap is below the base fee', () => {
    const d = initialFees({ baseFee: 60n * GWEI, priorityFee: GWEI, feeCap: 4n * GWEI })
    assert.deepEqual(d, {
      ok: false,
      error: 'fee cap 4000000000 wei reached; waiting (would need max fee 121000000000 wei)',
    })
  })
})

describe('bumpFees', () => {
  const previous = { maxFeePerGas: 100n, maxPriorityFeePerGas: 10n }

  it('raises both fees by bumpPercent, rounding up', () => {
    assert.equal(raiseByPercent(101n, 10), 112n)
    assert.deepEqual(
      bumpFees({ previous, baseFee: 1n, priorityFee: 1n, bumpPercent: 20, feeCap: 1000n }),
      { ok: true, fees: { maxFeePerGas: 120n, maxPriorityFeePerGas: 12n } },
    )
  })

  it('follows the market when it moved more than the bump', () => {
    assert.deepEqual(
      bumpFees({ previous, baseFee: 200n, priorityFee: 50n, bumpPercent: 20, feeCap: 1000n }),
      { ok: true, fees: { maxFeePerGas: 450n, maxPriorityFeePerGas: 50n } },
    )
  })

  it('stops at the cap, and refuses a replacement under +10%', () => {
    assert.deepEqual(
      bumpFees({ previous, baseFee: 50n, priorityFee: 1n, bumpPercent: 50, feeCap: 115n }),
      { ok: true, fees: { maxFeePerGas: 115n, maxPriorityFeePerGas: 15n } },
    )
    const stuck = bumpFees({
      previous,
      baseFee: 50n,
      priorityFee: 1n,
      bumpPercent: 50,
      feeCap: 109n,
    })
    assert.equal(stuck.ok, false)
    assert.match(stuck.ok ? '' : stuck.error, /^fee cap 109 wei reached; waiting/)
    // The priority fee cannot rise 10% under a cap it already touches.
    const tip = bumpFees({
      previous: { maxFeePerGas: 100n, maxPriorityFeePerGas: 100n },
      baseFee: 1n,
      priorityFee: 1n,
      bumpPercent: 10,
      feeCap: 105n,
    })
    assert.equal(tip.ok, false)
  })

  it('refuses a capped replacement that is still under the base fee', () => {
    const d = bumpFees({ previous, baseFee: 500n, priorityFee: 1n, bumpPercent: 20, feeCap: 300n })
    assert.equal(d.ok, false)
  })

  it('property: a replacement is ≥ +10% on both fees, never above the cap', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.bigInt({ min: 0n, max: 10n ** 11n }),
        fc.bigInt({ min: 1n, max: 10n ** 13n }),
        fc.integer({ min: 10, max: 200 }),
        (maxFee, tipSeed, baseFee, priorityFee, feeCap, bumpPercent) => {
          const prev = { maxFeePerGas: maxFee, maxPriorityFeePerGas: tipSeed % (maxFee + 1n) }
          const d = bumpFees({ previous: prev, baseFee, priorityFee, bumpPercent, feeCap })
          if (!d.ok) return
          const { maxFeePerGas, maxPriorityFeePerGas } = d.fees
          assert.ok(maxFeePerGas <= feeCap)
          assert.ok(maxPriorityFeePerGas <= maxFeePerGas)
          assert.ok(maxFeePerGas * 100n >= prev.maxFeePerGas * 110n)
          assert.ok(maxPriorityFeePerGas * 100n >= prev.maxPriorityFeePerGas * 110n)
          assert.ok(maxFeePerGas >= baseFee)
        },
      ),
    )
  })
})
