import { type Address, getAddress, type Hex } from 'viem'
import type { Queryable, Row } from '../store/db.ts'
import { TxmError } from './errors.ts'
import type { Attempt, Fees, ReceiptSummary, Tx, TxState, TxWithAttempts } from './types.ts'

/**
 * The transaction manager's rows: `eth_txes`, `eth_tx_attempts`, `key_states`. Every function
 * takes the `Queryable` to run on, so callers choose the transaction.
 */

const big = (v: unknown): bigint => BigInt(v as string | number | bigint)
const num = (v: unknown): number => Number(v)
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)))
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v))

function receiptOf(v: unknown): ReceiptSummary | null {
  if (v === null || v === undefined) return null
  return (typeof v === 'string' ? JSON.parse(v) : v) as ReceiptSummary
}

export function txFromRow(r: Row): Tx {
  return {
    id: big(r.id),
    chainId: num(r.chain_id),
    from: getAddress(String(r.from_address)),
    to: getAddress(String(r.to_address)),
    data: r.data as Hex,
    value: big(r.value),
    gasLimit: big(r.gas_limit),
    nonce: r.nonce === null || r.nonce === undefined ? null : num(r.nonce),
    state: r.state as TxState,
    idempotencyKey: (r.idempotency_key as string | null) ?? null,
    minConfirmations: num(r.min_confirmations),
    error: (r.error as string | null) ?? null,
    revertReason: (r.revert_reason as string | null) ?? null,
    receipt: receiptOf(r.receipt),
    createdAt: date(r.created_at),
    broadcastAt: dateOrNull(r.broadcast_at),
    confirmedAt: dateOrNull(r.confirmed_at),
  }
}

export function attemptFromRow(r: Row): Attempt {
  return {
    id: big(r.id),
    txId: big(r.eth_tx_id),
    hash: r.hash as Hex,
    signedRaw: r.signed_raw as Hex,
    maxFeePerGas: big(r.max_fee_per_gas),
    maxPriorityFeePerGas: big(r.max_priority_fee_per_gas),
    state: r.state as Attempt['state'],
    broadcastBlock:
      r.broadcast_block === null || r.broadcast_block === undefined ? null : big(r.broadcast_block),
    createdAt: date(r.created_at),
  }
}

export type InsertTx = {
  chainId: number
  from: Address
  to: Address
  data: Hex
  value: bigint
  gasLimit: bigint
  minConfirmations: number
  idempotencyKey: string
}

/** Inserts an `unstarted` transaction, or returns the one with the same idempotency key. */
export async function insertTx(q: Queryable, t: InsertTx): Promise<{ tx: Tx; created: boolean }> {
  const [result] = await insertTxs(q, [t])
  return result!
}

/**
 * `insertTx` for several transactions in one statement (plus one to read those whose key was
 * taken); results in the order given. Within the list, the first of a key creates it.
 */
export async function insertTxs(
  q: Queryable,
  list: readonly InsertTx[],
): Promise<{ tx: Tx; created: boolean }[]> {
  if (list.length === 0) return []
  const inserted = await q.query(
    `INSERT INTO eth_txes (chain_id, from_address, to_address, data, value, gas_limit, state,
       idempotency_key, min_confirmations)
     VALUES ${list.map((_, i) => `($${8 * i + 1}, $${8 * i + 2}, $${8 * i + 3}, $${8 * i + 4}, $${8 * i + 5}, $${8 * i + 6}, 'unstarted', $${8 * i + 7}, $${8 * i + 8})`).join(', ')}
     ON CONFLICT (idempotency_key) DO NOTHING
     RETURNING *`,
    list.flatMap((t) => [
      t.chainId,
      t.from,
      t.to,
      t.data,
      t.value,
      t.gasLimit,
      t.idempotencyKey,
      t.minConfirmations,
    ]),
  )
  const created = new Map(inserted.map((r) => [String(r.idempotency_key), txFromRow(r)]))
  const missing = [...new Set(list.map((t) => t.idempotencyKey))].filter((k) => !created.has(k))
  const existing = new Map<string, Tx>()
  if (missing.length > 0) {
    const rows = await q.query('SELECT * FROM eth_txes WHERE idempotency_key = ANY($1::text[])', [
      missing,
    ])
    for (const r of rows) existing.set(String(r.idempotency_key), txFromRow(r))
  }
  return list.map((t) => {
    const fresh = created.get(t.idempotencyKey)
    if (fresh) {
      created.delete(t.idempotencyKey)
      existing.set(t.idempotencyKey, fresh)
      return { tx: fresh, created: true }
    }
    const tx = existing.get(t.idempotencyKey)
    if (!tx) {
      throw new TxmError('the idempotency key conflicted but no transaction holds it', {
        retryable: true,
      })
    }
    return { tx, created: false }
  })
}

