import { Counter, Gauge, type Registry } from 'prom-client'
import {
  type Address,
  type Hex,
  hexToBigInt,
  isAddress,
  type Log,
  numberToHex,
  type PublicClient,
} from 'viem'
import { isTransportError, type RpcPool } from '../chain/rpc-pool.ts'
import type { Common } from '../common.ts'
import { BaseError, errorMessage } from '../errors.ts'
import type { Queryable } from '../store/db.ts'

/**
 * The log broadcaster: polls one chain for the logs that jobs subscribed to and hands each log
 * to each job exactly once, after the job's confirmations, inside a database transaction that
 * also records it in `processed_logs`. It follows reorgs through the block headers it keeps for
 * the last `finalityDepth` blocks. The guarantees are written down in
 * `docs/protocol/log-broadcaster.md`.
 */

export class LogBroadcasterError extends BaseError {
  override name = 'LogBroadcasterError'
}

export type LogSubscription = {
  /** `jobs.id`; deliveries are deduplicated per job. */
  jobId: bigint
  address: Address
  /** Topic filter as in `eth_getLogs`: per position a topic, any of several, or null (any). */
  topics?: (Hex | Hex[] | null)[]
  /** 0 or 1: deliver a log as soon as its block is seen; n: once n blocks include it. */
  minConfirmations: number
  /**
   * First block for this job: a job with no delivery history backfills from here (instead of
   * the last `finalityDepth` blocks), and no earlier log is ever delivered to it.
   */
  fromBlock?: bigint
  /**
   * Called once per log, in the delivery transaction; throwing rolls back and retries later.
   * It may return a function to run once that transaction has committed (e.g. starting the
   * work the log asks for); it is not called when the transaction rolls back.
   */
  onLog(log: Log, tx: Queryable): Promise<unknown>
  /**
   * Optional: several logs at once (in chain order), in the delivery transaction, instead of
   * `onLog` one by one; may return one function to run after the commit.
   */
  onLogs?(logs: Log[], tx: Queryable): Promise<unknown>
  /** Called once for a delivered log whose block left the canonical chain (`log.removed`). */
  onRemoved?(log: Log, tx: Queryable): Promise<void>
}

/** Where the broadcaster gets its client: an `RpcPool`, or a function returning a client. */
export type LogClientSource =
  | (Pick<RpcPool, 'client'> & Partial<Pick<RpcPool, 'reportFailure'>>)
  | (() => PublicClient | Promise<PublicClient>)

export type CreateLogBroadcasterParameters = {
  chainId: number
  pool: LogClientSource
  /** Milliseconds between polls when caught up. */
  pollIntervalMs: number
  /** Blocks after which a block is final; headers are kept (and reorgs followed) this deep. */
  finalityDepth: number
  /** A node with no cursor for this chain starts here; default: the head at its first poll. */
  fromBlock?: bigint
  /** Most blocks per `eth_getLogs` call (default 1000). */
  maxBlockRange?: number
  /** Most `eth_getLogs` calls per poll for subscriptions that are backfilling (default 5). */
  backfillCallsPerPoll?: number
}

export type LogBroadcaster = {
  /** Adds a subscription (also while running); returns a function that removes it. */
  subscribe(sub: LogSubscription): () => void
  /** Polls every `pollIntervalMs` (at once while backfilling) until `stop()`. */
  start(): Promise<void>
  /** Stops polling and waits for the poll under way. */
  stop(): Promise<void>
  /** One round: reorg check, headers, logs, deliveries, cursors. Rounds never overlap. */
  poll(): Promise<void>
  /** The head block seen by the last round. */
  head(): bigint | undefined
}

type SubState = {
  sub: LogSubscription
  address: string
  active: boolean
  /** Every due log in blocks <= done was delivered (persisted per job); undefined until loaded. */
  done: bigint | undefined
  /** The job's first block (persisted): no earlier log is delivered to it. */
  first: bigint
  /** Logs in blocks <= scanned were fetched and offered (those that failed are in `failed`). */
  scanned: bigint
  /** Logs whose delivery failed, by `blockHash:logIndex`, retried every round. */
  failed: Map<string, Log>
}

type Header = { number: bigint; hash: Hex; parentHash: Hex }

