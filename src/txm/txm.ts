import {
  type Abi,
  type Address,
  getAddress,
  type Hex,
  hexToBytes,
  isAddress,
  isHex,
  keccak256,
} from 'viem'
import { privateKeyToAddress, signTransaction } from 'viem/accounts'
import type { Common } from '../common.ts'
import { errorMessage } from '../errors.ts'
import type { Queryable } from '../store/db.ts'
import { classifySendError, nodeMessage } from './classify.ts'
import { TxmError } from './errors.ts'
import { bumpFees, initialFees } from './fees.ts'
import { txmMetrics } from './metrics.ts'
import { revertReason } from './revert-reason.ts'
import {
  blockNumber,
  type Head,
  isKnown,
  latestHead,
  nonceAt,
  priorityFee,
  receiptOf,
  sendRaw,
  type TxmClient,
} from './rpc.ts'
import {
  activeSenders,
  assignNextNonce,
  attemptsOf,
  deleteAttempt,
  disabledKeys,
  initKeyState,
  insertAttempt,
  insertTx,
  type KeyState,
  keyState,
  markBroadcast,
  markFatal,
  markFinal,
  releaseNonceAndFail,
  setError,
  txById,
  txByIdempotencyKey,
  txFromRow,
  unconfirmedTxs,
} from './store.ts'
import type { Attempt, Fees, ReceiptSummary, Tx, TxRequest, TxWithAttempts } from './types.ts'

export type TxmOptions = {
  chainId: number
  /** Any viem client (a PublicClient is enough): reads and `eth_sendRawTransaction`. */
  client: TxmClient
  /** The sending keys: address → private key, held in memory; signing is local. */
  keys: Map<Address, Hex>
  /** No attempt ever offers a max fee per gas above this. */
  feeCapWei: bigint
  /** Blocks without a receipt after an attempt was accepted before it is replaced. */
  bumpAfterBlocks: number
  /** Percent both fees rise by on a replacement; at least 10 (the node minimum). */
  bumpPercent: number
  /** Blocks deep a receipt must be (1 = in the latest block) before the outcome is final. */
  confirmations: number
  defaultGasLimit: bigint
  /** Most `unconfirmed` transactions per key at once (default 64). */
  maxInFlight?: number | undefined
  /** Custom errors to decode revert reasons with, besides those of Orakel's contracts. */
  errorAbi?: Abi | undefined
}

export type Txm = {
  /**
   * Queues a transaction (`unstarted`), in `tx` when given so it commits with the caller's
   * work. The same idempotency key returns the existing transaction (`created: false`).
   */
  enqueue(req: TxRequest, tx?: Queryable): Promise<{ id: bigint; created: boolean }>
  /** One pass over every key with work: nonces, attempts, receipts, bumps, re-sends. */
  tick(): Promise<void>
  /** Runs `tick()` every `intervalMs` until `stop()`; errors are logged, not thrown. */
  start(intervalMs: number): void
  /** Stops the timer and waits for a running tick. */
  stop(): Promise<void>
  get(id: bigint): Promise<TxWithAttempts | undefined>
  byIdempotencyKey(key: string): Promise<TxWithAttempts | undefined>
}

/** The gas every transaction pays before executing (no access list, not a creation). */
export function intrinsicGas(data: Hex): bigint {
  let gas = 21_000n
  for (const b of hexToBytes(data)) gas += b === 0 ? 4n : 16n
  return gas
}

function checkOptions(o: TxmOptions): void {
  const fail = (what: string) => {
    throw new TxmError(`invalid transaction manager option: ${what}`)
  }
  if (!Number.isSafeInteger(o.chainId) || o.chainId <= 0) fail(`chainId ${o.chainId}`)
  if (o.feeCapWei <= 0n) fail('feeCapWei must be positive')
  if (!Number.isSafeInteger(o.bumpAfterBlocks) || o.bumpAfterBlocks < 1) {
    fail('bumpAfterBlocks must be an integer ≥ 1')
  }
  if (!Number.isSafeInteger(o.bumpPercent) || o.bumpPercent < 10) {
    fail('bumpPercent must be an integer ≥ 10 (nodes refuse smaller replacements)')
  }
  if (!Number.isSafeInteger(o.confirmations) || o.confirmations < 0) {
    fail('confirmations must be an integer ≥ 0')
  }
  if (o.defaultGasLimit < 21_000n) fail('defaultGasLimit must be at least 21000')
  if (o.maxInFlight !== undefined && (!Number.isSafeInteger(o.maxInFlight) || o.maxInFlight < 1)) {
    fail('maxInFlight must be an integer ≥ 1')
  }
}