export async function txById(q: Queryable, id: bigint): Promise<Tx | undefined> {
  const [r] = await q.query('SELECT * FROM eth_txes WHERE id = $1', [id])
  return r ? txFromRow(r) : undefined
}

export async function txByIdempotencyKey(q: Queryable, key: string): Promise<Tx | undefined> {
  const [r] = await q.query('SELECT * FROM eth_txes WHERE idempotency_key = $1', [key])
  return r ? txFromRow(r) : undefined
}

/** A transaction's attempts, oldest first. */
export async function attemptsOf(q: Queryable, txId: bigint): Promise<Attempt[]> {
  const rows = await q.query('SELECT * FROM eth_tx_attempts WHERE eth_tx_id = $1 ORDER BY id', [
    txId,
  ])
  return rows.map(attemptFromRow)
}

/** The attempts of several transactions, oldest first, by transaction id. */
export async function attemptsOfMany(
  q: Queryable,
  txIds: readonly bigint[],
): Promise<Map<bigint, Attempt[]>> {
  const byTx = new Map<bigint, Attempt[]>(txIds.map((id) => [id, []]))
  if (txIds.length === 0) return byTx
  const rows = await q.query(
    'SELECT * FROM eth_tx_attempts WHERE eth_tx_id = ANY($1::bigint[]) ORDER BY id',
    [txIds.map(String)],
  )
  for (const row of rows) {
    const a = attemptFromRow(row)
    byTx.get(a.txId)?.push(a)
  }
  return byTx
}

/** `unconfirmed` transactions of `from` by nonce, each with its attempts (two statements). */
export async function unconfirmedWithAttempts(
  q: Queryable,
  chainId: number,
  from: Address,
): Promise<TxWithAttempts[]> {
  const txs = await unconfirmedTxs(q, chainId, from)
  const attempts = await attemptsOfMany(
    q,
    txs.map((t) => t.id),
  )
  return txs.map((t) => ({ ...t, attempts: attempts.get(t.id) ?? [] }))
}

/** Senders with work left (unstarted or unconfirmed transactions) on the chain. */
export async function activeSenders(q: Queryable, chainId: number): Promise<Address[]> {
  const rows = await q.query<{ from_address: string }>(
    `SELECT DISTINCT from_address FROM eth_txes
     WHERE chain_id = $1 AND state IN ('unstarted', 'unconfirmed') ORDER BY from_address`,
    [chainId],
  )
  return rows.map((r) => getAddress(r.from_address))
}

/** Keys switched off for the chain (`key_states.disabled`), checksummed. */
export async function disabledKeys(q: Queryable, chainId: number): Promise<Set<Address>> {
  const rows = await q.query<{ address: string }>(
    'SELECT address FROM key_states WHERE chain_id = $1 AND disabled',
    [chainId],
  )
  return new Set(rows.map((r) => getAddress(r.address)))
}

export type KeyState = {
  /** The address as `eth_keys` spells it (the foreign key). */
  dbAddress: string
  nextNonce: number
  disabled: boolean
}

export async function keyState(
  q: Queryable,
  chainId: number,
  from: Address,
): Promise<KeyState | undefined> {
  const [r] = await q.query(
    `SELECT address, next_nonce, disabled FROM key_states
     WHERE lower(address) = lower($1) AND chain_id = $2`,
    [from, chainId],
  )
  return r
    ? { dbAddress: String(r.address), nextNonce: num(r.next_nonce), disabled: r.disabled === true }
    : undefined
}

