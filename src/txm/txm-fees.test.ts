import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { Address } from 'viem'
import type { Db } from '../store/db.ts'
import { openTestDatabase } from '../store/testing.ts'
import { receiptOf } from './rpc.ts'
import { GWEI, startTxmHarness, type TxmHarness } from './testing.ts'

/**
 * Gas spikes on a chain that mines only when told: anvil starts at a 1 gwei base fee and its
 * priority fee suggestion is 1 gwei, so a first attempt offers 3 gwei.
 */
const SINK = '0x000000000000000000000000000000000000dEaD' as Address

describe('txm fees (mining off)', () => {
  let db: Db
  let h: TxmHarness
  before(async () => {
    db = await openTestDatabase()
  })
  after(() => db.close())
  beforeEach(async () => {
    h = await startTxmHarness({ mining: false, db })
  })
  afterEach(() => h.close())

  /** Mines one block with this base fee; the block before decides what the next one costs. */
  const mineAt = async (baseFee: bigint) => {
    await h.setNextBaseFee(baseFee)
    await h.mine()
  }

  it('bumps a transaction through a gas spike, never above the cap', async () => {
    const cap = 200n * GWEI
    const txm = h.txm({ feeCapWei: cap, bumpAfterBlocks: 1, bumpPercent: 20 })
    const { id } = await txm.enqueue({ to: SINK, data: '0x', idempotencyKey: h.idem('spike') })
    await txm.tick()
    const first = (await txm.get(id))!.attempts
    assert.deepEqual(
      first.map((a) => [a.maxFeePerGas, a.maxPriorityFeePerGas, a.state]),
      [[3n * GWEI, 1n * GWEI, 'broadcast']],
    )

    await mineAt(60n * GWEI) // the base fee jumps above what the attempt offers
    assert.equal(await receiptOf(h.client, first[0]!.hash), null)
    await txm.tick() // one block without a receipt: replace with 2 × 60 + 1.2 gwei
    let attempts = (await txm.get(id))!.attempts
    assert.equal(attempts.length, 2)
    assert.equal(attempts[1]?.maxPriorityFeePerGas, 1_200_000_000n)
    assert.equal(attempts[1]?.maxFeePerGas, 121_200_000_000n)

    await mineAt(150n * GWEI) // spikes again, above the replacement
    await txm.tick() // wanted 2 × 150 + 1.44 gwei, capped at 200 gwei: still a valid replacement
    attempts = (await txm.get(id))!.attempts
    assert.equal(attempts.length, 3)
    assert.equal(attempts[2]?.maxFeePerGas, cap)

    await h.mine() // base fee 131.25 gwei: the capped attempt fits
    await txm.tick()
    const tx = await txm.get(id)
    assert.equal(tx?.state, 'confirmed')
    assert.equal(tx?.receipt?.transactionHash, attempts[2]?.hash)
    assert.equal(tx?.error, null)
    for (const a of tx!.attempts) assert.ok(a.maxFeePerGas <= cap)
    for (let i = 1; i < attempts.length; i++) {
      assert.ok(attempts[i]!.maxFeePerGas * 10n >= attempts[i - 1]!.maxFeePerGas * 11n)
      assert.ok(
        attempts[i]!.maxPriorityFeePerGas * 10n >= attempts[i - 1]!.maxPriorityFeePerGas * 11n,
      )
    }
    const mined = await h.minedFrom(h.key.address)
    assert.deepEqual(
      mined.map((m) => m.hash),
      [attempts[2]!.hash],
    )
    const bumps = await h.common.metrics.getSingleMetricAsString('orakel_txm_bumps_total')
    assert.match(bumps, new RegExp(`chain_id="${h.chainId}"\\} 2`))
  })

  it('with a cap too low to replace, waits with a clear error and spends nothing more', async () => {
    const cap = 4n * GWEI
    const txm = h.txm({ feeCapWei: cap, bumpAfterBlocks: 1 })
    const { id } = await txm.enqueue({ to: SINK, data: '0x', idempotencyKey: h.idem('capped') })
    await txm.tick()
    for (let i = 0; i < 3; i++) {
      await mineAt(60n * GWEI)
      await txm.tick()
    }
    let tx = await txm.get(id)
    assert.equal(tx?.state, 'unconfirmed')
    assert.equal(tx?.attempts.length, 1, 'no replacement was made')
    assert.match(tx?.error ?? '', /^fee cap 4000000000 wei reached; waiting/)

    // The spike passes: sent again (or replaced within the cap), mined, and the error clears.
    await mineAt(1n * GWEI)
    await txm.tick()
    await h.mine()
    await txm.tick()
    tx = await txm.get(id)
    assert.equal(tx?.state, 'confirmed')
    assert.ok(tx?.attempts.some((a) => a.hash === tx?.receipt?.transactionHash))
    assert.ok(tx!.attempts.every((a) => a.maxFeePerGas <= cap))
    assert.equal(tx?.error, null)
    assert.equal((await h.minedFrom(h.key.address)).length, 1)
  })

  it('holds a first attempt while the base fee is above the cap', async () => {
    const cap = 4n * GWEI
    const txm = h.txm({ feeCapWei: cap })
    await mineAt(60n * GWEI)
    const { id } = await txm.enqueue({ to: SINK, data: '0x', idempotencyKey: h.idem('held') })
    await txm.tick()
    let tx = await txm.get(id)
    assert.equal(tx?.nonce, 0)
    assert.equal(tx?.attempts.length, 0)
    assert.match(tx?.error ?? '', /^fee cap 4000000000 wei reached; waiting/)

    await mineAt(1n * GWEI)
    await txm.tick()
    await h.mine()
    await txm.tick()
    tx = await txm.get(id)
    assert.equal(tx?.state, 'confirmed')
    assert.ok(tx!.attempts.every((a) => a.maxFeePerGas <= cap))
  })
})
