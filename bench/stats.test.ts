import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { percentile } from './stats.ts'

describe('percentile', () => {
  it('takes the nearest rank', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1)
    assert.equal(percentile(hundred, 50), 50)
    assert.equal(percentile(hundred, 99), 99)
    assert.equal(percentile(hundred, 100), 100)
    assert.equal(percentile(hundred, 0), 1)
    assert.equal(percentile([7], 99), 7)
  })

  it('rounds, and has nothing to say about no samples', () => {
    assert.equal(percentile([1.23456], 50), 1.2)
    assert.equal(percentile([1.23456], 50, 3), 1.235)
    assert.equal(percentile([], 50), null)
  })
})
