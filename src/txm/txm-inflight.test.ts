import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Address } from 'viem'
import { startTxmHarness, type TxmHarness } from './testing.ts'

const SINK = '0x000000000000000000000000000000000000dEaD' as Address

describe('txm maxInFlight (mining off)', () => {
  let h: TxmHarness
  before(async () => {
    h = await startTxmHarness({ mining: false })
  })
  after(() => h.close())

  it('keeps at most maxInFlight of a key unconfirmed; the rest wait in order', async () => {
    const txm = h.txm({ maxInFlight: 2 })
    const ids: bigint[] = []
    for (let i = 0; i < 5; i++) {
      ids.push((await txm.enqueue({ to: SINK, data: '0x', idempotencyKey: h.idem(`f/${i}`) })).id)
    }
    const states = async () => Promise.all(ids.map(async (id) => (await txm.get(id))?.state))
    const pool = async () => Number(((await h.rpc('txpool_status')) as { pending: string }).pending)

    await txm.tick()
    assert.deepEqual(await states(), [
      'unconfirmed',
      'unconfirmed',
      'unstarted',
      'unstarted',
      'unstarted',
    ])
    assert.equal(await pool(), 2)
    await txm.tick() // nothing mined: no room, nothing more sent
    assert.equal(await pool(), 2)

    await h.mine()
    await txm.tick() // the two confirm; the next two go
    assert.deepEqual(await states(), [
      'confirmed',
      'confirmed',
      'unconfirmed',
      'unconfirmed',
      'unstarted',
    ])
    await h.mine()
    await txm.tick()
    await h.mine()
    await txm.tick()
    assert.deepEqual(await states(), Array(5).fill('confirmed'))
    const mined = await h.minedFrom(h.key.address)
    assert.deepEqual(
      mined.map((m) => m.nonce),
      [0, 1, 2, 3, 4],
    )
  })
})
