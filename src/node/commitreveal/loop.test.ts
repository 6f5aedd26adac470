import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startLoop } from './loop.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('startLoop', () => {
  it('runs at once, then every interval, never overlapping; kick runs again soon', async () => {
    let runs = 0
    let inside = 0
    let overlapped = false
    const loop = startLoop(
      async () => {
        inside++
        if (inside > 1) overlapped = true
        runs++
        await sleep(20)
        inside--
      },
      10_000,
      () => {},
    )
    await sleep(5)
    assert.equal(runs, 1)
    loop.kick() // during the run: once more right after it
    loop.kick()
    await sleep(80)
    assert.equal(runs, 2)
    loop.kick()
    await sleep(40)
    assert.equal(runs, 3)
    await loop.stop()
    loop.kick()
    await sleep(20)
    assert.equal(runs, 3)
    assert.equal(overlapped, false)
  })

  it('reports errors and goes on', async () => {
    const errors: unknown[] = []
    let runs = 0
    const loop = startLoop(
      async () => {
        runs++
        throw new Error(`run ${runs}`)
      },
      5,
      (err) => errors.push(err),
    )
    await sleep(60)
    await loop.stop()
    assert.ok(runs >= 2)
    assert.equal(errors.length, runs)
  })
})