const CURSOR_WRITE_INTERVAL_MS = 1000

const logKey = (log: Pick<Log, 'blockHash' | 'logIndex'>) => `${log.blockHash}:${log.logIndex}`
const maxB = (a: bigint, b: bigint) => (a > b ? a : b)
const minB = (a: bigint, b: bigint) => (a < b ? a : b)

export function createLogBroadcaster(
  common: Common,
  params: CreateLogBroadcasterParameters,
): LogBroadcaster {
  const { db } = common
  const chainId = params.chainId
  const fd = params.finalityDepth
  if (!Number.isInteger(fd) || fd < 1) {
    throw new LogBroadcasterError('finalityDepth must be an integer of at least 1', {
      details: `got ${fd}`,
    })
  }
  if (!(params.pollIntervalMs > 0)) {
    throw new LogBroadcasterError('pollIntervalMs must be positive', {
      details: `got ${params.pollIntervalMs}`,
    })
  }
  const maxRange = BigInt(params.maxBlockRange ?? 1000)
  const backfillCalls = params.backfillCallsPerPoll ?? 5
  if (maxRange < 1n || backfillCalls < 1) {
    throw new LogBroadcasterError('maxBlockRange and backfillCallsPerPoll must be at least 1')
  }
  const cursorKey = `log_cursor:${chainId}`
  const logger = common.logger.child({ component: 'log-broadcaster', chain_id: chainId })
  const metrics = createMetrics(common.metrics)
  const chainLabel = String(chainId)

  const subs: SubState[] = []
  /** The chain-wide cursor: the head the last round scanned to (node_settings). */
  let globalCursor: bigint | undefined
  let loaded = false
  let lastHead: bigint | undefined
  const persistedJobCursor = new Map<bigint, bigint>()
  /** The headers of the unfinalised window, newest first (block_headers, kept in memory). */
  let kept: Header[] | undefined

  // ---- chain access ----

  let currentClient: PublicClient | undefined
  const getClient = async (): Promise<PublicClient> => {
    const source = params.pool
    try {
      currentClient = typeof source === 'function' ? await source() : await source.client()
      return currentClient
    } catch (cause) {
      throw new LogBroadcasterError(`no RPC client for chain ${chainId}`, {
        cause,
        retryable: true,
      })
    }
  }
  const rpc = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn()
    } catch (cause) {
      // Only transport failures say something about the endpoint; an RPC error answer does not.
      const source = params.pool
      if (typeof source !== 'function' && currentClient && isTransportError(cause)) {
        source.reportFailure?.(currentClient, cause)
      }
      throw new LogBroadcasterError(`RPC ${what} failed on chain ${chainId}`, {
        cause,
        retryable: true,
      })
    }
  }
  /** A block's header fields we keep (raw JSON-RPC: no transaction list, no formatting). */
  const header = async (client: PublicClient, at: bigint | 'latest'): Promise<Header> => {
    const b = (await rpc('eth_getBlockByNumber', () =>
      client.request({
        method: 'eth_getBlockByNumber',
        params: [at === 'latest' ? 'latest' : numberToHex(at), false],
      }),
    )) as { number: Hex; hash: Hex; parentHash: Hex } | null
    if (!b) {
      throw new LogBroadcasterError(`RPC eth_getBlockByNumber found no block ${at}`, {
        retryable: true,
      })
    }
    return { number: hexToBigInt(b.number), hash: b.hash, parentHash: b.parentHash }
  }

  // ---- cursors ----

  const load = async () => {
    if (loaded) return
    const rows = await db.query<{ value: { block: string } }>(
      'SELECT value FROM node_settings WHERE key = $1',
      [cursorKey],
    )
    globalCursor = rows[0] ? BigInt(rows[0].value.block) : undefined
    loaded = true
  }

  /** Gives subscriptions added since the last round their starting point. */
  const initSubs = async (head: bigint) => {
    const fresh = subs.filter((s) => s.done === undefined && s.active)
    if (fresh.length === 0) return
    const jobIds = [...new Set(fresh.map((s) => s.sub.jobId))]
    const rows = await db.query<{ job_id: unknown; block_number: unknown; first_block: unknown }>(
      `SELECT job_id, block_number, first_block FROM log_cursors
       WHERE chain_id = $1 AND job_id IN (${jobIds.map((_, i) => `$${i + 2}`).join(', ')})`,
      [chainId, ...jobIds],
    )
    const saved = new Map(
      rows.map((r) => [
        BigInt(r.job_id as string),
        { done: BigInt(r.block_number as string), first: BigInt(r.first_block as string) },
      ]),
    )
    for (const s of fresh) {
      const cursor = saved.get(s.sub.jobId)
      let start: bigint
      let first: bigint
      let origin: string
      if (cursor !== undefined) {
        start = maxB(cursor.done - BigInt(fd), cursor.first)
        first = cursor.first
        origin = 'job cursor - finalityDepth'
      } else {
        if (s.sub.fromBlock !== undefined) {
          start = s.sub.fromBlock
          origin = 'subscription fromBlock'
        } else if (globalCursor !== undefined) {
          start = globalCursor - BigInt(fd)
          origin = 'chain cursor - finalityDepth'
        } else {
          start = params.fromBlock ?? head
          origin = params.fromBlock === undefined ? 'head (new node)' : 'fromBlock (new node)'
        }
        first = maxB(start, 0n)
      }
      if (s.sub.fromBlock !== undefined) {
        start = maxB(start, s.sub.fromBlock)
        first = maxB(first, s.sub.fromBlock)
      }
      start = maxB(start, 0n)
      s.first = first
      s.done = cursor?.done ?? start - 1n
      s.scanned = start - 1n
      logger.info(
        {
          job_id: s.sub.jobId.toString(),
          block_number: start.toString(),
          address: s.sub.address,
          origin,
        },
        'log subscription starts',
      )
    }
  }

  /** When the cursors were last written (the background loop writes them at most once a second). */
  let cursorsWrittenAt = 0
  const persistCursors = async (head: bigint) => {
    cursorsWrittenAt = performance.now()
    const perJob = new Map<bigint, { done: bigint; first: bigint }>()
    for (const s of subs) {
      if (!s.active || s.done === undefined) continue
      const prev = perJob.get(s.sub.jobId)
      perJob.set(
        s.sub.jobId,
        prev === undefined
          ? { done: s.done, first: s.first }
          : { done: minB(prev.done, s.done), first: minB(prev.first, s.first) },
      )
    }
    const changed = [...perJob].filter(([job, c]) => persistedJobCursor.get(job) !== c.done)
    const globalChanged = globalCursor !== head
    if (changed.length === 0 && !globalChanged) return
    await db.transaction(async (tx) => {
      if (changed.length > 0) {
        const values = changed
          .map((_, i) => `($1, $${3 * i + 2}, $${3 * i + 3}, $${3 * i + 4}, now())`)
          .join(', ')
        await tx.query(
          `INSERT INTO log_cursors (chain_id, job_id, block_number, first_block, updated_at) VALUES ${values}
           ON CONFLICT (chain_id, job_id) DO UPDATE SET block_number = EXCLUDED.block_number, updated_at = now()`,
          [chainId, ...changed.flatMap(([job, c]) => [job, c.done, c.first])],
        )
      }
      if (globalChanged) {
        await tx.query(
          `INSERT INTO node_settings (key, value) VALUES ($1, $2)
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
          [cursorKey, JSON.stringify({ block: head.toString() })],
        )
      }
    })
    for (const [job, c] of changed) persistedJobCursor.set(job, c.done)
    globalCursor = head
  }

  // ---- reorgs ----

  /**
   * Compares the stored headers with the chain. Returns 'same', 'behind' (the endpoint has not
   * reached our last block yet, but agrees below it), or the common ancestor's number.
   */
  const compare = async (
    client: PublicClient,
    stored: Header[],
    latest: Header,
  ): Promise<'same' | 'behind' | bigint> => {
    const top = stored[0]
    if (!top) return 'same'
    const seen = new Map<bigint, Hex>([[latest.number, latest.hash]])
    const chainHash = async (n: bigint) => {
      let hash = seen.get(n)
      if (hash === undefined) {
        hash = (await header(client, n)).hash
        seen.set(n, hash)
      }
      return hash
    }
    if (top.number > latest.number) {
      const at = stored.find((h) => h.number === latest.number)
      if (at && at.hash === latest.hash) return 'behind'
      // Below every header we keep: an endpoint far behind (or a chain restarted); wait for it.
      if (latest.number < stored[stored.length - 1]!.number) return 'behind'
    } else if ((await chainHash(top.number)) === top.hash) {
      return 'same'
    }
    for (const h of stored) {
      if (h.number > latest.number) continue
      if ((await chainHash(h.number)) === h.hash) return h.number
    }
    const lowest = stored[stored.length - 1]!.number - 1n
    logger.error(
      { block_number: lowest.toString(), finality_depth: fd },
      'reorg deeper than finalityDepth: blocks below the stored headers are taken as final',
    )
    return lowest
  }

  const handleReorg = async (ancestor: bigint, depth: bigint) => {
    logger.warn(
      { block_number: ancestor.toString(), depth: depth.toString() },
      'chain reorganisation detected',
    )
    const rows = await db.query<ProcessedRow>(
      `SELECT job_id, block_hash, block_number, log_index, tx_hash, log FROM processed_logs
       WHERE chain_id = $1 AND block_number > $2 ORDER BY block_number DESC, log_index DESC`,
      [chainId, ancestor],
    )
    for (const row of rows) {
      const log = rowToLog(row)
      const jobId = BigInt(row.job_id as string)
      const sub = subs.find(
        (s) =>
          s.active &&
          s.sub.jobId === jobId &&
          (row.log === null || s.address === (log.address as string).toLowerCase()),
      )
      const fields = {
        job_id: jobId.toString(),
        block_number: log.blockNumber!.toString(),
        block_hash: log.blockHash,
        log_index: log.logIndex,
        tx_hash: log.transactionHash,
      }
      try {
        await db.transaction(async (tx) => {
          const deleted = await tx.query(
            'DELETE FROM processed_logs WHERE job_id = $1 AND block_hash = $2 AND log_index = $3 RETURNING job_id',
            [jobId, row.block_hash, row.log_index],
          )
          if (deleted.length > 0 && sub?.sub.onRemoved) await sub.sub.onRemoved(log, tx)
        })
      } catch (cause) {
        logger.error(
          { ...fields, err: cause },
          'onRemoved failed; the reorg is handled again next poll',
        )
        throw new LogBroadcasterError('handling a removed log failed', { cause, retryable: true })
      }
      metrics.removed.inc({ chain_id: chainLabel, job_id: fields.job_id })
      logger.info({ ...fields, subscribed: sub !== undefined }, 'delivered log removed by a reorg')
    }
    await db.transaction(async (tx) => {
      await tx.query('DELETE FROM block_headers WHERE chain_id = $1 AND number > $2', [
        chainId,
        ancestor,
      ])
      await tx.query(
        'UPDATE log_cursors SET block_number = $2 WHERE chain_id = $1 AND block_number > $2',
        [chainId, ancestor],
      )
    })
    kept = kept?.filter((h) => h.number <= ancestor)
    for (const [job, block] of persistedJobCursor)
      if (block > ancestor) persistedJobCursor.set(job, ancestor)
    for (const s of subs) {
      if (s.done === undefined) continue
      s.done = minB(s.done, ancestor)
      s.scanned = minB(s.scanned, ancestor)
      for (const [k, log] of s.failed) if (log.blockNumber! > ancestor) s.failed.delete(k)
    }
    metrics.reorgs.inc({ chain_id: chainLabel })
  }

  // ---- delivery ----

  type Delivery = { s: SubState; log: Log }

  /**
   * Records one subscription's logs as processed (one statement) and hands the new ones over,
   * in `tx`; returns those that were new (a log already processed for the job is skipped).
   */
  const offer = async (
    s: SubState,
    group: readonly Delivery[],
    tx: Queryable,
    after: (() => void)[],
  ): Promise<Delivery[]> => {
    const inserted = await tx.query<{ block_hash: string; log_index: number }>(
      `INSERT INTO processed_logs (chain_id, job_id, block_hash, block_number, log_index, tx_hash, log)
       VALUES ${group.map((_, i) => `($1, $2, $${5 * i + 3}, $${5 * i + 4}, $${5 * i + 5}, $${5 * i + 6}, $${5 * i + 7})`).join(', ')}
       ON CONFLICT (job_id, block_hash, log_index) DO NOTHING RETURNING block_hash, log_index`,
      [
        chainId,
        s.sub.jobId,
        ...group.flatMap(({ log }) => [
          log.blockHash,
          log.blockNumber,
          log.logIndex,
          log.transactionHash,
          JSON.stringify(logToJson(log)),
        ]),
      ],
    )
    const isNew = new Set(inserted.map((r) => `${r.block_hash}:${r.log_index}`))
    const fresh = group.filter((d) => isNew.has(logKey(d.log)))
    if (fresh.length === 0) return fresh
    const thens = s.sub.onLogs
      ? [
          await s.sub.onLogs(
            fresh.map((d) => d.log),
            tx,
          ),
        ]
      : await (async () => {
          const out: unknown[] = []
          for (const d of fresh) out.push(await s.sub.onLog(d.log, tx))
          return out
        })()
    for (const then of thens) if (typeof then === 'function') after.push(then as () => void)
    return fresh
  }

  /** The log fields of a delivery, for the log lines. */
  const deliveryFields = (d: Delivery) => ({
    job_id: d.s.sub.jobId.toString(),
    block_number: d.log.blockNumber!.toString(),
    log_index: d.log.logIndex,
    tx_hash: d.log.transactionHash,
  })

  const delivered = (d: Delivery) => {
    metrics.delivered.inc({ chain_id: chainLabel, job_id: d.s.sub.jobId.toString() })
    logger.debug(deliveryFields(d), 'log delivered')
  }

  const runAfter = (after: (() => void)[]) => {
    for (const fn of after) {
      try {
        fn()
      } catch (err) {
        logger.error({ err }, `work after a log delivery failed: ${errorMessage(err)}`)
      }
    }
  }

  /** One log in a transaction of its own; false when it failed (retried next round). */
  const deliverOne = async (d: Delivery): Promise<boolean> => {
    const after: (() => void)[] = []
    try {
      if ((await db.transaction((tx) => offer(d.s, [d], tx, after))).length > 0) delivered(d)
      runAfter(after)
      return true
    } catch (err) {
      metrics.failures.inc({ chain_id: chainLabel, job_id: d.s.sub.jobId.toString() })
      logger.error(
        { ...deliveryFields(d), err },
        `log delivery failed, retried next poll: ${errorMessage(err)}`,
      )
      return false
    }
  }

  /**
   * The round's logs in one transaction, in order; when that fails, each in its own, so one
   * failing log holds up no other. Returns the deliveries that failed.
   */
  const deliverAll = async (batch: Delivery[]): Promise<Set<Delivery>> => {
    const failed = new Set<Delivery>()
    if (batch.length === 0) return failed
    if (batch.length > 1) {
      const after: (() => void)[] = []
      const fresh: Delivery[] = []
      try {
        await db.transaction(async (tx) => {
          // Per subscription, in chain order: one statement for its logs, one hand-over.
          const bySub = new Map<SubState, Delivery[]>()
          for (const d of batch) bySub.set(d.s, [...(bySub.get(d.s) ?? []), d])
          for (const [s, group] of bySub) fresh.push(...(await offer(s, group, tx, after)))
        })
        for (const d of fresh) delivered(d)
        runAfter(after)
        return failed
      } catch (err) {
        logger.debug({ err }, 'a batched delivery failed; delivering the logs one by one')
      }
    }
    for (const d of batch) {
      if (!d.s.active) continue
      if (!(await deliverOne(d))) failed.add(d)
    }
    return failed
  }

  const matches = (s: SubState, log: Log): boolean => {
    if ((log.address as string).toLowerCase() !== s.address) return false
    if (log.blockNumber! < s.first) return false
    const topics = s.sub.topics
    if (!topics) return true
    return topics.every((want, i) => {
      if (want === null || want === undefined) return true
      const got = log.topics[i]?.toLowerCase()
      if (got === undefined) return false
      return Array.isArray(want)
        ? want.some((w) => w.toLowerCase() === got)
        : want.toLowerCase() === got
    })
  }

  // ---- one round ----

  /** `eth_getLogs` over [from, to]; a range the endpoint refuses is split in halves. */
  const fetchLogs = async (
    client: PublicClient,
    addresses: string[],
    from: bigint,
    to: bigint,
    splits = 0,
  ): Promise<Log[]> => {
    try {
      return (await rpc('eth_getLogs', () =>
        client.getLogs({ address: addresses as Address[], fromBlock: from, toBlock: to }),
      )) as Log[]
    } catch (err) {
      if (to <= from || splits >= 6 || isTransportError(err)) throw err
      const mid = from + (to - from) / 2n
      logger.debug(
        { from: from.toString(), to: to.toString() },
        'eth_getLogs refused the range; splitting it',
      )
      return [
        ...(await fetchLogs(client, addresses, from, mid, splits + 1)),
        ...(await fetchLogs(client, addresses, mid + 1n, to, splits + 1)),
      ]
    }
  }

  /** One round; true when backfilling subscriptions still have blocks to scan. */
  const round = async (throttled: boolean): Promise<boolean> => {
    const client = await getClient()
    const latest = await header(client, 'latest')
    const head = latest.number
    await load()
    await initSubs(head)

    // 1. Reorgs: compare the headers we keep with the chain.
    // Read from the database once; then kept in memory, which the database mirrors.
    kept ??= (
      await db.query<{ number: unknown; hash: Hex; parent_hash: Hex }>(
        'SELECT number, hash, parent_hash FROM block_headers WHERE chain_id = $1 ORDER BY number DESC',
        [chainId],
      )
    ).map((r) => ({ number: BigInt(r.number as string), hash: r.hash, parentHash: r.parent_hash }))
    let stored = kept
    const verdict = await compare(client, stored, latest)
    if (verdict === 'behind') {
      logger.debug(
        { block_number: head.toString() },
        'the RPC endpoint is behind our last block; waiting',
      )
      return false
    }
    if (verdict !== 'same') {
      await handleReorg(verdict, stored[0]!.number - verdict)
      stored = stored.filter((h) => h.number <= verdict)
    }

    // 2. Headers of the unfinalised window [head - finalityDepth + 1, head].
    const windowLo = maxB(head - BigInt(fd) + 1n, 0n)
    const top = stored[0]
    const firstNew = maxB(top ? top.number + 1n : windowLo, windowLo)
    const fresh: Header[] = []
    for (let n = firstNew; n <= head; n += 10n) {
      const batch: Promise<Header>[] = []
      for (let m = n; m < n + 10n && m <= head; m++) {
        batch.push(m === head ? Promise.resolve(latest) : header(client, m))
      }
      fresh.push(...(await Promise.all(batch)))
    }
    const known = new Map<bigint, Header>()
    for (const h of stored) if (h.number >= windowLo) known.set(h.number, h)
    for (const h of fresh) {
      const parent = known.get(h.number - 1n)
      if (parent && parent.hash !== h.parentHash) {
        logger.warn(
          { block_number: h.number.toString() },
          'the chain changed during the poll; trying again',
        )
        return false
      }
      known.set(h.number, h)
    }

    // 3. Logs: one call for the subscriptions near the head, a few for those backfilling.
    const active = subs.filter((s) => s.active && s.done !== undefined)
    const ready = (s: SubState) => head - BigInt(Math.max(s.sub.minConfirmations, 1)) + 1n
    const live = active.filter((s) => s.scanned >= head - maxRange)
    const behind = active.filter((s) => s.scanned < head - maxRange)
    const upTo = new Map<SubState, bigint>()
    const found = new Map<string, Log>()
    const addresses = (group: SubState[]) => [...new Set(group.map((s) => s.address))]
    if (live.length > 0) {
      const from = live.reduce((lo, s) => minB(lo, s.scanned + 1n), head + 1n)
      if (from <= head) {
        for (const log of await fetchLogs(client, addresses(live), from, head))
          found.set(logKey(log), log)
      }
      for (const s of live) upTo.set(s, ready(s))
    }
    if (behind.length > 0) {
      let from = behind.reduce((lo, s) => minB(lo, s.scanned + 1n), head)
      let to = from - 1n
      for (let call = 0; call < backfillCalls && from <= head; call++) {
        to = minB(from + maxRange - 1n, head)
        const group = behind.filter((s) => s.scanned < to)
        for (const log of await fetchLogs(client, addresses(group), from, to))
          found.set(logKey(log), log)
        from = to + 1n
      }
      for (const s of behind) upTo.set(s, minB(ready(s), to))
      logger.info(
        {
          block_number: to.toString(),
          head: head.toString(),
          jobs: behind.map((s) => s.sub.jobId.toString()),
        },
        'backfilling logs',
      )
    }
    const logs = [...found.values()]
      .filter((l) => !l.removed)
      .sort((a, b) =>
        a.blockNumber === b.blockNumber
          ? a.logIndex! - b.logIndex!
          : a.blockNumber! < b.blockNumber!
            ? -1
            : 1,
      )
    for (const log of logs) {
      if (log.blockNumber! < windowLo) continue
      if (known.get(log.blockNumber!)?.hash !== log.blockHash) {
        logger.warn(
          { block_number: log.blockNumber!.toString() },
          'a log is from another fork than its header; trying again',
        )
        return false
      }
    }

    // 4. Keep the window's headers (before delivering, so a later reorg is always seen).
    // One statement for all of them; nothing to do when the head did not move.
    if (fresh.length > 0) {
      await db.query(
        `WITH old AS (DELETE FROM block_headers WHERE chain_id = $1 AND number < $2)
         INSERT INTO block_headers (chain_id, number, hash, parent_hash) VALUES ${fresh
           .map((_, i) => `($1, $${3 * i + 3}, $${3 * i + 4}, $${3 * i + 5})`)
           .join(', ')}
         ON CONFLICT (chain_id, number) DO UPDATE SET hash = EXCLUDED.hash, parent_hash = EXCLUDED.parent_hash`,
        [chainId, windowLo, ...fresh.flatMap((h) => [h.number, h.hash, h.parentHash])],
      )
    }
    kept = [...fresh.reverse(), ...stored].filter((h) => h.number >= windowLo)

    // 5. Deliver: first the logs that failed before, then the newly due ones, in chain order;
    // all in one transaction when none fails.
    const batch: Delivery[] = []
    for (const s of active) {
      for (const log of s.failed.values()) batch.push({ s, log })
      const until = upTo.get(s)!
      if (until <= s.scanned) continue
      for (const log of logs) {
        const n = log.blockNumber!
        if (n <= s.scanned || n > until || !matches(s, log)) continue
        batch.push({ s, log })
      }
    }
    const failures = await deliverAll(batch)
    for (const d of batch) {
      const k = logKey(d.log)
      if (failures.has(d)) d.s.failed.set(k, d.log)
      else d.s.failed.delete(k)
    }
    for (const s of active) {
      if (!s.active) continue
      const until = upTo.get(s)!
      if (until > s.scanned) s.scanned = until
      let done = s.scanned
      for (const log of s.failed.values()) done = minB(done, log.blockNumber! - 1n)
      s.done = maxB(s.done!, done)
    }

    // Cursors only bound the re-scan after a restart (deliveries are deduplicated by
    // processed_logs), so the background loop writes them at most once a second.
    if (!throttled || performance.now() - cursorsWrittenAt >= CURSOR_WRITE_INTERVAL_MS) {
      await persistCursors(head)
    }
    lastHead = head
    metrics.head.set({ chain_id: chainLabel }, Number(head))
    return active.some((s) => s.active && s.scanned < head - maxRange)
  }

  // ---- lifecycle ----

  let chain: Promise<unknown> = Promise.resolve()
  const poll = (throttled = false): Promise<boolean> => {
    const next = chain.then(() => round(throttled))
    chain = next.catch(() => {})
    return next
  }

  let running = false
  let loop: Promise<void> | undefined
  let wake: (() => void) | undefined
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })

  return {
    subscribe(sub) {
      if (!isAddress(sub.address, { strict: false })) {
        throw new LogBroadcasterError(`invalid address ${sub.address} for job ${sub.jobId}`)
      }
      if (!Number.isInteger(sub.minConfirmations) || sub.minConfirmations < 0) {
        throw new LogBroadcasterError(`invalid minConfirmations for job ${sub.jobId}`, {
          details: `got ${sub.minConfirmations}`,
        })
      }
      const state: SubState = {
        sub,
        address: sub.address.toLowerCase(),
        active: true,
        done: undefined,
        first: 0n,
        scanned: -1n,
        failed: new Map(),
      }
      subs.push(state)
      return () => {
        state.active = false
        const i = subs.indexOf(state)
        if (i >= 0) subs.splice(i, 1)
      }
    },
    async start() {
      if (running) return
      running = true
      let first: (() => void) | undefined
      const firstDone = new Promise<void>((resolve) => {
        first = resolve
      })
      loop = (async () => {
        while (running) {
          let more = false
          try {
            more = await poll(true)
          } catch (err) {
            logger.warn({ err }, `log poll failed: ${errorMessage(err)}`)
          }
          first?.()
          first = undefined
          if (!running) break
          await sleep(more ? 0 : params.pollIntervalMs)
        }
      })()
      await firstDone
    },
    async stop() {
      running = false
      wake?.()
      await loop
      await chain
      if (lastHead !== undefined) {
        await persistCursors(lastHead).catch((err: unknown) =>
          logger.warn({ err }, `writing the log cursors at stop failed: ${errorMessage(err)}`),
        )
      }
    },
    async poll() {
      await poll()
    },
    head: () => lastHead,
  }
}

type ProcessedRow = {
  job_id: unknown
  block_hash: Hex
  block_number: unknown
  log_index: number
  tx_hash: Hex
  log: LogJson | null
}

type LogJson = {
  address: Address
  topics: Hex[]
  data: Hex
  blockNumber: string
  blockHash: Hex
  logIndex: number
  transactionHash: Hex
  transactionIndex: number
}

function logToJson(log: Log): LogJson {
  return {
    address: log.address,
    topics: [...log.topics],
    data: log.data,
    blockNumber: log.blockNumber!.toString(),
    blockHash: log.blockHash!,
    logIndex: log.logIndex!,
    transactionHash: log.transactionHash!,
    transactionIndex: log.transactionIndex!,
  }
}

/** The delivered log as it was, marked removed; what the table has when it was not stored. */
function rowToLog(row: ProcessedRow): Log {
  const j = row.log
  return {
    address: j?.address ?? ('0x' as Address),
    topics: (j?.topics ?? []) as Log['topics'],
    data: j?.data ?? '0x',
    blockNumber: BigInt(row.block_number as string),
    blockHash: row.block_hash,
    logIndex: Number(row.log_index),
    transactionHash: row.tx_hash,
    transactionIndex: j?.transactionIndex ?? 0,
    removed: true,
  } as Log
}

type Metrics = {
  delivered: Counter<'chain_id' | 'job_id'>
  failures: Counter<'chain_id' | 'job_id'>
  removed: Counter<'chain_id' | 'job_id'>
  reorgs: Counter<'chain_id'>
  head: Gauge<'chain_id'>
}

/** The broadcaster's metrics, registered once per registry (several chains share them). */
function createMetrics(registry: Registry): Metrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter<L>({ name, help, labelNames, registers: [registry] })
  return {
    delivered: counter('orakel_log_broadcaster_logs_delivered_total', 'Logs delivered to jobs', [
      'chain_id',
      'job_id',
    ]),
    failures: counter(
      'orakel_log_broadcaster_delivery_failures_total',
      'Log deliveries that failed (retried)',
      ['chain_id', 'job_id'],
    ),
    removed: counter(
      'orakel_log_broadcaster_logs_removed_total',
      'Delivered logs removed by reorgs',
      ['chain_id', 'job_id'],
    ),
    reorgs: counter('orakel_log_broadcaster_reorgs_total', 'Chain reorganisations detected', [
      'chain_id',
    ]),
    head:
      (registry.getSingleMetric('orakel_log_broadcaster_head_block') as
        | Gauge<'chain_id'>
        | undefined) ??
      new Gauge({
        name: 'orakel_log_broadcaster_head_block',
        help: 'Head block seen by the last poll',
        labelNames: ['chain_id'],
        registers: [registry],
      }),
  }
}