/**
 * Creates the key's nonce sequence on the chain, starting at `chainNonce` (the chain's pending
 * nonce) or after the highest nonce already used, whichever is higher. A no-op when it exists.
 */
export async function initKeyState(
  q: Queryable,
  chainId: number,
  from: Address,
  chainNonce: number,
): Promise<KeyState> {
  const [key] = await q.query<{ address: string }>(
    'SELECT address FROM eth_keys WHERE lower(address) = lower($1)',
    [from],
  )
  if (!key) {
    throw new TxmError(`key ${from} is not in eth_keys`, {
      details: 'import the key into the node before sending from it',
    })
  }
  await q.query(
    `INSERT INTO key_states (address, chain_id, next_nonce)
     SELECT $1, $2, GREATEST($3::bigint, COALESCE(MAX(nonce) + 1, 0))
       FROM eth_txes WHERE chain_id = $2 AND lower(from_address) = lower($1)
     ON CONFLICT (address, chain_id) DO NOTHING`,
    [key.address, chainId, chainNonce],
  )
  const state = await keyState(q, chainId, from)
  if (!state) throw new TxmError(`key state for ${from} vanished`, { retryable: true })
  return state
}

export type AssignNonces = {
  chainId: number
  from: Address
  dbAddress: string
  /** Moves the sequence forward first (the chain's pending nonce when the key was used elsewhere). */
  atLeast?: number | undefined
  /** Most transactions to give a nonce to (default 1). */
  limit?: number
  /**
   * The latest block's gas limit: an `unstarted` transaction asking for more can never be
   * mined; it fails (`fatal_error`, no nonce) instead of taking a nonce.
   */
  blockGasLimit?: bigint | undefined
}

/**
 * Gives the next nonces to the oldest `unstarted` transactions of `from`, in one statement that
 * also advances `next_nonce` (row-locked): no gap, no duplicate. Returns the transactions, now
 * `unconfirmed`, by nonce (empty when none waits), and those refused for their gas limit.
 */
export async function assignNonces(
  q: Queryable,
  params: AssignNonces,
): Promise<{ assigned: Tx[]; refused: Tx[] }> {
  const limit = params.limit ?? 1
  if (!Number.isSafeInteger(limit) || limit < 1) throw new TxmError(`invalid nonce batch ${limit}`)
  const gasCap = params.blockGasLimit ?? null
  const rows = await q.query(
    `WITH ks AS (
       SELECT GREATEST(next_nonce, $4::bigint) AS base FROM key_states
       WHERE address = $1 AND chain_id = $2 FOR UPDATE),
     too_big AS (
       UPDATE eth_txes SET state = 'fatal_error',
         error = 'gas limit ' || gas_limit || ' exceeds the block gas limit ' || $6::numeric || '; never sent'
       WHERE chain_id = $2 AND from_address = $3 AND state = 'unstarted'
         AND $6::numeric IS NOT NULL AND gas_limit > $6::numeric
       RETURNING *),
     picked AS (
       SELECT id FROM eth_txes
       WHERE chain_id = $2 AND from_address = $3 AND state = 'unstarted'
         AND ($6::numeric IS NULL OR gas_limit <= $6::numeric)
       ORDER BY id LIMIT $5 FOR UPDATE),
     numbered AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn FROM picked),
     advanced AS (
       UPDATE key_states SET next_nonce = (SELECT base FROM ks) + (SELECT count(*) FROM numbered)
       WHERE address = $1 AND chain_id = $2 AND EXISTS (SELECT 1 FROM numbered)
       RETURNING next_nonce),
     assigned AS (
       UPDATE eth_txes t SET nonce = ks.base + numbered.rn, state = 'unconfirmed', error = NULL
       FROM numbered, ks WHERE t.id = numbered.id AND EXISTS (SELECT 1 FROM advanced)
       RETURNING t.*)
     SELECT 'assigned' AS outcome, * FROM assigned
     UNION ALL SELECT 'refused' AS outcome, * FROM too_big`,
    [params.dbAddress, params.chainId, params.from, params.atLeast ?? 0, limit, gasCap],
  )
  const assigned = rows.filter((r) => r.outcome === 'assigned').map(txFromRow)
  return {
    assigned: assigned.sort((a, b) => a.nonce! - b.nonce!),
    refused: rows.filter((r) => r.outcome === 'refused').map(txFromRow),
  }
}

