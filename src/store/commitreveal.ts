import type { Address, Hex } from 'viem'
import { parseJson, stringifyJson } from '../pipeline/json.ts'
import type { Db, Queryable } from './db.ts'

/**
 * commitreveal jobs: this node's part in each round of a CommitRevealAggregator
 * (`commitreveal_rounds`). A row is created when the round's `RoundStarted` log is delivered
 * (in the delivery transaction, so once per round) and moves
 * `observing → committed → revealed`, or ends `skipped` (the node did not commit) or `failed`
 * (it committed but could not reveal, or a transaction reverted). The value, salt and
 * commitment are written before the commit transaction is queued, in the same transaction.
 * `roundStatus` is what the node knows of the round itself.
 */

export type CommitRevealState = 'observing' | 'committed' | 'revealed' | 'skipped' | 'failed'
export type RoundStatus = 'open' | 'finalized' | 'failed' | 'unsettled'

export type RoundKey = { chainId: number; aggregator: Address; roundId: bigint }

export type NewRound = RoundKey & {
  jobId: bigint
  isFeed: boolean
  configVersion: number
  commitDeadline: bigint
  revealDeadline: bigint
  requestId?: Hex | undefined
  /** The pipeline's jobRun variables for this round. */
  inputs: Record<string, unknown>
}

export type CommitRevealRound = NewRound & {
  state: CommitRevealState
  reason: string | undefined
  oracle: Address | undefined
  value: bigint | undefined
  salt: Hex | undefined
  commitment: Hex | undefined
  commitTxId: bigint | undefined
  revealTxId: bigint | undefined
  settleTxId: bigint | undefined
  revealsOpen: boolean
  roundStatus: RoundStatus
  answer: bigint | undefined
  createdAt: Date
  committedAt: Date | undefined
  revealedAt: Date | undefined
  updatedAt: Date
}

export type CommitRevealRepository = {
  /** Records a round the job takes part in (state observing); false when it is already known. */
  insert(round: NewRound, tx?: Queryable): Promise<boolean>
  get(key: RoundKey, tx?: Queryable): Promise<CommitRevealRound | undefined>
  /**
   * The job's rounds the node still acts on, oldest first: open on chain as far as it knows,
   * or waiting for its own commit or reveal (a finalised round still takes reveals).
   */
  active(jobId: bigint): Promise<CommitRevealRound[]>
  /** The job's rounds, newest first. */
  listByJob(jobId: bigint, options?: { limit?: number }): Promise<CommitRevealRound[]>
  /** observing → committed, storing what opens the commitment. False if not observing. */
  committed(
    key: RoundKey,
    c: { oracle: Address; value: bigint; salt: Hex; commitment: Hex },
    tx?: Queryable,
  ): Promise<boolean>
  setCommitTx(key: RoundKey, txId: bigint, tx?: Queryable): Promise<void>
  /** committed → revealed with the reveal transaction. False if not committed. */
  revealed(key: RoundKey, revealTxId: bigint, tx?: Queryable): Promise<boolean>
  /** observing → skipped, with the reason. False if not observing. */
  skipped(key: RoundKey, reason: string, tx?: Queryable): Promise<boolean>
  /** observing | committed | revealed → failed, with the reason. False otherwise. */
  failed(key: RoundKey, reason: string, tx?: Queryable): Promise<boolean>
  markRevealsOpen(key: RoundKey, tx?: Queryable): Promise<void>
  /**
   * open → `status` (with the answer for `finalized`). False when the round was not open: the
   * outcome is recorded (and reported) once.
   */
  settle(
    key: RoundKey,
    status: Exclude<RoundStatus, 'open'>,
    answer?: bigint,
    tx?: Queryable,
  ): Promise<boolean>
  setSettleTx(key: RoundKey, txId: bigint, tx?: Queryable): Promise<void>
}

const COLUMNS = `chain_id::text AS chain_id, aggregator, round_id::text AS round_id,
  job_id::text AS job_id, is_feed, config_version, commit_deadline::text AS commit_deadline,
  reveal_deadline::text AS reveal_deadline, request_id, inputs::text AS inputs, state, reason, oracle,
  value::text AS value, salt, commitment, commit_tx_id::text AS commit_tx_id,
  reveal_tx_id::text AS reveal_tx_id, settle_tx_id::text AS settle_tx_id, reveals_open,
  round_status, answer::text AS answer, created_at, committed_at, revealed_at, updated_at`

type Row = {
  chain_id: string
  aggregator: string
  round_id: string
  job_id: string
  is_feed: boolean
  config_version: number
  commit_deadline: string
  reveal_deadline: string
  request_id: string | null
  inputs: string
  state: CommitRevealState
  reason: string | null
  oracle: string | null
  value: string | null
  salt: string | null
  commitment: string | null
  commit_tx_id: string | null
  reveal_tx_id: string | null
  settle_tx_id: string | null
  reveals_open: boolean
  round_status: RoundStatus
  answer: string | null
  created_at: Date
  committed_at: Date | null
  revealed_at: Date | null
  updated_at: Date
}

const big = (v: string | null) => (v === null ? undefined : BigInt(v))
const date = (v: Date | null) => (v === null ? undefined : new Date(v))

