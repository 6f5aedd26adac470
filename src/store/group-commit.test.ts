import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createGroupCommit } from './group-commit.ts'

describe('group commit', () => {
  it('writes what arrives together as one group, and each caller gets its own result', async () => {
    const groups: number[][] = []
    const gc = createGroupCommit(async (items: number[]) => {
      groups.push(items)
      return items.map((i) => i * 10)
    })
    const results = await Promise.all([1, 2, 3].map((i) => gc.add(i)))
    assert.deepEqual(results, [10, 20, 30])
    assert.deepEqual(groups, [[1, 2, 3]])
  })

  it('gathers what arrives during a write into the next group, up to maxItems each', async () => {
    const groups: number[][] = []
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    const gc = createGroupCommit(async (items: number[]) => {
      groups.push(items)
      if (groups.length === 1) await gate
      return items
    }, 2)
    const first = gc.add(0)
    await new Promise((r) => setImmediate(r))
    const later = [1, 2, 3].map((i) => gc.add(i))
    release()
    assert.deepEqual(await Promise.all([first, ...later]), [0, 1, 2, 3])
    assert.deepEqual(groups, [[0], [1, 2], [3]])
    await gc.drain()
  })

  it('when a group fails, writes its items one by one: only the bad one fails', async () => {
    const groups: string[][] = []
    const gc = createGroupCommit(async (items: string[]) => {
      groups.push(items)
      if (items.includes('bad')) throw new Error('constraint violated')
      return items
    })
    const settled = await Promise.allSettled([gc.add('a'), gc.add('bad'), gc.add('b')])
    assert.deepEqual(
      settled.map((s) => (s.status === 'fulfilled' ? s.value : String(s.reason))),
      ['a', 'Error: constraint violated', 'b'],
    )
    assert.equal(await gc.add('c'), 'c')
    assert.deepEqual(groups, [['a', 'bad', 'b'], ['a'], ['bad'], ['b'], ['c']])
  })
})
