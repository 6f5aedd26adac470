import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Address, encodeFunctionData, type Hex, numberToHex } from 'viem'
import { privateKeyToAddress } from 'viem/accounts'
import { OperatorAbi } from '../../artifacts/abis.ts'
import { ANVIL_PRIVATE_KEYS } from '../chain/anvil.ts'
import { createChainClient } from '../chain/client.ts'
import { deployCore } from '../chain/deploy.ts'
import { assignNextNonce, fillerKey, initKeyState } from './store.ts'
import {
  failingSends,
  registerKey,
  startTxmHarness,
  type TxmHarness,
  tickUntil,
} from './testing.ts'

const SINK = '0x000000000000000000000000000000000000dEaD' as Address
const data = (i: number) => numberToHex(i + 1, { size: 4 })

describe('txm on an automining chain', () => {
  let h: TxmHarness
  before(async () => {
    h = await startTxmHarness()
  })
  after(() => h.close())

  it('sends 20 transactions from one key with nonces 0..19, each once, all confirmed', async () => {
    const txm = h.txm()
    const ids: bigint[] = []
    for (let i = 0; i < 20; i++) {
      const r = await txm.enqueue({ to: SINK, data: data(i), idempotencyKey: `batch/${i}` })
      assert.equal(r.created, true)
      ids.push(r.id)
    }
    // Reusing a key returns the first transaction, even with other contents.
    const again = await txm.enqueue({ to: SINK, data: '0xffff', idempotencyKey: 'batch/3' })
    assert.deepEqual(again, { id: ids[3], created: false })

    await tickUntil(txm, async () => (await txm.get(ids.at(-1)!))?.state === 'confirmed')
    const txs = await Promise.all(ids.map((id) => txm.get(id)))
    assert.deepEqual(
      txs.map((t) => t?.nonce),
      [...Array(20).keys()],
    )
    for (const [i, t] of txs.entries()) {
      assert.equal(t?.state, 'confirmed')
      assert.equal(t?.attempts.length, 1)
      assert.equal(t?.attempts[0]?.state, 'broadcast')
      assert.equal(t?.receipt?.status, 'success')
      assert.equal(t?.receipt?.transactionHash, t?.attempts[0]?.hash)
      assert.equal(t?.data, data(i))
    }
    const mined = await h.minedFrom(h.key.address)
    assert.deepEqual(
      mined.map((m) => m.nonce),
      [...Array(20).keys()],
    )
    assert.deepEqual(
      mined.map((m) => m.input),
      txs.map((t) => t?.data),
    )
    const [ks] = await h.db.query('SELECT next_nonce FROM key_states')
    assert.equal(Number(ks?.next_nonce), 20)
    const metrics = await h.common.metrics.getSingleMetricAsString('orakel_txm_confirmations_total')
    assert.match(metrics, /orakel_txm_confirmations_total\{chain_id="31337"\} 20/)
  })

  it('enqueues inside the caller’s transaction: rolled back, nothing is sent', async () => {
    const txm = h.txm()
    await assert.rejects(
      h.db.transaction(async (q) => {
        await txm.enqueue({ to: SINK, data: '0x01', idempotencyKey: 'rolled-back' }, q)
        throw new Error('the job run failed')
      }),
      /the job run failed/,
    )
    assert.equal(await txm.byIdempotencyKey('rolled-back'), undefined)
    const id = await h.db.transaction(
      async (q) =>
        (await txm.enqueue({ to: SINK, data: '0x02', idempotencyKey: 'committed' }, q)).id,
    )
    assert.equal((await txm.byIdempotencyKey('committed'))?.id, id)
    await tickUntil(txm, async () => (await txm.get(id))?.state === 'confirmed')
  })

  it('records a reverted transaction with its decoded reason', async () => {
    const owner = await createChainClient({
      rpcUrl: h.anvil.rpcUrl,
      privateKey: ANVIL_PRIVATE_KEYS[0],
      pollingInterval: 20,
    })
    const core = await deployCore(owner)
    const txm = h.txm()
    const { id } = await txm.enqueue({
      to: core.operator,
      data: encodeFunctionData({
        abi: OperatorAbi,
        functionName: 'withdraw',
        args: [h.key.address, 1n],
      }),
      idempotencyKey: 'withdraw-by-stranger',
    })
    await tickUntil(txm, async () => (await txm.get(id))?.state !== 'unconfirmed')
    const tx = await txm.get(id)
    assert.equal(tx?.state, 'reverted')
    assert.equal(tx?.receipt?.status, 'reverted')
    assert.equal(tx?.revertReason, `NotOwner(${h.key.address})`)
    const metrics = await h.common.metrics.getSingleMetricAsString('orakel_txm_reverts_total')
    assert.match(metrics, / 1$/m)

    // Out of gas: no revert data, the whole gas limit used.
    const oog = await txm.enqueue({
      to: core.operator,
      data: encodeFunctionData({ abi: OperatorAbi, functionName: 'withdrawable' }),
      gasLimit: 21_500n,
      idempotencyKey: 'out-of-gas',
    })
    await tickUntil(txm, async () => (await txm.get(oog.id))?.state !== 'unconfirmed')
    const oogTx = await txm.get(oog.id)
    assert.equal(oogTx?.state, 'reverted')
    assert.equal(oogTx?.revertReason, 'out of gas (used all 21500)')
  })

  it('fails a transaction whose gas limit no block can hold, without spending a nonce', async () => {
    const txm = h.txm()
    const bad = await txm.enqueue({
      to: SINK,
      data: '0x',
      gasLimit: 10n ** 12n, // above the block gas limit
      idempotencyKey: 'too-much-gas',
    })
    const good = await txm.enqueue({ to: SINK, data: '0x', idempotencyKey: 'after-too-much-gas' })
    const before = (await h.minedFrom(h.key.address)).length
    await tickUntil(txm, async () => (await txm.get(good.id))?.state === 'confirmed')
    const failed = await txm.get(bad.id)
    assert.equal(failed?.state, 'fatal_error')
    assert.equal(failed?.nonce, null)
    assert.equal(failed?.attempts.length, 0)
    assert.match(
      failed?.error ?? '',
      /^gas limit 1000000000000 exceeds the block gas limit \d+; never sent$/,
    )
    assert.equal((await txm.get(good.id))?.nonce, before)
  })

  it('fails a transaction the node refuses outright and gives its nonce (the last) back', async () => {
    const refusing = h.txm({
      client: failingSends(h.client, { when: 'before', message: 'invalid sender (injected)' }),
    })
    const bad = await refusing.enqueue({ to: SINK, data: '0x01', idempotencyKey: 'refused-last' })
    const nonce = (await h.minedFrom(h.key.address)).length
    await refusing.tick()
    const failed = await refusing.get(bad.id)
    assert.equal(failed?.state, 'fatal_error')
    assert.equal(failed?.nonce, null)
    assert.equal(failed?.attempts.length, 0)
    assert.match(failed?.error ?? '', /^the node refused the transaction: invalid sender/)

    const txm = h.txm()
    const good = await txm.enqueue({ to: SINK, data: '0x02', idempotencyKey: 'after-refused-last' })
    await tickUntil(txm, async () => (await txm.get(good.id))?.state === 'confirmed')
    assert.equal((await txm.get(good.id))?.nonce, nonce)
  })

  it('fills the nonce of a refused transaction sent together with later ones: no gap', async () => {
    const refusing = h.txm({
      client: failingSends(h.client, { when: 'before', message: 'invalid sender (injected)' }),
    })
    const bad = await refusing.enqueue({ to: SINK, data: '0x01', idempotencyKey: 'refused-mid' })
    const good = await refusing.enqueue({ to: SINK, data: '0x02', idempotencyKey: 'after-mid' })
    const nonce = (await h.minedFrom(h.key.address)).length
    await refusing.tick() // one batch: bad refused, good accepted with the next nonce
    const failed = await refusing.get(bad.id)
    assert.equal(failed?.state, 'fatal_error')
    assert.equal(failed?.nonce, null)
    assert.match(failed?.error ?? '', /^the node refused the transaction: invalid sender/)
    const filler = await refusing.byIdempotencyKey(fillerKey(h.chainId, h.key.address, nonce))
    assert.equal(filler?.nonce, nonce)
    assert.equal(filler?.to, h.key.address)
    assert.equal(filler?.data, '0x')
    assert.equal(filler?.value, 0n)

    const txm = h.txm()
    await tickUntil(txm, async () => {
      const [f, g] = await Promise.all([txm.get(filler!.id), txm.get(good.id)])
      return f?.state === 'confirmed' && g?.state === 'confirmed'
    })
    const mined = (await h.minedFrom(h.key.address)).slice(nonce)
    assert.deepEqual(
      mined.map((m) => [m.nonce, m.input]),
      [
        [nonce, '0x'],
        [nonce + 1, '0x02'],
      ],
    )
    assert.equal((await txm.get(good.id))?.nonce, nonce + 1)
  })

  it('sends a tick’s queued transactions together, each persisted before it is sent', async () => {
    const txm = h.txm()
    const ids: bigint[] = []
    for (let i = 0; i < 10; i++) {
      ids.push((await txm.enqueue({ to: SINK, data: data(i), idempotencyKey: `one-tick/${i}` })).id)
    }
    const first = (await h.minedFrom(h.key.address)).length
    await txm.tick()
    const txs = await Promise.all(ids.map((id) => txm.get(id)))
    assert.deepEqual(
      txs.map((t) => t?.nonce),
      ids.map((_, i) => first + i),
    )
    for (const t of txs) {
      assert.equal(t?.attempts.length, 1)
      assert.equal(t?.attempts[0]?.state, 'broadcast')
      assert.ok(t?.broadcastAt)
    }
    await tickUntil(txm, async () =>
      (await Promise.all(ids.map((id) => txm.get(id)))).every((t) => t?.state === 'confirmed'),
    )
  })

  it('fails a transaction whose nonce another sender of the key used, and moves on', async () => {
    const txm = h.txm()
    const lost = await txm.enqueue({ to: SINK, data: '0xaa', idempotencyKey: 'nonce-taken' })
    // Assign its nonce, then spend that nonce from outside the node.
    const ks = await initKeyState(h.db, h.chainId, h.key.address, 0)
    const assigned = await h.db.transaction((q) =>
      assignNextNonce(q, { chainId: h.chainId, from: h.key.address, dbAddress: ks.dbAddress }),
    )
    assert.equal(assigned?.id, lost.id)
    const outside = await createChainClient({
      rpcUrl: h.anvil.rpcUrl,
      privateKey: h.key.privateKey,
    })
    const hash = await outside.sendTransaction({ to: SINK, nonce: assigned!.nonce! })
    await outside.waitForTransactionReceipt({ hash })

    await tickUntil(txm, async () => (await txm.get(lost.id))?.state !== 'unconfirmed')
    const tx = await txm.get(lost.id)
    assert.equal(tx?.state, 'fatal_error')
    assert.match(tx?.error ?? '', /was used by a transaction this node did not send/)

    // The sequence catches up with the chain: the next transaction is not stuck behind it.
    const next = await txm.enqueue({ to: SINK, data: '0xbb', idempotencyKey: 'after-taken' })
    await tickUntil(txm, async () => (await txm.get(next.id))?.state === 'confirmed')
    assert.equal((await txm.get(next.id))?.nonce, assigned!.nonce! + 1)
  })

  it('chooses keys round-robin among the enabled ones', async () => {
    const second = ANVIL_PRIVATE_KEYS[3] as Hex
    const secondAddress = privateKeyToAddress(second)
    await registerKey(h.db, secondAddress)
    const keys = new Map<Address, Hex>([
      [h.key.address, h.key.privateKey],
      [secondAddress, second],
    ])
    const txm = h.txm({ keys })
    const froms: Address[] = []
    for (let i = 0; i < 4; i++) {
      const { id } = await txm.enqueue({ to: SINK, data: '0x', idempotencyKey: `rr/${i}` })
      froms.push((await txm.get(id))!.from)
    }
    assert.deepEqual(froms, [h.key.address, secondAddress, h.key.address, secondAddress])
    await tickUntil(txm, async () => {
      const all = await Promise.all([0, 1, 2, 3].map((i) => txm.byIdempotencyKey(`rr/${i}`)))
      return all.every((t) => t?.state === 'confirmed')
    })
    // Disabled for this chain: no longer chosen.
    await h.db.query('UPDATE key_states SET disabled = true WHERE lower(address) = lower($1)', [
      secondAddress,
    ])
    for (let i = 4; i < 7; i++) {
      const { id } = await txm.enqueue({ to: SINK, data: '0x', idempotencyKey: `rr/${i}` })
      assert.equal((await txm.get(id))!.from, h.key.address)
    }
  })

  it('refuses bad requests and bad options', async () => {
    const txm = h.txm()
    await assert.rejects(txm.enqueue({ to: SINK, data: '0x', idempotencyKey: '' }), /idempotency/)
    await assert.rejects(
      txm.enqueue({ to: '0x12' as Address, data: '0x', idempotencyKey: 'x' }),
      /invalid "to"/,
    )
    await assert.rejects(
      txm.enqueue({ to: SINK, data: '0xzz' as Hex, idempotencyKey: 'x' }),
      /"data" must be hex/,
    )
    await assert.rejects(
      txm.enqueue({ to: SINK, data: '0x', gasLimit: 20_000n, idempotencyKey: 'x' }),
      /below the intrinsic gas 21000/,
    )
    await assert.rejects(
      txm.enqueue({ to: SINK, data: '0x', from: SINK, idempotencyKey: 'x' }),
      /no key for/,
    )
    assert.throws(() => h.txm({ bumpPercent: 5 }), /bumpPercent must be an integer ≥ 10/)
    assert.throws(
      () => h.txm({ keys: new Map([[SINK, h.key.privateKey]]) }),
      /belongs to another address/,
    )
  })
})