const toRound = (r: Row): CommitRevealRound => ({
  chainId: Number(r.chain_id),
  aggregator: r.aggregator as Address,
  roundId: BigInt(r.round_id),
  jobId: BigInt(r.job_id),
  isFeed: r.is_feed,
  configVersion: r.config_version,
  commitDeadline: BigInt(r.commit_deadline),
  revealDeadline: BigInt(r.reveal_deadline),
  requestId: (r.request_id ?? undefined) as Hex | undefined,
  inputs: parseJson(r.inputs) as Record<string, unknown>,
  state: r.state,
  reason: r.reason ?? undefined,
  oracle: (r.oracle ?? undefined) as Address | undefined,
  value: big(r.value),
  salt: (r.salt ?? undefined) as Hex | undefined,
  commitment: (r.commitment ?? undefined) as Hex | undefined,
  commitTxId: big(r.commit_tx_id),
  revealTxId: big(r.reveal_tx_id),
  settleTxId: big(r.settle_tx_id),
  revealsOpen: r.reveals_open,
  roundStatus: r.round_status,
  answer: big(r.answer),
  createdAt: new Date(r.created_at),
  committedAt: date(r.committed_at),
  revealedAt: date(r.revealed_at),
  updatedAt: new Date(r.updated_at),
})

const WHERE_KEY = 'chain_id = $1 AND aggregator = $2 AND round_id = $3'
const keyParams = (k: RoundKey) => [k.chainId, k.aggregator, k.roundId]

export function createCommitRevealRepository(db: Db): CommitRevealRepository {
  /** Runs an UPDATE of one round; true when a row matched. */
  const update = async (
    key: RoundKey,
    set: string,
    params: unknown[],
    condition: string,
    tx: Queryable,
  ) => {
    const rows = await tx.query(
      `UPDATE commitreveal_rounds SET ${set}, updated_at = now()
       WHERE ${WHERE_KEY}${condition ? ` AND ${condition}` : ''} RETURNING 1 AS ok`,
      [...keyParams(key), ...params],
    )
    return rows.length > 0
  }

  return {
    async insert(r, tx = db) {
      const rows = await tx.query(
        `INSERT INTO commitreveal_rounds (chain_id, aggregator, round_id, job_id, is_feed,
           config_version, commit_deadline, reveal_deadline, request_id, inputs, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, 'observing')
         ON CONFLICT DO NOTHING RETURNING 1 AS ok`,
        [
          ...keyParams(r),
          r.jobId,
          r.isFeed,
          r.configVersion,
          r.commitDeadline,
          r.revealDeadline,
          r.requestId ?? null,
          stringifyJson(r.inputs),
        ],
      )
      return rows.length > 0
    },
    async get(key, tx = db) {
      const [row] = await tx.query<Row>(
        `SELECT ${COLUMNS} FROM commitreveal_rounds WHERE ${WHERE_KEY}`,
        keyParams(key),
      )
      return row && toRound(row)
    },
    async active(jobId) {
      const rows = await db.query<Row>(
        `SELECT ${COLUMNS} FROM commitreveal_rounds WHERE job_id = $1
           AND (round_status = 'open' OR state IN ('observing', 'committed'))
         ORDER BY round_id`,
        [jobId],
      )
      return rows.map(toRound)
    },
    async listByJob(jobId, options = {}) {
      const rows = await db.query<Row>(
        `SELECT ${COLUMNS} FROM commitreveal_rounds WHERE job_id = $1 ORDER BY round_id DESC
         LIMIT $2`,
        [jobId, options.limit ?? 100],
      )
      return rows.map(toRound)
    },
    committed: (key, c, tx = db) =>
      update(
        key,
        `state = 'committed', oracle = $4, value = $5, salt = $6, commitment = $7,
         committed_at = now()`,
        [c.oracle, c.value, c.salt, c.commitment],
        `state = 'observing'`,
        tx,
      ),
    async setCommitTx(key, txId, tx = db) {
      await update(key, 'commit_tx_id = $4', [txId], '', tx)
    },
    revealed: (key, revealTxId, tx = db) =>
      update(
        key,
        `state = 'revealed', reveal_tx_id = $4, revealed_at = now()`,
        [revealTxId],
        `state = 'committed'`,
        tx,
      ),
    skipped: (key, reason, tx = db) =>
      update(key, `state = 'skipped', reason = $4`, [reason], `state = 'observing'`, tx),
    failed: (key, reason, tx = db) =>
      update(
        key,
        `state = 'failed', reason = $4`,
        [reason],
        `state IN ('observing', 'committed', 'revealed')`,
        tx,
      ),
    async markRevealsOpen(key, tx = db) {
      await update(key, 'reveals_open = true', [], '', tx)
    },
    settle: (key, status, answer, tx = db) =>
      update(
        key,
        'round_status = $4, answer = $5',
        [status, answer ?? null],
        `round_status = 'open'`,
        tx,
      ),
    async setSettleTx(key, txId, tx = db) {
      await update(key, 'settle_tx_id = $4', [txId], '', tx)
    },
  }
}