/** `assignNonces` for one transaction. */
export async function assignNextNonce(
  q: Queryable,
  params: Omit<AssignNonces, 'limit'>,
): Promise<Tx | undefined> {
  const { assigned } = await assignNonces(q, { ...params, limit: 1 })
  return assigned[0]
}
/** `unconfirmed` transactions of `from`, by nonce. */
export async function unconfirmedTxs(q: Queryable, chainId: number, from: Address): Promise<Tx[]> {
  const rows = await q.query(
    `SELECT * FROM eth_txes WHERE chain_id = $1 AND from_address = $2 AND state = 'unconfirmed'
     ORDER BY nonce`,
    [chainId, from],
  )
  return rows.map(txFromRow)
}

export type NewAttempt = { txId: bigint; hash: Hex; signedRaw: Hex; fees: Fees }

/** Persists a signed attempt (`in_progress`) before anything is sent. */
export async function insertAttempt(q: Queryable, a: NewAttempt): Promise<Attempt> {
  const [attempt] = await insertAttempts(q, [a])
  return attempt!
}

/** Persists signed attempts (`in_progress`) in one statement; returned in the order given. */
export async function insertAttempts(
  q: Queryable,
  list: readonly NewAttempt[],
): Promise<Attempt[]> {
  if (list.length === 0) return []
  const rows = await q.query(
    `INSERT INTO eth_tx_attempts (eth_tx_id, hash, signed_raw, max_fee_per_gas,
       max_priority_fee_per_gas, state)
     VALUES ${list.map((_, i) => `($${5 * i + 1}, $${5 * i + 2}, $${5 * i + 3}, $${5 * i + 4}, $${5 * i + 5}, 'in_progress')`).join(', ')}
     RETURNING *`,
    list.flatMap((a) => [
      a.txId,
      a.hash,
      a.signedRaw,
      a.fees.maxFeePerGas,
      a.fees.maxPriorityFeePerGas,
    ]),
  )
  const byHash = new Map(rows.map((r) => [String(r.hash), attemptFromRow(r)]))
  return list.map((a) => byHash.get(a.hash)!)
}

/**
 * The node accepted these attempts (or already had them), `block` being the latest block then:
 * one statement for the attempts and their transactions.
 */
export async function markBroadcast(
  q: Queryable,
  attempts: readonly Attempt[],
  block: bigint,
): Promise<void> {
  if (attempts.length === 0) return
  await q.query(
    `WITH a AS (
       UPDATE eth_tx_attempts SET state = 'broadcast', broadcast_block = COALESCE(broadcast_block, $2)
       WHERE id = ANY($1::bigint[]) RETURNING eth_tx_id)
     UPDATE eth_txes SET broadcast_at = COALESCE(broadcast_at, now()), error = NULL
     WHERE id IN (SELECT eth_tx_id FROM a)`,
    [attempts.map((a) => String(a.id)), block],
  )
}

/** Drops an attempt the node refused outright (it is in no pool). */
export async function deleteAttempt(q: Queryable, attempt: Attempt): Promise<void> {
  await q.query("DELETE FROM eth_tx_attempts WHERE id = $1 AND state = 'in_progress'", [attempt.id])
}

export async function setError(q: Queryable, txId: bigint, error: string | null): Promise<void> {
  await q.query('UPDATE eth_txes SET error = $2 WHERE id = $1', [txId, error])
}

export type FinalOutcome = {
  txId: bigint
  state: 'confirmed' | 'reverted'
  receipt: ReceiptSummary
  revertReason?: string | null
}

