import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Address } from 'viem'
import type { Db } from '../store/db.ts'
import { openTestDatabase } from '../store/testing.ts'
import {
  assignNextNonce,
  assignNonces,
  initKeyState,
  insertTx,
  insertTxs,
  keyState,
  releaseNonceAndFail,
  txById,
} from './store.ts'

const FROM = '0x90F79bf6EB2c4f870365E785982E1f101E93b906' as Address
const TO = '0x000000000000000000000000000000000000dEaD' as Address

describe('txm store', () => {
  let db: Db
  let chain = 500
  before(async () => {
    db = await openTestDatabase()
    // Spelled as the keystore spells it (lower case): the manager must still find it.
    await db.query(`INSERT INTO eth_keys (address, keystore) VALUES ($1, '{}'::jsonb)`, [
      FROM.toLowerCase(),
    ])
  })
  after(() => db.close())

  const tx = (chainId: number, key: string) => ({
    chainId,
    from: FROM,
    to: TO,
    data: '0x' as const,
    value: 0n,
    gasLimit: 21_000n,
    minConfirmations: 0,
    idempotencyKey: `${chainId}/${key}`,
  })
  const assign = (chainId: number, dbAddress: string, atLeast?: number) =>
    db.transaction((q) => assignNextNonce(q, { chainId, from: FROM, dbAddress, atLeast }))

  it('one row per idempotency key, also under concurrent inserts', async () => {
    const chainId = chain++
    const results = await Promise.all(
      Array.from({ length: 5 }, () => db.transaction((q) => insertTx(q, tx(chainId, 'same')))),
    )
    assert.equal(results.filter((r) => r.created).length, 1)
    assert.equal(new Set(results.map((r) => r.tx.id)).size, 1)
  })

  it('inserts several in one statement: the first of a key creates it, the rest find it', async () => {
    const chainId = chain++
    const before = await insertTx(db, tx(chainId, 'old'))
    const results = await insertTxs(db, [
      tx(chainId, 'x'),
      tx(chainId, 'old'),
      tx(chainId, 'y'),
      tx(chainId, 'x'),
    ])
    assert.deepEqual(
      results.map((r) => [r.tx.idempotencyKey, r.created]),
      [
        [`${chainId}/x`, true],
        [`${chainId}/old`, false],
        [`${chainId}/y`, true],
        [`${chainId}/x`, false],
      ],
    )
    assert.equal(results[1]!.tx.id, before.tx.id)
    assert.equal(results[3]!.tx.id, results[0]!.tx.id)
  })

  it('starts a key’s sequence at the chain nonce, once, and needs the key in eth_keys', async () => {
    const chainId = chain++
    const ks = await initKeyState(db, chainId, FROM, 7)
    assert.deepEqual(ks, { dbAddress: FROM.toLowerCase(), nextNonce: 7, disabled: false })
    assert.equal((await initKeyState(db, chainId, FROM, 0)).nextNonce, 7, 'never reset')
    await assert.rejects(
      initKeyState(db, chainId, TO, 0),
      /key 0x000000000000000000000000000000000000dEaD is not in eth_keys/,
    )
  })

  it('assigns contiguous nonces, oldest first, under concurrent assigners', async () => {
    const chainId = chain++
    const ids: bigint[] = []
    for (let i = 0; i < 10; i++) ids.push((await insertTx(db, tx(chainId, `n${i}`))).tx.id)
    const ks = await initKeyState(db, chainId, FROM, 0)
    const assigned = await Promise.all(
      Array.from({ length: 12 }, () => assign(chainId, ks.dbAddress)),
    )
    const got = assigned.filter((t) => t !== undefined)
    assert.equal(got.length, 10)
    assert.deepEqual(
      got.map((t) => t.nonce).sort((a, b) => a! - b!),
      [...Array(10).keys()],
    )
    for (const [i, id] of ids.entries()) assert.equal((await txById(db, id))?.nonce, i)
    assert.equal((await keyState(db, chainId, FROM))?.nextNonce, 10)
  })

  it('assigns a batch in one statement, concurrent batches never overlapping', async () => {
    const chainId = chain++
    const ids: bigint[] = []
    for (let i = 0; i < 25; i++) ids.push((await insertTx(db, tx(chainId, `b${i}`))).tx.id)
    const ks = await initKeyState(db, chainId, FROM, 3)
    const batches = await Promise.all(
      Array.from({ length: 4 }, () =>
        assignNonces(db, { chainId, from: FROM, dbAddress: ks.dbAddress, limit: 8 }),
      ),
    )
    const nonces = batches.flatMap((b) => b.assigned.map((t) => t.nonce!))
    assert.deepEqual(
      nonces.sort((a, b) => a - b),
      Array.from({ length: 25 }, (_, i) => i + 3),
    )
    for (const b of batches) {
      assert.ok(b.assigned.length <= 8)
      // Each batch is contiguous and in id order.
      for (let i = 1; i < b.assigned.length; i++) {
        assert.equal(b.assigned[i]!.nonce, b.assigned[i - 1]!.nonce! + 1)
        assert.ok(b.assigned[i]!.id > b.assigned[i - 1]!.id)
      }
    }
    for (const [i, id] of ids.entries()) assert.equal((await txById(db, id))?.nonce, i + 3)
    assert.equal((await keyState(db, chainId, FROM))?.nextNonce, 28)
  })

  it('fails, without a nonce, what asks for more gas than a block holds', async () => {
    const chainId = chain++
    const big = (await insertTx(db, { ...tx(chainId, 'big'), gasLimit: 40_000_000n })).tx
    const small = (await insertTx(db, tx(chainId, 'small'))).tx
    const ks = await initKeyState(db, chainId, FROM, 0)
    const { assigned, refused } = await assignNonces(db, {
      chainId,
      from: FROM,
      dbAddress: ks.dbAddress,
      limit: 5,
      blockGasLimit: 30_000_000n,
    })
    assert.deepEqual(
      assigned.map((t) => [t.id, t.nonce]),
      [[small.id, 0]],
    )
    assert.deepEqual(
      refused.map((t) => [t.id, t.state, t.nonce, t.error]),
      [
        [
          big.id,
          'fatal_error',
          null,
          'gas limit 40000000 exceeds the block gas limit 30000000; never sent',
        ],
      ],
    )
  })

  it('moves the sequence forward to a higher chain nonce', async () => {
    const chainId = chain++
    await insertTx(db, tx(chainId, 'a'))
    const ks = await initKeyState(db, chainId, FROM, 0)
    assert.equal((await assign(chainId, ks.dbAddress, 4))?.nonce, 4)
    assert.equal((await keyState(db, chainId, FROM))?.nextNonce, 5)
  })

  it('gives a refused nonce back only when it is the last one assigned', async () => {
    const chainId = chain++
    await insertTx(db, tx(chainId, 'a'))
    await insertTx(db, tx(chainId, 'b'))
    const ks = await initKeyState(db, chainId, FROM, 0)
    const a = (await assign(chainId, ks.dbAddress))!
    const b = (await assign(chainId, ks.dbAddress))!
    const release = (t: typeof a) =>
      db.transaction((q) => releaseNonceAndFail(q, { tx: t, dbAddress: ks.dbAddress, error: 'no' }))
    assert.equal(await release(a), false, 'a gap would strand b')
    assert.equal(await release(b), true)
    const failed = await txById(db, b.id)
    assert.equal(failed?.state, 'fatal_error')
    assert.equal(failed?.nonce, null)
    assert.equal((await keyState(db, chainId, FROM))?.nextNonce, 1)
  })
})