/** Attempt and tick context: the head read at the start of a tick, fees read once. */
type TickContext = { head: Head; priorityFee: () => Promise<bigint> }

type SendKind = 'first' | 'bump' | 'resend'

export function createTxm(common: Common, options: TxmOptions): Txm {
  checkOptions(options)
  const { db } = common
  const { chainId, client, feeCapWei } = options
  const maxInFlight = options.maxInFlight ?? 64
  const log = common.logger.child({ component: 'txm', chain_id: chainId })
  const metrics = txmMetrics(common.metrics)
  const label = { chain_id: String(chainId) }

  const keys = new Map<Address, Hex>()
  for (const [address, privateKey] of options.keys) {
    const a = getAddress(address)
    if (privateKeyToAddress(privateKey) !== a) {
      throw new TxmError(`the private key given for ${a} belongs to another address`)
    }
    keys.set(a, privateKey)
  }

  let roundRobin = 0
  /** Attempts this process persisted and has not tried to send yet: safe to drop if refused. */
  const neverSent = new Set<bigint>()
  const unknownSenders = new Set<Address>()

  const withAttempts = async (tx: Tx | undefined) =>
    tx ? { ...tx, attempts: await attemptsOf(db, tx.id) } : undefined

  async function enqueue(req: TxRequest, q: Queryable = db) {
    if (typeof req.idempotencyKey !== 'string' || req.idempotencyKey === '') {
      throw new TxmError('enqueue needs an idempotency key')
    }
    if (typeof req.to !== 'string' || !isAddress(req.to, { strict: false })) {
      throw new TxmError(`invalid "to" address ${String(req.to)}`)
    }
    if (typeof req.data !== 'string' || !isHex(req.data) || req.data.length % 2 !== 0) {
      throw new TxmError('"data" must be hex with whole bytes')
    }
    const data = req.data.toLowerCase() as Hex
    const value = req.value ?? 0n
    if (value < 0n) throw new TxmError('"value" must not be negative')
    const gasLimit = req.gasLimit ?? options.defaultGasLimit
    const intrinsic = intrinsicGas(data)
    if (gasLimit < intrinsic) {
      throw new TxmError(`gas limit ${gasLimit} is below the intrinsic gas ${intrinsic}`)
    }
    const minConfirmations = req.minConfirmations ?? 0
    if (!Number.isSafeInteger(minConfirmations) || minConfirmations < 0) {
      throw new TxmError('"minConfirmations" must be an integer ≥ 0')
    }
    let from: Address
    if (req.from !== undefined) {
      from = getAddress(req.from)
      if (!keys.has(from)) throw new TxmError(`no key for ${from} in the transaction manager`)
    } else {
      const existing = await txByIdempotencyKey(q, req.idempotencyKey)
      if (existing) return { id: existing.id, created: false }
      const disabled = await disabledKeys(q, chainId)
      const enabled = [...keys.keys()].filter((k) => !disabled.has(k))
      if (enabled.length === 0) throw new TxmError(`no enabled key for chain ${chainId}`)
      from = enabled[roundRobin++ % enabled.length]!
    }
    const to = getAddress(req.to)
    const { tx, created } = await insertTx(q, {
      chainId,
      from,
      to,
      data,
      value,
      gasLimit,
      minConfirmations,
      idempotencyKey: req.idempotencyKey,
    })
    const fields = { tx_id: String(tx.id), from: tx.from, idempotency_key: req.idempotencyKey }
    if (created) {
      log.info(fields, 'transaction queued')
    } else if (
      tx.chainId !== chainId ||
      tx.to !== to ||
      tx.data !== data ||
      tx.value !== value ||
      (req.from !== undefined && tx.from !== from)
    ) {
      log.warn(fields, 'idempotency key reused for a different transaction; keeping the first')
    }
    return { id: tx.id, created }
  }

  async function signAndPersist(tx: Tx, fees: Fees): Promise<Attempt> {
    const privateKey = keys.get(tx.from)
    if (!privateKey || tx.nonce === null) throw new TxmError(`cannot sign transaction ${tx.id}`)
    const signedRaw = await signTransaction({
      privateKey,
      transaction: {
        type: 'eip1559',
        chainId,
        nonce: tx.nonce,
        to: tx.to,
        data: tx.data,
        value: tx.value,
        gas: tx.gasLimit,
        maxFeePerGas: fees.maxFeePerGas,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      },
    })
    const attempt = await insertAttempt(db, {
      txId: tx.id,
      hash: keccak256(signedRaw),
      signedRaw,
      fees,
    })
    neverSent.add(attempt.id)
    log.info(
      {
        tx_id: String(tx.id),
        nonce: tx.nonce,
        hash: attempt.hash,
        from: tx.from,
        max_fee_per_gas: String(fees.maxFeePerGas),
        max_priority_fee_per_gas: String(fees.maxPriorityFeePerGas),
      },
      'attempt persisted',
    )
    return attempt
  }

  /**
   * Sends an attempt's bytes and records what the node said. Returns whether the attempt is
   * (now or already) accepted.
   */
  async function send(
    tx: Tx,
    attempt: Attempt,
    ks: KeyState,
    ctx: TickContext,
    kind: SendKind,
  ): Promise<boolean> {
    const fresh = neverSent.delete(attempt.id)
    const fields = {
      tx_id: String(tx.id),
      nonce: tx.nonce,
      hash: attempt.hash,
      from: tx.from,
      kind,
    }
    let outcome: ReturnType<typeof classifySendError> = 'accepted'
    let cause: unknown
    try {
      await sendRaw(client, attempt.signedRaw)
    } catch (err) {
      cause = err
      outcome = classifySendError(err)
    }
    const message = cause === undefined ? '' : nodeMessage(cause)
    switch (outcome) {
      case 'accepted':
      case 'nonce_too_low': {
        // "nonce too low" for our own bytes: mined already, or another transaction took the
        // nonce. The receipt check of every attempt tells which.
        if (attempt.state === 'in_progress') {
          await db.transaction((q) => markBroadcast(q, attempt, ctx.head.number))
        }
        if (outcome === 'accepted') metrics.broadcasts.inc(label)
        log.info({ ...fields, answer: message || 'ok' }, 'attempt broadcast')
        return true
      }
      case 'underpriced': {
        if (attempt.state === 'in_progress' && fresh) {
          // Never sent before and refused now: it is in no pool; drop it.
          await deleteAttempt(db, attempt)
        } else if (attempt.state === 'in_progress') {
          // Persisted by an earlier run that may have sent it: keep its hash for receipts.
          await db.transaction((q) => markBroadcast(q, attempt, ctx.head.number))
        }
        await setError(db, tx.id, `the node refused attempt ${attempt.hash}: ${message}`)
        log.warn({ ...fields, err: message }, 'attempt refused for its fees')
        return false
      }
      case 'fatal': {
        if (kind === 'first') {
          const error = `the node refused the transaction: ${message}`
          const released = await db.transaction((q) =>
            releaseNonceAndFail(q, { tx, dbAddress: ks.dbAddress, error }),
          )
          if (released) {
            metrics.fatal.inc(label)
            log.error({ ...fields, err: message }, 'transaction failed; nonce released')
            return false
          }
        } else if (attempt.state === 'in_progress') {
          await deleteAttempt(db, attempt)
        }
        await setError(db, tx.id, `the node refused attempt ${attempt.hash}: ${message}`)
        log.error({ ...fields, err: message }, 'attempt refused')
        return false
      }
      case 'retryable': {
        await setError(db, tx.id, `sending failed, will retry: ${message}`)
        log.warn({ ...fields, err: message }, 'sending failed; will retry')
        return false
      }
    }
  }

  /** Nonce assignment and first attempts: strictly one nonce after the other. */
  async function sendQueued(from: Address, ks: KeyState, ctx: TickContext): Promise<void> {
    // Transactions holding a nonce that no node has accepted yet, lowest first.
    const waiting = (
      await db.query(
        `SELECT t.* FROM eth_txes t
         WHERE t.chain_id = $1 AND t.from_address = $2 AND t.state = 'unconfirmed'
           AND NOT EXISTS (SELECT 1 FROM eth_tx_attempts a
                           WHERE a.eth_tx_id = t.id AND a.state = 'broadcast')
         ORDER BY t.nonce`,
        [chainId, from],
      )
    ).map(txFromRow)
    for (const tx of waiting) if (!(await sendFirst(tx, ks, ctx))) return
    if (ks.disabled) return
    const [open] = await db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM eth_txes
       WHERE chain_id = $1 AND from_address = $2 AND state = 'unconfirmed'`,
      [chainId, from],
    )
    // Counted here rather than queried again: only this tick changes it (ticks never overlap),
    // and a nonce whose first send was refused ends the pass.
    let inFlight = Number(open?.n ?? 0)
    while (inFlight < maxInFlight) {
      // Idle key: catch up with nonces used outside this node.
      const atLeast = inFlight === 0 ? await nonceAt(client, from, 'pending') : undefined
      const tx = await db.transaction((q) =>
        assignNextNonce(q, { chainId, from, dbAddress: ks.dbAddress, atLeast }),
      )
      if (!tx) return
      log.info({ tx_id: String(tx.id), nonce: tx.nonce, from }, 'nonce assigned')
      inFlight++
      if (!(await sendFirst(tx, ks, ctx, true))) return
    }
  }

  async function sendFirst(
    tx: Tx,
    ks: KeyState,
    ctx: TickContext,
    /** The nonce was assigned just now, in this tick: no attempt can exist yet. */
    fresh = false,
  ): Promise<boolean> {
    // By construction at most one attempt exists here, in_progress (persisted, maybe sent by
    // a run that crashed): send those exact bytes again.
    let attempt = fresh ? undefined : (await attemptsOf(db, tx.id)).at(-1)
    if (!attempt) {
      const decision = initialFees({
        baseFee: ctx.head.baseFee,
        priorityFee: await ctx.priorityFee(),
        feeCap: feeCapWei,
      })
      if (!decision.ok) {
        if (tx.error !== decision.error) await setError(db, tx.id, decision.error)
        log.warn({ tx_id: String(tx.id), nonce: tx.nonce, from: tx.from }, decision.error)
        return false
      }
      attempt = await signAndPersist(tx, decision.fees)
    }
    return send(tx, attempt, ks, ctx, 'first')
  }

  /** Final outcomes for mined nonces; returns the key's nonce at the latest block. */
  async function checkReceipts(from: Address): Promise<number> {
    const latestNonce = await nonceAt(client, from, 'latest')
    const open = (await unconfirmedTxs(db, chainId, from)).filter(
      (t) => t.nonce !== null && t.nonce < latestNonce,
    )
    if (open.length === 0) return latestNonce
    const latest = await blockNumber(client)
    const nonceAtDepth = new Map<number, number>()
    for (const tx of open) {
      const required = Math.max(1, options.confirmations, tx.minConfirmations)
      const attempts = await attemptsOf(db, tx.id)
      let receipt: ReceiptSummary | null = null
      for (const a of [...attempts].reverse()) {
        receipt = await receiptOf(client, a.hash)
        if (receipt) break
      }
      const fields = { tx_id: String(tx.id), nonce: tx.nonce, from }
      if (!receipt) {
        // The nonce is used at least `required` blocks deep and none of our attempts is in a
        // block: another transaction from this key (sent elsewhere) took it.
        const depthBlock = latest - BigInt(required) + 1n
        if (depthBlock < 0n) continue
        let used = nonceAtDepth.get(required)
        if (used === undefined) {
          used = await nonceAt(client, from, depthBlock)
          nonceAtDepth.set(required, used)
        }
        if (tx.nonce! < used) {
          const error = `nonce ${tx.nonce} was used by a transaction this node did not send`
          await markFatal(db, tx.id, error)
          metrics.fatal.inc(label)
          log.error(fields, error)
        }
        continue
      }
      const depth = latest - BigInt(receipt.blockNumber) + 1n
      if (depth < BigInt(required)) continue
      const hashFields = { ...fields, hash: receipt.transactionHash, block: receipt.blockNumber }
      if (receipt.status === 'success') {
        await markFinal(db, tx.id, { state: 'confirmed', receipt })
        metrics.confirmations.inc(label)
        log.info(hashFields, 'transaction confirmed')
      } else {
        let reason: string | null = null
        try {
          reason = await revertReason(client, {
            from: tx.from,
            to: tx.to,
            data: tx.data,
            value: tx.value,
            gasLimit: tx.gasLimit,
            blockNumber: BigInt(receipt.blockNumber),
            abi: options.errorAbi,
          })
        } catch (err) {
          log.warn({ ...hashFields, err: errorMessage(err) }, 'revert reason unavailable')
        }
        if (reason === null && BigInt(receipt.gasUsed) >= tx.gasLimit) {
          reason = `out of gas (used all ${tx.gasLimit})`
        }
        await markFinal(db, tx.id, { state: 'reverted', receipt, revertReason: reason })
        metrics.reverts.inc(label)
        log.warn({ ...hashFields, revert_reason: reason }, 'transaction reverted')
      }
    }
    return latestNonce
  }

  /** Replacements for transactions stuck too long, and re-sends of ones the pool lost. */
  async function bumpAndResend(
    from: Address,
    ks: KeyState,
    latestNonce: number,
    ctx: TickContext,
  ): Promise<void> {
    const open = (await unconfirmedTxs(db, chainId, from)).filter(
      (t) => t.nonce !== null && t.nonce >= latestNonce,
    )
    for (const tx of open) {
      const attempts = await attemptsOf(db, tx.id)
      const last = attempts.at(-1)
      if (!last || !attempts.some((a) => a.state === 'broadcast')) continue // first send pending
      if (last.state === 'in_progress') {
        // A replacement persisted but not accepted yet (refused, or the process stopped).
        if (await send(tx, last, ks, ctx, 'bump')) metrics.bumps.inc(label)
        continue
      }
      const waited = ctx.head.number - (last.broadcastBlock ?? ctx.head.number)
      if (waited >= BigInt(options.bumpAfterBlocks)) {
        const decision = bumpFees({
          previous: last,
          baseFee: ctx.head.baseFee,
          priorityFee: await ctx.priorityFee(),
          bumpPercent: options.bumpPercent,
          feeCap: feeCapWei,
        })
        if (decision.ok) {
          const attempt = await signAndPersist(tx, decision.fees)
          if (await send(tx, attempt, ks, ctx, 'bump')) {
            metrics.bumps.inc(label)
            log.info(
              { tx_id: String(tx.id), nonce: tx.nonce, hash: attempt.hash, from, blocks: waited },
              'transaction bumped',
            )
          }
          continue
        }
        if (tx.error !== decision.error) {
          await setError(db, tx.id, decision.error)
          log.warn({ tx_id: String(tx.id), nonce: tx.nonce, hash: last.hash, from }, decision.error)
        }
      }
      // Below the base fee the node would refuse it and no block would include it: wait.
      if (last.maxFeePerGas < ctx.head.baseFee) continue
      if (!(await isKnown(client, last.hash))) {
        log.info({ tx_id: String(tx.id), nonce: tx.nonce, hash: last.hash, from }, 're-sending')
        await send(tx, last, ks, ctx, 'resend')
      }
    }
  }

  async function processKey(from: Address, ctx: TickContext): Promise<void> {
    let ks = await keyState(db, chainId, from)
    if (!ks) ks = await initKeyState(db, chainId, from, await nonceAt(client, from, 'pending'))
    await sendQueued(from, ks, ctx)
    const latestNonce = await checkReceipts(from)
    await bumpAndResend(from, ks, latestNonce, ctx)
  }

  async function runTick(): Promise<void> {
    const senders = await activeSenders(db, chainId)
    if (senders.length === 0) return
    const head = await latestHead(client)
    let fee: Promise<bigint> | undefined
    const ctx: TickContext = {
      head,
      priorityFee: () => {
        fee ??= priorityFee(client, head.baseFee)
        return fee
      },
    }
    const failures: unknown[] = []
    for (const from of senders) {
      if (!keys.has(from)) {
        if (!unknownSenders.has(from)) log.warn({ from }, 'transactions from a key not held here')
        unknownSenders.add(from)
        continue
      }
      try {
        await processKey(from, ctx)
      } catch (err) {
        failures.push(err)
        log.error({ from, err: errorMessage(err) }, 'transaction manager pass failed for key')
      }
    }
    if (failures.length > 0) {
      throw new TxmError(`transaction manager pass failed for ${failures.length} key(s)`, {
        cause: failures[0],
        retryable: true,
      })
    }
  }

  let queue: Promise<void> = Promise.resolve()
  function tick(): Promise<void> {
    const run = queue.then(runTick)
    queue = run.catch(() => {})
    return run
  }

  let timer: NodeJS.Timeout | undefined
  let running = false
  function start(intervalMs: number): void {
    if (running) return
    running = true
    const loop = async () => {
      try {
        await tick()
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'transaction manager tick failed')
      }
      if (running) {
        timer = setTimeout(loop, intervalMs)
        timer.unref()
      }
    }
    timer = setTimeout(loop, 0)
    timer.unref()
  }

  async function stop(): Promise<void> {
    running = false
    if (timer) clearTimeout(timer)
    timer = undefined
    await queue
  }

  return {
    enqueue,
    tick,
    start,
    stop,
    get: async (id) => withAttempts(await txById(db, id)),
    byIdempotencyKey: async (key) => withAttempts(await txByIdempotencyKey(db, key)),
  }
}
