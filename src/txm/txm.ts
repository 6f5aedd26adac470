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
import { createGroupCommit } from '../store/group-commit.ts'
import { classifySendError, nodeMessage, type SendOutcome } from './classify.ts'
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
  assignNonces,
  attemptsOf,
  deleteAttempt,
  disabledKeys,
  FILLER_KEY_PREFIX,
  type FinalOutcome,
  failAndFill,
  type InsertTx,
  initKeyState,
  insertAttempts,
  insertTx,
  insertTxs,
  type KeyState,
  keyState,
  markBroadcast,
  markFatal,
  markFinal,
  type NewAttempt,
  releaseNonceAndFail,
  setError,
  txById,
  txByIdempotencyKey,
  unconfirmedWithAttempts,
} from './store.ts'
import type { Attempt, Fees, ReceiptSummary, Tx, TxRequest, TxWithAttempts } from './types.ts'

/** How long a key's state (its `disabled` flag) is trusted before it is read again. */
const KEY_STATE_TTL_MS = 1000

/** Receipts asked for at once. */
const RECEIPT_CONCURRENCY = 16

const maxB = (a: bigint, b: bigint) => (a > b ? a : b)

/** `fn` over `items`, at most `limit` at a time; results in order. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

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
  /** Least time between the starts of two ticks woken by `wake()` (default 5 ms). */
  minTickGapMs?: number | undefined
  /** Most `unconfirmed` transactions per key at once (default 64). */
  maxInFlight?: number | undefined
  /** Custom errors to decode revert reasons with, besides those of Orakel's contracts. */
  errorAbi?: Abi | undefined
}