/** Records final outcomes (one statement for all); a transaction no longer unconfirmed is left. */
export async function markFinal(q: Queryable, outcomes: readonly FinalOutcome[]): Promise<void> {
  if (outcomes.length === 0) return
  await q.query(
    `UPDATE eth_txes t SET state = v.state, receipt = v.receipt::jsonb, revert_reason = v.reason,
       error = NULL, confirmed_at = now()
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS v(id, state, receipt, reason)
     WHERE t.id = v.id AND t.state = 'unconfirmed'`,
    [
      outcomes.map((o) => String(o.txId)),
      outcomes.map((o) => o.state),
      outcomes.map((o) => JSON.stringify(o.receipt)),
      outcomes.map((o) => o.revertReason ?? null),
    ],
  )
}

/** The transaction will never be mined under its nonce; it keeps the nonce it had. */
export async function markFatal(q: Queryable, txId: bigint, error: string): Promise<void> {
  await q.query(
    "UPDATE eth_txes SET state = 'fatal_error', error = $2 WHERE id = $1 AND state = 'unconfirmed'",
    [txId, error],
  )
}

/**
 * A transaction the node refused outright before it was ever in a pool: fails it and gives its
 * nonce back, which is possible only while it is the key's last assigned nonce (the manager
 * assigns a nonce only after the previous one was accepted). Returns whether it did.
 */
export async function releaseNonceAndFail(
  q: Queryable,
  params: { tx: Tx; dbAddress: string; error: string },
): Promise<boolean> {
  const { tx } = params
  const [ks] = await q.query(
    'SELECT next_nonce FROM key_states WHERE address = $1 AND chain_id = $2 FOR UPDATE',
    [params.dbAddress, tx.chainId],
  )
  if (!ks || tx.nonce === null || num(ks.next_nonce) !== tx.nonce + 1) return false
  const [broadcast] = await q.query(
    "SELECT 1 FROM eth_tx_attempts WHERE eth_tx_id = $1 AND state = 'broadcast' LIMIT 1",
    [tx.id],
  )
  if (broadcast) return false
  await q.query('DELETE FROM eth_tx_attempts WHERE eth_tx_id = $1', [tx.id])
  await q.query(
    "UPDATE eth_txes SET state = 'fatal_error', nonce = NULL, error = $2 WHERE id = $1",
    [tx.id, params.error],
  )
  await q.query('UPDATE key_states SET next_nonce = $3 WHERE address = $1 AND chain_id = $2', [
    params.dbAddress,
    tx.chainId,
    tx.nonce,
  ])
  return true
}

/** Idempotency keys of the no-op transactions that fill a refused transaction's nonce. */
export const FILLER_KEY_PREFIX = 'nonce-filler/'

/** The idempotency key of the no-op transaction that fills `nonce` of `from`. */
export const fillerKey = (chainId: number, from: Address, nonce: number) =>
  `${FILLER_KEY_PREFIX}${chainId}/${from}/${nonce}`

/**
 * A transaction the node refused outright whose nonce cannot be given back (later nonces of the
 * key may already be in a pool): it fails, and a no-op transaction (0 value to itself, 21000
 * gas) takes its nonce so the later ones can be mined. Returns the filler, `unconfirmed`.
 */
export async function failAndFill(
  q: Queryable,
  params: { tx: Tx; error: string },
): Promise<Tx | undefined> {
  const { tx } = params
  if (tx.nonce === null) return undefined
  const failed = await q.query(
    `UPDATE eth_txes SET state = 'fatal_error', nonce = NULL, error = $2
     WHERE id = $1 AND state = 'unconfirmed' RETURNING id`,
    [tx.id, params.error],
  )
  if (failed.length === 0) return undefined
  await q.query("DELETE FROM eth_tx_attempts WHERE eth_tx_id = $1 AND state = 'in_progress'", [
    tx.id,
  ])
  const [row] = await q.query(
    `INSERT INTO eth_txes (chain_id, from_address, to_address, data, value, gas_limit, state,
       nonce, idempotency_key, min_confirmations)
     VALUES ($1, $2, $2, '0x', 0, 21000, 'unconfirmed', $3, $4, 0)
     RETURNING *`,
    [tx.chainId, tx.from, tx.nonce, fillerKey(tx.chainId, tx.from, tx.nonce)],
  )
  return txFromRow(row!)
}
