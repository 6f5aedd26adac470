import assert from 'node:assert/strict'
import { it } from 'node:test'
import { regressions } from './snapshot.ts'

it('flags figures that grew by more than the tolerance, and new figures', () => {
  const snapshot = { a_gas: 1000, b_gas: 1000, c_gas: 1000 }
  assert.deepEqual(regressions(snapshot, { a_gas: 1020, b_gas: 1021, c_gas: 900 }, 0.02), [
    { key: 'b_gas', before: 1000, after: 1021 },
  ])
  assert.deepEqual(regressions(snapshot, { d_gas: 5 }, 0.02), [
    { key: 'd_gas', before: 0, after: 5 },
  ])
})
