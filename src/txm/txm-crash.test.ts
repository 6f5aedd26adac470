import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { Address, Hex } from 'viem'
import type { Db } from '../store/db.ts'
import { openTestDatabase } from '../store/testing.ts'
import { isKnown } from './rpc.ts'
import { assignNextNonce, initKeyState } from './store.ts'
import { failingSends, startTxmHarness, type TxmHarness, tickUntil } from './testing.ts'

/**
 * Crash and resume: a second manager on the same database (a restarted node) picks up where
 * the first stopped, and the chain ends up with exactly one transaction per request.
 */
const SINK = '0x000000000000000000000000000000000000dEaD' as Address

describe('txm crash and resume (mining off)', () => {
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

  const confirmAll = async (txm: ReturnType<TxmHarness['txm']>, ids: bigint[]) =>
    tickUntil(
      txm,
      async () =>
        (await Promise.all(ids.map((id) => txm.get(id)))).every((t) => t?.state === 'confirmed'),
      { mine: () => h.mine() },
    )

  /** One mined transaction per request, nonces 0..n-1, each the persisted attempt's bytes. */
  const assertExactlyOnce = async (txm: ReturnType<TxmHarness['txm']>, ids: bigint[]) => {
    const txs = await Promise.all(ids.map((id) => txm.get(id)))
    const mined = await h.minedFrom(h.key.address)
    assert.deepEqual(
      mined.map((m) => m.nonce),
      ids.map((_, i) => i),
    )
    assert.deepEqual(
      mined.map((m) => m.hash),
      txs.map((t) => t?.receipt?.transactionHash),
    )
    for (const t of txs) {
      assert.equal(t?.attempts.length, 1)
      assert.equal(t?.attempts[0]?.hash, t?.receipt?.transactionHash)
    }
  }

  it('persists the attempt before sending it; a new instance sends the same bytes', async () => {
    const flaky = failingSends(h.client, { when: 'before' })
    const first = h.txm({ client: flaky })
    const { id } = await first.enqueue({ to: SINK, data: '0x01', idempotencyKey: h.idem('a') })
    await first.tick()
    assert.equal(flaky.failures, 1)
    const stuck = await first.get(id)
    assert.equal(stuck?.state, 'unconfirmed')
    assert.equal(stuck?.nonce, 0)
    assert.equal(stuck?.attempts.length, 1)
    const [attempt] = stuck!.attempts
    assert.equal(attempt?.state, 'in_progress')
    assert.match(attempt?.signedRaw ?? '', /^0x02/)
    assert.match(stuck?.error ?? '', /sending failed, will retry: socket hang up/)
    assert.equal(await isKnown(h.client, attempt!.hash), false)

    const restarted = h.txm()
    await restarted.tick()
    const sent = await restarted.get(id)
    assert.deepEqual(
      sent?.attempts.map((a) => [a.hash, a.state]),
      [[attempt!.hash, 'broadcast']],
    )
    assert.equal(sent?.error, null)
    assert.equal(await isKnown(h.client, attempt!.hash), true)
    await confirmAll(restarted, [id])
    await assertExactlyOnce(restarted, [id])
  })

  it('a crash after the node accepted, before it was recorded: no second transaction', async () => {
    const first = h.txm({ client: failingSends(h.client, { when: 'after', times: 2 }) })
    const a = await first.enqueue({ to: SINK, data: '0x01', idempotencyKey: h.idem('a') })
    const b = await first.enqueue({ to: SINK, data: '0x02', idempotencyKey: h.idem('b') })
    await first.tick() // a and b (one batch): accepted by the node, recorded as in_progress only
    for (const [i, id] of [a.id, b.id].entries()) {
      const tx = await first.get(id)
      assert.equal(tx?.nonce, i)
      assert.equal(tx?.attempts.length, 1)
      assert.equal(tx?.attempts[0]?.state, 'in_progress')
      assert.equal(await isKnown(h.client, tx!.attempts[0]!.hash), true)
    }

    // Restart while the node still has it in its pool ("already known")...
    const second = h.txm()
    await second.tick()
    assert.equal((await second.get(a.id))?.attempts[0]?.state, 'broadcast')
    // ...and once more after it was mined ("nonce too low" for our own bytes).
    await h.mine()
    const third = h.txm()
    await confirmAll(third, [a.id, b.id])
    await assertExactlyOnce(third, [a.id, b.id])
  })

  it('a crash after nonce assignment: the same nonce, one attempt', async () => {
    const first = h.txm()
    const ids: bigint[] = []
    for (const key of ['a', 'b', 'c']) {
      ids.push((await first.enqueue({ to: SINK, data: '0x', idempotencyKey: h.idem(key) })).id)
    }
    // The first part of a tick only: the oldest transaction gets nonce 0, then "crash".
    const ks = await initKeyState(h.db, h.chainId, h.key.address, 0)
    const assigned = await h.db.transaction((q) =>
      assignNextNonce(q, { chainId: h.chainId, from: h.key.address, dbAddress: ks.dbAddress }),
    )
    assert.equal(assigned?.id, ids[0])
    assert.equal(assigned?.nonce, 0)
    assert.equal((await first.get(ids[0]!))?.attempts.length, 0)

    const restarted = h.txm()
    await confirmAll(restarted, ids)
    await assertExactlyOnce(restarted, ids)
  })

  it('a crash after broadcast: resumes with the persisted attempts, never new ones', async () => {
    const first = h.txm()
    const ids: bigint[] = []
    for (let i = 0; i < 5; i++) {
      ids.push((await first.enqueue({ to: SINK, data: '0x', idempotencyKey: h.idem(`k${i}`) })).id)
    }
    await first.tick()
    const hashes = (await Promise.all(ids.map((id) => first.get(id)))).map(
      (t) => t?.attempts.map((a) => a.hash) ?? [],
    )
    assert.ok(hashes.every((x) => x.length === 1))

    const restarted = h.txm()
    // The job runs retry after the restart: same keys, no new transactions.
    for (let i = 0; i < 5; i++) {
      const again = await restarted.enqueue({
        to: SINK,
        data: '0x',
        idempotencyKey: h.idem(`k${i}`),
      })
      assert.deepEqual(again, { id: ids[i], created: false })
    }
    await restarted.tick()
    await confirmAll(restarted, ids)
    await assertExactlyOnce(restarted, ids)
    assert.deepEqual(
      (await Promise.all(ids.map((id) => restarted.get(id)))).map((t) =>
        t?.attempts.map((a) => a.hash),
      ),
      hashes,
    )
  })

  it('re-sends an attempt the node’s pool lost, with the same hash', async () => {
    const txm = h.txm()
    const { id } = await txm.enqueue({ to: SINK, data: '0x', idempotencyKey: h.idem('lost') })
    await txm.tick()
    const hash = (await txm.get(id))!.attempts[0]!.hash as Hex
    await h.rpc('anvil_dropTransaction', [hash])
    assert.equal(await isKnown(h.client, hash), false)
    await txm.tick()
    assert.equal(await isKnown(h.client, hash), true)
    await confirmAll(txm, [id])
    await assertExactlyOnce(txm, [id])
  })
})
