import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TaskError } from '../task.ts'
import { type TestContextParameters, testContext } from '../testing.ts'
import { anyTask } from './any.ts'

type Case = TestContextParameters & { name: string; want?: unknown; error?: RegExp; param?: string }

const failed = new TaskError('upstream failed')

async function check(c: Case): Promise<void> {
  const result = await anyTask.run(testContext({ type: 'any', ...c }))
  if (c.error) {
    assert.ok(result.error, `${c.name}: expected an error, got ${String(result.value)}`)
    assert.match(result.error.message, c.error, c.name)
    assert.equal(result.error.param, c.param, `${c.name}: param`)
  } else {
    assert.equal(result.error, undefined, `${c.name}: ${result.error?.message}`)
    assert.deepEqual(result.value, c.want, c.name)
  }
}

const cases: Case[] = [
  { name: 'one input', inputs: [7], want: 7 },
  { name: 'the only good input', inputs: [failed, { a: 1 }, failed], want: { a: 1 } },
  { name: 'null is a value', inputs: [failed, null], want: null },
  // failures
  { name: 'no inputs', error: /at least one input, got 0/ },
  { name: 'all inputs failed', inputs: [failed, failed], error: /all 2 inputs failed/ },
]

describe('any', () => {
  for (const c of cases) it(c.name, () => check(c))

  it('picks among the good inputs at random', async () => {
    const seen = new Set<unknown>()
    for (let i = 0; i < 200 && seen.size < 3; i++) {
      const result = await anyTask.run(testContext({ inputs: [1, failed, 2, 3] }))
      assert.equal(result.error, undefined)
      seen.add(result.value)
    }
    assert.deepEqual([...seen].sort(), [1, 2, 3])
  })
})
