import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatDecimal, parseDecimal } from '../pipeline/decimal.ts'
import { aggregateIndependent, type Observation } from './aggregate.ts'

const obs = (name: string, value: string, origin = name): Observation => ({
  name,
  origin,
  value: parseDecimal(value),
})
const text = (d: { toString(): string }) => d.toString()

describe('aggregateIndependent', () => {
  it('drops liars far from the honest median (modified z-score > 3.5)', () => {
    const r = aggregateIndependent([
      obs('a', '100.0'),
      obs('b', '100.2'),
      obs('c', '99.8'),
      obs('d', '130.26'),
      obs('e', '1302.6'),
    ])
    assert.equal(text(r.median), '100.2')
    assert.equal(text(r.mad), '0.4')
    // 3.5 × 0.4 / 0.6745
    assert.equal(text(r.cutoff), '2.07561156')
    assert.deepEqual(
      r.votes.map((v) => [v.origin, v.outlier, formatDecimal(v.deviation)]),
      [
        ['a', false, '-0.001996'],
        ['b', false, '0'],
        ['c', false, '-0.003992'],
        ['d', true, '0.3'],
        ['e', true, '12'],
      ],
    )
    assert.equal(text(r.answer), '100')
  })

  it('floors the MAD so near-identical honest values are not outliers', () => {
    // Three equal values make the MAD 0; 100.3 is within 0.519 % and stays.
    const r = aggregateIndependent([
      obs('a', '100'),
      obs('b', '100'),
      obs('c', '100'),
      obs('d', '100.3'),
    ])
    assert.equal(text(r.mad), '0')
    assert.deepEqual(
      r.votes.map((v) => v.outlier),
      [false, false, false, false],
    )
    const far = aggregateIndependent([
      obs('a', '100'),
      obs('b', '100'),
      obs('c', '100'),
      obs('d', '100.6'),
    ])
    assert.deepEqual(
      far.votes.map((v) => v.outlier),
      [false, false, false, true],
    )
    const strict = aggregateIndependent(
      [obs('a', '100'), obs('b', '100'), obs('c', '100'), obs('d', '100.3')],
      { minRelativeMad: 0 },
    )
    assert.equal(strict.votes[3]!.outlier, true)
  })

  it('counts sources sharing an origin as one vote (their median)', () => {
    // Three mirrors of one feed lie together; two independent sources are honest.
    const r = aggregateIndependent([
      obs('mirror-1', '130', 'feed-x'),
      obs('mirror-2', '131', 'feed-x'),
      obs('mirror-3', '129', 'feed-x'),
      obs('a', '100'),
      obs('b', '100.1'),
    ])
    assert.deepEqual(
      r.votes.map((v) => [v.origin, v.sources, text(v.value), v.outlier]),
      [
        ['feed-x', ['mirror-1', 'mirror-2', 'mirror-3'], '130', true],
        ['a', ['a'], '100', false],
        ['b', ['b'], '100.1', false],
      ],
    )
    assert.equal(text(r.answer), '100.05')
  })

  it('is exact, and handles one or two votes', () => {
    assert.equal(
      text(aggregateIndependent([obs('a', '0.1000000000000000055')]).answer),
      '0.1000000000000000055',
    )
    const two = aggregateIndependent([obs('a', '1'), obs('b', '3')])
    assert.equal(text(two.answer), '2')
    assert.deepEqual(
      two.votes.map((v) => v.outlier),
      [false, false],
    )
  })
})
