import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DropOldestQueue } from './queue.ts'

describe('DropOldestQueue', () => {
  test('keeps the newest items and counts the dropped ones', () => {
    const q = new DropOldestQueue<number>(3)
    assert.equal(q.push(1), undefined)
    q.push(2)
    q.push(3)
    assert.equal(q.push(4), 1)
    assert.equal(q.push(5), 2)
    assert.equal(q.length, 3)
    assert.equal(q.dropped, 2)
    assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift()], [3, 4, 5, undefined])
  })

  test('unshift puts an item back in front unless full', () => {
    const q = new DropOldestQueue<number>(2)
    q.push(1)
    q.push(2)
    assert.equal(q.shift(), 1)
    assert.equal(q.unshift(1), true)
    assert.equal(q.unshift(0), false)
    assert.equal(q.dropped, 1)
    assert.deepEqual([q.shift(), q.shift()], [1, 2])
  })

  test('stays FIFO over many operations', () => {
    const q = new DropOldestQueue<number>(1000)
    const model: number[] = []
    for (let i = 0; i < 20_000; i++) {
      if (i % 3 === 2) assert.equal(q.shift(), model.shift())
      else {
        q.push(i)
        model.push(i)
        if (model.length > 1000) model.shift()
      }
      assert.equal(q.length, model.length)
    }
  })

  test('filter and clear remove without counting drops', () => {
    const q = new DropOldestQueue<number>(10)
    for (let i = 0; i < 6; i++) q.push(i)
    q.shift()
    assert.equal(
      q.filter((n) => n % 2 === 0),
      3,
    )
    assert.deepEqual([q.shift(), q.shift(), q.shift()], [2, 4, undefined])
    q.push(9)
    assert.equal(q.clear(), 1)
    assert.equal(q.dropped, 0)
    assert.throws(() => new DropOldestQueue(0), RangeError)
  })
})