export type Txm = {
  /**
   * Queues a transaction (`unstarted`), in `tx` when given so it commits with the caller's
   * work (then call `wake()` after the commit). Without `tx` the running manager is woken.
   * The same idempotency key returns the existing transaction (`created: false`).
   */
  enqueue(req: TxRequest, tx?: Queryable): Promise<{ id: bigint; created: boolean }>
  /** One pass over every key with work: nonces, attempts, receipts, bumps, re-sends. */
  tick(): Promise<void>
  /** Runs `tick()` every `intervalMs` until `stop()`; errors are logged, not thrown. */
  start(intervalMs: number): void
  /** Asks the running manager for a tick now (coalesced with one under way). */
  wake(): void
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
  /** The head at which the newest attempt of a pending transaction was last looked up. */
  const lostChecked = new Map<bigint, bigint>()
  /** Attempts this process persisted and has not tried to send yet: safe to drop if refused. */
  const neverSent = new Set<bigint>()
  const unknownSenders = new Set<Address>()

  const withAttempts = async (tx: Tx | undefined) =>
    tx ? { ...tx, attempts: await attemptsOf(db, tx.id) } : undefined

  /** Transactions queued outside a caller's transaction are inserted together. */
  const inserting = createGroupCommit((list: InsertTx[]) => insertTxs(db, list))

  async function enqueue(req: TxRequest, q?: Queryable) {
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
    } else if (keys.size === 1) {
      // No choice to make (a disabled key's transactions wait for it to be enabled).
      from = keys.keys().next().value!
    } else {
      const disabled = await disabledKeys(q ?? db, chainId)
      const enabled = [...keys.keys()].filter((k) => !disabled.has(k))
      if (enabled.length === 0) throw new TxmError(`no enabled key for chain ${chainId}`)
      from = enabled[roundRobin++ % enabled.length]!
    }
    const to = getAddress(req.to)
    const row: InsertTx = {
      chainId,
      from,
      to,
      data,
      value,
      gasLimit,
      minConfirmations,
      idempotencyKey: req.idempotencyKey,
    }
    const { tx, created } = q ? await insertTx(q, row) : await inserting.add(row)
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

  /** Signs each transaction (all have nonces) at `fees` and persists the attempts at once. */
  async function signAndPersist(txs: readonly Tx[], fees: Fees): Promise<Attempt[]> {
    const signed: NewAttempt[] = []
    for (const tx of txs) {
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
      signed.push({ txId: tx.id, hash: keccak256(signedRaw), signedRaw, fees })
    }
    const attempts = await insertAttempts(db, signed)
    for (const [i, attempt] of attempts.entries()) {
      neverSent.add(attempt.id)
      const tx = txs[i]!
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
    }
    return attempts
  }

  type Sending = { tx: Tx; attempt: Attempt; kind: SendKind }

  /**
   * Sends attempts (at once: the node orders a key's transactions by nonce itself) and records
   * what the node said: the accepted ones in one statement, each refusal on its own. Returns,
   * per attempt, whether it is (now or already) accepted.
   */
  async function sendAll(items: readonly Sending[], ks: KeyState, ctx: TickContext) {
    const answers = await Promise.all(
      items.map(async ({ attempt }) => {
        const fresh = neverSent.delete(attempt.id)
        try {
          await sendRaw(client, attempt.signedRaw)
          return { fresh, outcome: 'accepted' as SendOutcome, message: '' }
        } catch (err) {
          return { fresh, outcome: classifySendError(err), message: nodeMessage(err) }
        }
      }),
    )
    const accepted = (i: number) =>
      answers[i]!.outcome === 'accepted' || answers[i]!.outcome === 'nonce_too_low'
    // "nonce too low" for our own bytes: mined already, or another transaction took the
    // nonce. The receipt check of every attempt tells which.
    await markBroadcast(
      db,
      items
        .filter((it, i) => accepted(i) && it.attempt.state === 'in_progress')
        .map((it) => it.attempt),
      ctx.head.number,
    )
    const result: boolean[] = []
    for (const [i, { tx, attempt, kind }] of items.entries()) {
      const { outcome, message, fresh } = answers[i]!
      const fields = {
        tx_id: String(tx.id),
        nonce: tx.nonce,
        hash: attempt.hash,
        from: tx.from,
        kind,
      }
      if (accepted(i)) {
        if (outcome === 'accepted') metrics.broadcasts.inc(label)
        log.info({ ...fields, answer: message || 'ok' }, 'attempt broadcast')
        result.push(true)
      } else {
        await refused({ tx, attempt, kind }, { outcome, message, fresh }, ks, ctx, fields)
        result.push(false)
      }
    }
    return result
  }

  /** Records a refusal of `eth_sendRawTransaction`. */
  async function refused(
    { tx, attempt, kind }: Sending,
    answer: { outcome: SendOutcome; message: string; fresh: boolean },
    ks: KeyState,
    ctx: TickContext,
    fields: Record<string, unknown>,
  ): Promise<void> {
    const { message } = answer
    switch (answer.outcome) {
      case 'underpriced': {
        if (attempt.state === 'in_progress' && answer.fresh) {
          // Never sent before and refused now: it is in no pool; drop it.
          await deleteAttempt(db, attempt)
        } else if (attempt.state === 'in_progress') {
          // Persisted by an earlier run that may have sent it: keep its hash for receipts.
          await markBroadcast(db, [attempt], ctx.head.number)
        }
        await setError(db, tx.id, `the node refused attempt ${attempt.hash}: ${message}`)
        log.warn({ ...fields, err: message }, 'attempt refused for its fees')
        return
      }
      case 'fatal': {
        if (kind === 'first' && !tx.idempotencyKey?.startsWith(FILLER_KEY_PREFIX)) {
          const error = `the node refused the transaction: ${message}`
          // The nonce goes back when it is the key's last; otherwise later nonces may be in a
          // pool already, and a no-op transaction takes it.
          const released = await db.transaction((q) =>
            releaseNonceAndFail(q, { tx, dbAddress: ks.dbAddress, error }),
          )
          if (released) {
            metrics.fatal.inc(label)
            log.error({ ...fields, err: message }, 'transaction failed; nonce released')
            return
          }
          const filler = await db.transaction((q) => failAndFill(q, { tx, error }))
          if (filler) {
            metrics.fatal.inc(label)
            log.error(
              { ...fields, err: message, filler_tx_id: String(filler.id) },
              'transaction failed; a no-op transaction takes its nonce',
            )
            return
          }
        } else if (attempt.state === 'in_progress') {
          await deleteAttempt(db, attempt)
        }
        await setError(db, tx.id, `the node refused attempt ${attempt.hash}: ${message}`)
        log.error({ ...fields, err: message }, 'attempt refused')
        return
      }
      default: {
        await setError(db, tx.id, `sending failed, will retry: ${message}`)
        log.warn({ ...fields, err: message }, 'sending failed; will retry')
      }
    }
  }

  /** The fees of a first attempt now, or the reason there are none. */
  async function firstFees(ctx: TickContext) {
    return initialFees({
      baseFee: ctx.head.baseFee,
      priorityFee: await ctx.priorityFee(),
      feeCap: feeCapWei,
    })
  }

  /**
   * Nonce assignment and first attempts. Transactions holding a nonce that no node accepted yet
   * go first, one after the other, stopping at the first refusal; then the oldest queued ones
   * get the next nonces together (up to `maxInFlight` unconfirmed), are signed, persisted in
   * one statement and sent together. Returns whether the in-flight window left queued ones
   * waiting (so that a pass which then confirms some can send again).
   */
  async function sendQueued(
    from: Address,
    ks: KeyState,
    ctx: TickContext,
    open: readonly TxWithAttempts[],
  ): Promise<boolean> {
    const waiting = open.filter((t) => !t.attempts.some((a) => a.state === 'broadcast'))
    for (const tx of waiting) {
      // By construction at most one attempt exists here, in_progress (persisted, maybe sent by
      // a run that crashed): send those exact bytes again.
      let attempt = tx.attempts.at(-1)
      if (!attempt) {
        const decision = await firstFees(ctx)
        if (!decision.ok) {
          await waitForFees([tx], decision.error)
          return false
        }
        ;[attempt] = await signAndPersist([tx], decision.fees)
      }
      const [ok] = await sendAll([{ tx, attempt: attempt!, kind: 'first' }], ks, ctx)
      if (!ok) return false
    }
    if (ks.disabled) return false
    const room = maxInFlight - open.length
    if (room <= 0) return true
    // Idle key: catch up with nonces used outside this node.
    const atLeast = open.length === 0 ? await nonceAt(client, from, 'pending') : undefined
    const { assigned, refused: tooBig } = await assignNonces(db, {
      chainId,
      from,
      dbAddress: ks.dbAddress,
      atLeast,
      limit: room,
      blockGasLimit: ctx.head.gasLimit,
    })
    for (const tx of tooBig) {
      metrics.fatal.inc(label)
      log.error({ tx_id: String(tx.id), from, err: tx.error }, 'transaction failed')
    }
    if (assigned.length === 0) return false
    for (const tx of assigned) {
      log.info({ tx_id: String(tx.id), nonce: tx.nonce, from }, 'nonce assigned')
    }
    const decision = await firstFees(ctx)
    if (!decision.ok) {
      await waitForFees(assigned, decision.error)
      return false
    }
    const attempts = await signAndPersist(assigned, decision.fees)
    await sendAll(
      assigned.map((tx, i) => ({ tx, attempt: attempts[i]!, kind: 'first' as const })),
      ks,
      ctx,
    )
    return assigned.length === room
  }

  async function waitForFees(txs: readonly Tx[], error: string): Promise<void> {
    for (const tx of txs) {
      if (tx.error !== error) await setError(db, tx.id, error)
      log.warn({ tx_id: String(tx.id), nonce: tx.nonce, from: tx.from }, error)
    }
  }

  /** A receipt of any of the attempts, newest first. */
  async function receiptOfAny(attempts: readonly Attempt[]): Promise<ReceiptSummary | null> {
    for (const a of [...attempts].reverse()) {
      const receipt = await receiptOf(client, a.hash)
      if (receipt) return receipt
    }
    return null
  }

  /**
   * Final outcomes for mined nonces (those below the key's nonce at the latest block): receipts
   * read together, outcomes written in one statement. Returns the ids it finalised.
   */
  async function checkReceipts(
    from: Address,
    mined: readonly TxWithAttempts[],
  ): Promise<Set<bigint>> {
    const done = new Set<bigint>()
    if (mined.length === 0) return done
    const latest = await blockNumber(client)
    const receipts = await mapLimit(mined, RECEIPT_CONCURRENCY, (tx) => receiptOfAny(tx.attempts))
    const nonceAtDepth = new Map<number, number>()
    const outcomes: FinalOutcome[] = []
    const logged: (() => void)[] = []
    for (const [i, tx] of mined.entries()) {
      const receipt = receipts[i]!
      const required = Math.max(1, options.confirmations, tx.minConfirmations)
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
          done.add(tx.id)
          metrics.fatal.inc(label)
          log.error(fields, error)
        }
        continue
      }
      const depth = latest - BigInt(receipt.blockNumber) + 1n
      if (depth < BigInt(required)) continue
      const hashFields = { ...fields, hash: receipt.transactionHash, block: receipt.blockNumber }
      done.add(tx.id)
      if (receipt.status === 'success') {
        outcomes.push({ txId: tx.id, state: 'confirmed', receipt })
        logged.push(() => {
          metrics.confirmations.inc(label)
          log.info(hashFields, 'transaction confirmed')
        })
        continue
      }
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
      outcomes.push({ txId: tx.id, state: 'reverted', receipt, revertReason: reason })
      logged.push(() => {
        metrics.reverts.inc(label)
        log.warn({ ...hashFields, revert_reason: reason }, 'transaction reverted')
      })
    }
    await markFinal(db, outcomes)
    for (const fn of logged) fn()
    return done
  }

  /** Replacements for transactions stuck too long, and re-sends of ones the pool lost. */
  async function bumpAndResend(
    from: Address,
    ks: KeyState,
    pending: readonly TxWithAttempts[],
    ctx: TickContext,
    /** The block at which the key's mined nonce last advanced (as this process saw it). */
    movedAt: bigint,
  ): Promise<void> {
    for (const [i, tx] of pending.entries()) {
      const { attempts } = tx
      const last = attempts.at(-1)
      if (!last || !attempts.some((a) => a.state === 'broadcast')) continue // first send pending
      // The lowest pending nonce: the one the chain needs next; the others wait behind it.
      const first = i === 0
      if (last.state === 'in_progress') {
        // A replacement persisted but not accepted yet (refused, or the process stopped).
        const [ok] = await sendAll([{ tx, attempt: last, kind: 'bump' }], ks, ctx)
        if (ok) metrics.bumps.inc(label)
        continue
      }
      // Stuck: nothing of this key was mined for bumpAfterBlocks blocks since it was sent (a
      // transaction queued behind others that are being mined is not stuck).
      const since = maxB(last.broadcastBlock ?? ctx.head.number, movedAt)
      const waited = ctx.head.number - since
      // Replaced: the first when it is stuck; any other only when no block could include it
      // now (its max fee is under the base fee), as it would otherwise be mined after the first.
      const replace = first || last.maxFeePerGas < ctx.head.baseFee
      if (replace && waited >= BigInt(options.bumpAfterBlocks)) {
        const decision = bumpFees({
          previous: last,
          baseFee: ctx.head.baseFee,
          priorityFee: await ctx.priorityFee(),
          bumpPercent: options.bumpPercent,
          feeCap: feeCapWei,
        })
        if (decision.ok) {
          const [attempt] = await signAndPersist([tx], decision.fees)
          const [ok] = await sendAll([{ tx, attempt: attempt!, kind: 'bump' }], ks, ctx)
          if (ok) {
            metrics.bumps.inc(label)
            log.info(
              { tx_id: String(tx.id), nonce: tx.nonce, hash: attempt!.hash, from, blocks: waited },
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
      // Below the base fee the node would refuse it and no block would include it: wait. Only
      // the first is looked up (a lost one further up is found when its turn comes).
      if (!first || last.maxFeePerGas < ctx.head.baseFee) continue
      // Asked once per attempt and head, not every tick.
      if (lostChecked.get(last.id) === ctx.head.number) continue
      lostChecked.set(last.id, ctx.head.number)
      if (!(await isKnown(client, last.hash))) {
        log.info({ tx_id: String(tx.id), nonce: tx.nonce, hash: last.hash, from }, 're-sending')
        await sendAll([{ tx, attempt: last, kind: 'resend' }], ks, ctx)
      }
    }
  }

  /** Per key: its nonce at the latest block, and the head when that was first seen. */
  const progress = new Map<Address, { nonce: number; block: bigint }>()

  /** Key states read at most once a second (only `dbAddress` and `disabled` are used). */
  const keyStates = new Map<Address, { ks: KeyState; at: number }>()
  async function cachedKeyState(from: Address): Promise<KeyState> {
    const cached = keyStates.get(from)
    if (cached && performance.now() - cached.at < KEY_STATE_TTL_MS) return cached.ks
    let ks = await keyState(db, chainId, from)
    if (!ks) ks = await initKeyState(db, chainId, from, await nonceAt(client, from, 'pending'))
    keyStates.set(from, { ks, at: performance.now() })
    return ks
  }

  async function processKey(from: Address, ctx: TickContext): Promise<void> {
    const ks = await cachedKeyState(from)
    let open = await unconfirmedWithAttempts(db, chainId, from)
    // New work goes out first, before the receipts of earlier work are looked at: that is
    // what the latency of an answer is made of.
    const full = await sendQueued(from, ks, ctx, open)
    if (open.length === 0) return
    // Attempts made just now for transactions that held a nonce without one (after a crash, or
    // a filler) are needed by the receipt check: read them back. Rare, so read only then.
    if (open.some((t) => !t.attempts.some((a) => a.state === 'broadcast'))) {
      open = await unconfirmedWithAttempts(db, chainId, from)
    }
    const before = open
    const latestNonce = await nonceAt(client, from, 'latest')
    const done = await checkReceipts(
      from,
      open.filter((t) => t.nonce !== null && t.nonce < latestNonce),
    )
    open = open.filter((t) => !done.has(t.id))
    // The key's queue moves while its mined nonce advances: count blocks from then.
    const moved = progress.get(from)
    if (moved?.nonce !== latestNonce) {
      // First sight (start, or the key just got work): if some of the open transactions were
      // mined meanwhile the queue is moving now (their blocks are the ones since the others
      // were sent); if none was, no constraint beyond the broadcast blocks (e.g. a transaction
      // stuck since before a restart).
      const queueMoved = before.some((t) => t.nonce !== null && t.nonce < latestNonce)
      progress.set(from, {
        nonce: latestNonce,
        block: moved || queueMoved ? ctx.head.number : 0n,
      })
    }
    await bumpAndResend(
      from,
      ks,
      open.filter((t) => t.nonce !== null && t.nonce >= latestNonce),
      ctx,
      progress.get(from)!.block,
    )
    const live = new Set(open.flatMap((t) => t.attempts.map((a) => a.id)))
    for (const id of lostChecked.keys()) if (!live.has(id)) lostChecked.delete(id)
    // The window was full and confirmations made room: fill it now rather than next pass.
    if (full && done.size > 0) {
      await sendQueued(from, ks, ctx, await unconfirmedWithAttempts(db, chainId, from))
    }
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
  let ticking = false
  /** A wake-up came during a tick: run the next one as soon as allowed. */
  let again = false
  let interval = 0
  let lastStart = Number.NEGATIVE_INFINITY
  /**
   * Ticks start at least this far apart, so that wake-ups under load gather work. Work queued
   * during a tick waits for it to end anyway; a longer gap only delayed it (at 40 ms, half of
   * an answer's latency under load was this wait).
   */
  const minGap = options.minTickGapMs ?? 5
  const schedule = (ms: number) => {
    if (timer) clearTimeout(timer)
    timer = setTimeout(loop, Math.max(0, ms))
    timer.unref()
  }
  const soon = () => lastStart + minGap - performance.now()
  async function loop(): Promise<void> {
    timer = undefined
    ticking = true
    again = false
    lastStart = performance.now()
    try {
      await tick()
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'transaction manager tick failed')
    }
    ticking = false
    if (running) schedule(again ? soon() : interval)
  }
  function start(intervalMs: number): void {
    if (running) return
    running = true
    interval = intervalMs
    schedule(0)
  }
  function wake(): void {
    if (!running) return
    if (ticking) again = true
    else schedule(soon())
  }

  async function stop(): Promise<void> {
    running = false
    if (timer) clearTimeout(timer)
    timer = undefined
    await queue
  }

  return {
    enqueue: async (req, q) => {
      const queued = await enqueue(req, q)
      // Committed already (no caller's transaction): send it now, not at the next poll. Inside
      // a caller's transaction the row is not visible yet: the caller wakes us after its commit.
      if (queued.created && q === undefined) wake()
      return queued
    },
    tick,
    start,
    wake,
    stop,
    get: async (id) => withAttempts(await txById(db, id)),
    byIdempotencyKey: async (key) => withAttempts(await txByIdempotencyKey(db, key)),
  }
}
