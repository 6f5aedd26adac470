import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { backoffDelay } from './backoff.ts'

describe('backoffDelay', () => {
  test('doubles from the initial delay up to the cap', () => {
    const top = (attempt: number) => backoffDelay(attempt, { initialMs: 100, maxMs: 1000 }, () => 1)
    assert.deepEqual([0, 1, 2, 3, 4, 5, 100].map(top), [100, 200, 400, 800, 1000, 1000, 1000])
  })

  test('jitter keeps each delay in [d/2, d]', () => {
    const bottom = (attempt: number) =>
      backoffDelay(attempt, { initialMs: 100, maxMs: 1000 }, () => 0)
    assert.deepEqual([0, 1, 4].map(bottom), [50, 100, 500])
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(i % 8, {})
      const ceiling = Math.min(10_000, 100 * 2 ** (i % 8))
      assert.ok(d >= ceiling / 2 && d <= ceiling, `${d} outside [${ceiling / 2}, ${ceiling}]`)
    }
  })

  test('a cap below the initial delay is the initial delay', () => {
    assert.equal(
      backoffDelay(3, { initialMs: 500, maxMs: 10 }, () => 1),
      500,
    )
  })
})
