import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, beforeEach, describe, it } from 'node:test'
import {
  type Address,
  createPublicClient,
  decodeEventLog,
  encodeEventTopics,
  encodeFunctionData,
  type Hex,
  http,
  type Log,
  type PublicClient,
  toHex,
} from 'viem'
import { OperatorAbi, PriceConsumerAbi } from '../../artifacts/abis.ts'
import { createRpcPool } from '../chain/rpc-pool.ts'
import {
  deployPriceConsumer,
  deployTestCore,
  LINK,
  send,
  startTestChain,
  type TestChain,
} from '../chain/testing.ts'
import { type Common, createLogger, createMetrics } from '../common.ts'
import type { Db, Queryable } from '../store/db.ts'
import { openTestDatabase } from '../store/testing.ts'
import {
  type CreateLogBroadcasterParameters,
  createLogBroadcaster,
  type LogBroadcaster,
  type LogSubscription,
} from './log-broadcaster.ts'

const ORACLE_REQUEST = encodeEventTopics({ abi: OperatorAbi, eventName: 'OracleRequest' })[0]
const SPEC_ID = toHex('log-broadcaster-test', { size: 32 })

type Fixture = {
  chain: TestChain
  operator: Address
  consumer: Address
  link: Address
  client: PublicClient
}

async function fixture(): Promise<Fixture> {
  const chain = await startTestChain()
  const core = await deployTestCore(chain)
  const consumer = await deployPriceConsumer(chain, core.linkToken, core.operator, 100n * LINK)
  const client = createPublicClient({
    transport: http(chain.anvil.rpcUrl),
    cacheTime: 0,
  }) as PublicClient
  return { chain, operator: core.operator, consumer, link: core.linkToken, client }
}

const requestArgs = [
  SPEC_ID,
  LINK / 10n,
  'https://example.test/price',
  'price',
  100n,
  false,
] as const

/** Sends an oracle request through the consumer; returns its receipt. */
function request(f: Fixture) {
  return send(f.chain.owner, {
    address: f.consumer,
    abi: PriceConsumerAbi,
    functionName: 'requestValue',
    args: requestArgs,
  })
}

/** A signed request transaction, to send (and replay) as raw bytes. */
async function signedRequest(f: Fixture): Promise<Hex> {
  const owner = f.chain.owner
  const prepared = await owner.prepareTransactionRequest({
    to: f.consumer,
    data: encodeFunctionData({
      abi: PriceConsumerAbi,
      functionName: 'requestValue',
      args: requestArgs,
    }),
  })
  return owner.signTransaction(prepared as never)
}

const mine = async (f: Fixture, blocks = 1) => {
  for (let i = 0; i < blocks; i++)
    await f.chain.owner.request({ method: 'evm_mine', params: [] } as never)
}

const requestIdOf = (log: Log) =>
  decodeEventLog({
    abi: OperatorAbi,
    data: log.data,
    topics: log.topics,
    eventName: 'OracleRequest',
  }).args.requestId

async function insertJob(db: Db): Promise<bigint> {
  const [row] = await db.query<{ id: unknown }>(
    `INSERT INTO jobs (external_job_id, type, spec_toml, spec_hash, spec)
     VALUES ($1, 'directrequest', '', '', '{}') RETURNING id`,
    [randomUUID()],
  )
  return BigInt(row!.id as string)
}

type Recorder = {
  sub: LogSubscription
  delivered: Log[]
  removed: Log[]
}

/** A subscription to the fixture's OracleRequest logs that records what it is given. */
function recorder(
  f: Fixture,
  jobId: bigint,
  extra: Partial<LogSubscription> & { fail?: (log: Log) => boolean } = {},
): Recorder {
  const r: Recorder = { delivered: [], removed: [], sub: undefined as never }
  r.sub = {
    jobId,
    address: f.operator,
    topics: [ORACLE_REQUEST],
    minConfirmations: 0,
    async onLog(log: Log, tx: Queryable) {
      // A write in the delivery transaction: it must stand or fall with the delivery.
      await tx.query('INSERT INTO node_settings (key, value) VALUES ($1, $2)', [
        `test:${jobId}:${log.blockHash}:${log.logIndex}`,
        JSON.stringify({ ok: true }),
      ])
      if (extra.fail?.(log)) throw new Error('job is not ready')
      r.delivered.push(log)
    },
    async onRemoved(log: Log, tx: Queryable) {
      await tx.query('DELETE FROM node_settings WHERE key = $1', [
        `test:${jobId}:${log.blockHash}:${log.logIndex}`,
      ])
      r.removed.push(log)
    },
    ...extra,
  }
  return r
}

function common(db: Db): Common {
  return { config: {}, logger: createLogger({ silent: true }), metrics: createMetrics(), db }
}

function broadcaster(
  f: Fixture,
  c: Common,
  extra: Partial<CreateLogBroadcasterParameters> = {},
): LogBroadcaster {
  return createLogBroadcaster(c, {
    chainId: 31337,
    pool: () => f.client,
    pollIntervalMs: 25,
    finalityDepth: 5,
    ...extra,
  })
}

const processed = async (db: Db, jobId: bigint) =>
  db.query<{ block_hash: string; tx_hash: string; log: { data: string } | null }>(
    'SELECT block_hash, tx_hash, log FROM processed_logs WHERE job_id = $1 ORDER BY block_number, log_index',
    [jobId],
  )

/**
 * Forgets the broadcaster's chain-wide state (cursor, headers) so that each test starts as a
 * new node, and mines a block so that no earlier test's log is in the head block. Deliveries
 * are per job, and every test uses new jobs.
 */
async function freshNode(f: Fixture, db: Db) {
  await db.exec(
    "DELETE FROM node_settings WHERE key LIKE 'log_cursor:%'; DELETE FROM block_headers; DELETE FROM log_cursors",
  )
  await mine(f)
}

describe('createLogBroadcaster', () => {
  let f: Fixture
  let db: Db
  before(async () => {
    ;[f, db] = await Promise.all([fixture(), openTestDatabase()])
  })
  after(async () => {
    await db.close()
    await f.chain.stop()
  })
  const withDb = (name: string, fn: () => Promise<void>) =>
    it(name, async () => {
      await freshNode(f, db)
      await fn()
    })

  withDb('delivers a request log once, in a transaction that records it', async () => {
    const c = common(db)
    const job = await insertJob(db)
    const b = broadcaster(f, c)
    const r = recorder(f, job)
    b.subscribe(r.sub)
    await b.poll()
    const receipt = await request(f)
    await b.poll()
    await b.poll()
    assert.equal(r.delivered.length, 1)
    const [log] = r.delivered
    assert.equal(log!.transactionHash, receipt.transactionHash)
    assert.equal(log!.blockNumber, receipt.blockNumber)
    assert.equal(b.head(), receipt.blockNumber)
    const rows = await processed(db, job)
    assert.equal(rows.length, 1)
    assert.equal(rows[0]!.block_hash, receipt.blockHash)
    assert.equal(rows[0]!.tx_hash, receipt.transactionHash)
    assert.equal(rows[0]!.log!.data, log!.data)
    const written = await db.query('SELECT 1 FROM node_settings WHERE key LIKE $1', [
      `test:${job}:%`,
    ])
    assert.equal(written.length, 1)
    const metric = await c.metrics
      .getSingleMetric('orakel_log_broadcaster_logs_delivered_total')!
      .get()
    assert.deepEqual(
      metric.values.map((v) => [v.labels, v.value]),
      [[{ chain_id: '31337', job_id: String(job) }, 1]],
    )
  })

  withDb('does not deliver again after a restart, and goes on with new logs', async () => {
    const job = await insertJob(db)
    const first = broadcaster(f, common(db))
    const r1 = recorder(f, job)
    first.subscribe(r1.sub)
    await first.poll()
    await request(f)
    await first.poll()
    assert.equal(r1.delivered.length, 1)
    await first.stop()

    // A new instance on the same database re-scans the last finalityDepth blocks.
    const second = broadcaster(f, common(db))
    const r2 = recorder(f, job)
    second.subscribe(r2.sub)
    await second.poll()
    assert.equal(r2.delivered.length, 0)
    const receipt = await request(f)
    await second.poll()
    assert.deepEqual(
      r2.delivered.map((l) => l.transactionHash),
      [receipt.transactionHash],
    )
    assert.equal((await processed(db, job)).length, 2)
    await second.stop()

    // Even with its cursor lost and a rescan from before both logs, processed_logs keeps it at once.
    await db.exec('DELETE FROM log_cursors')
    const third = broadcaster(f, common(db))
    const r3 = recorder(f, job, { fromBlock: r1.delivered[0]!.blockNumber! })
    third.subscribe(r3.sub)
    await third.poll()
    assert.equal(r3.delivered.length, 0)
    assert.equal((await processed(db, job)).length, 2)
  })

  withDb('a new broadcaster backfills logs emitted before it started', async () => {
    const start = (await f.client.getBlockNumber()) + 1n
    const a = await request(f)
    await mine(f, 3)
    const b2 = await request(f)
    const job = await insertJob(db)
    const jobFromSub = await insertJob(db)
    const b = broadcaster(f, common(db), { fromBlock: start })
    const r = recorder(f, job)
    const rSub = recorder(f, jobFromSub, { fromBlock: b2.blockNumber })
    b.subscribe(r.sub)
    b.subscribe(rSub.sub)
    await b.poll()
    assert.deepEqual(
      r.delivered.map((l) => l.transactionHash),
      [a.transactionHash, b2.transactionHash],
    )
    // The subscription's own fromBlock is a lower bound.
    assert.deepEqual(
      rSub.delivered.map((l) => l.transactionHash),
      [b2.transactionHash],
    )
  })

  withDb('waits for minConfirmations', async () => {
    const job = await insertJob(db)
    const b = broadcaster(f, common(db))
    const r = recorder(f, job, { minConfirmations: 3 })
    b.subscribe(r.sub)
    await b.poll()
    const receipt = await request(f) // 1 confirmation
    await b.poll()
    assert.equal(r.delivered.length, 0)
    await mine(f) // 2
    await b.poll()
    assert.equal(r.delivered.length, 0)
    await mine(f) // 3
    await b.poll()
    assert.deepEqual(
      r.delivered.map((l) => l.transactionHash),
      [receipt.transactionHash],
    )
    await mine(f, 2)
    await b.poll()
    assert.equal(r.delivered.length, 1)
  })

  withDb(
    'two jobs on the same address each get the log once; other topics are filtered',
    async () => {
      const [j1, j2, j3] = [await insertJob(db), await insertJob(db), await insertJob(db)]
      const b = broadcaster(f, common(db))
      const r1 = recorder(f, j1)
      const r2 = recorder(f, j2)
      // j3 listens to the operator for another event only.
      const r3 = recorder(f, j3, {
        topics: [encodeEventTopics({ abi: OperatorAbi, eventName: 'CancelOracleRequest' })[0]],
      })
      // LINK Transfer logs come from another address: nobody sees them.
      const rLink = recorder(f, j3, { address: f.link, topics: [ORACLE_REQUEST] })
      for (const r of [r1, r2, r3, rLink]) b.subscribe(r.sub)
      await b.poll()
      const receipt = await request(f)
      await b.poll()
      await b.poll()
      assert.equal(r1.delivered.length, 1)
      assert.equal(r2.delivered.length, 1)
      assert.equal(r3.delivered.length, 0)
      assert.equal(rLink.delivered.length, 0)
      assert.equal(r1.delivered[0]!.transactionHash, receipt.transactionHash)
      assert.equal(requestIdOf(r1.delivered[0]!), requestIdOf(r2.delivered[0]!))
      assert.equal((await processed(db, j1)).length, 1)
      assert.equal((await processed(db, j2)).length, 1)
    },
  )

  withDb(
    'a failing onLog rolls back and is retried next poll without holding up later logs',
    async () => {
      const job = await insertJob(db)
      const c = common(db)
      const b = broadcaster(f, c)
      let failures = 1
      const r = recorder(f, job, { fail: () => failures-- > 0 })
      b.subscribe(r.sub)
      await b.poll()
      const first = await request(f)
      await b.poll()
      assert.equal(r.delivered.length, 0)
      assert.equal((await processed(db, job)).length, 0)
      assert.equal(
        (await db.query('SELECT 1 FROM node_settings WHERE key LIKE $1', [`test:${job}:%`])).length,
        0,
      )
      const second = await request(f)
      await b.poll()
      assert.deepEqual(
        r.delivered.map((l) => l.transactionHash),
        [first.transactionHash, second.transactionHash],
      )
      await b.poll()
      assert.equal(r.delivered.length, 2)
      assert.equal((await processed(db, job)).length, 2)
      const failed = await c.metrics
        .getSingleMetric('orakel_log_broadcaster_delivery_failures_total')!
        .get()
      assert.equal(failed.values[0]!.value, 1)
    },
  )

  withDb('a failed log still pending at a restart is delivered by the next instance', async () => {
    const job = await insertJob(db)
    const first = broadcaster(f, common(db))
    first.subscribe(recorder(f, job, { fail: () => true }).sub)
    await first.poll()
    const receipt = await request(f)
    await mine(f, 10) // further than finalityDepth: only the job cursor brings it back
    await first.poll()
    const second = broadcaster(f, common(db))
    const r = recorder(f, job)
    second.subscribe(r.sub)
    await second.poll()
    assert.deepEqual(
      r.delivered.map((l) => l.transactionHash),
      [receipt.transactionHash],
    )
  })

  withDb(
    'subscriptions come and go while running; a new one backfills the finality window',
    async () => {
      const [j1, j2] = [await insertJob(db), await insertJob(db)]
      const b = broadcaster(f, common(db))
      const r1 = recorder(f, j1)
      const unsubscribe = b.subscribe(r1.sub)
      await b.start()
      try {
        const receipt = await request(f)
        await waitFor(() => r1.delivered.length === 1)
        const r2 = recorder(f, j2)
        b.subscribe(r2.sub)
        await waitFor(() => r2.delivered.length === 1)
        assert.equal(r2.delivered[0]!.transactionHash, receipt.transactionHash)
        unsubscribe()
        await request(f)
        await waitFor(() => r2.delivered.length === 2)
        assert.equal(r1.delivered.length, 1)
      } finally {
        await b.stop()
      }
    },
  )

  withDb(
    'backfills in ranges of maxBlockRange without holding up the jobs at the head',
    async () => {
      const start = (await f.client.getBlockNumber()) + 1n
      const old: Hex[] = []
      for (let i = 0; i < 3; i++) {
        old.push((await request(f)).transactionHash)
        await mine(f, 4)
      }
      const [live, late] = [await insertJob(db), await insertJob(db)]
      const b = broadcaster(f, common(db), { maxBlockRange: 3, backfillCallsPerPoll: 1 })
      const rLive = recorder(f, live)
      b.subscribe(rLive.sub)
      await b.poll()
      const rLate = recorder(f, late, { fromBlock: start })
      b.subscribe(rLate.sub)
      await b.poll()
      const fresh = await request(f)
      await b.poll()
      assert.deepEqual(
        rLive.delivered.map((l) => l.transactionHash),
        [fresh.transactionHash],
      )
      assert.ok(rLate.delivered.length < 3, 'the backfill takes several polls')
      for (let i = 0; i < 10; i++) await b.poll()
      assert.deepEqual(
        rLate.delivered.map((l) => l.transactionHash),
        [...old, fresh.transactionHash],
      )
    },
  )

  withDb('works through an RpcPool', async () => {
    const job = await insertJob(db)
    const c = common(db)
    const pool = createRpcPool({
      urls: [f.chain.anvil.rpcUrl],
      chainId: 31337,
      maxLagBlocks: 5,
      logger: c.logger,
    })
    const b = broadcaster(f, c, { pool })
    const r = recorder(f, job)
    b.subscribe(r.sub)
    await b.poll()
    await request(f)
    await b.poll()
    assert.equal(r.delivered.length, 1)
  })
})

describe('createLogBroadcaster and reorgs', () => {
  let f: Fixture
  let db: Db
  before(async () => {
    ;[f, db] = await Promise.all([fixture(), openTestDatabase()])
  })
  after(async () => {
    await db.close()
    await f.chain.stop()
  })
  beforeEach(() => freshNode(f, db))

  it('hands back a log whose block left the chain, and delivers it again once re-included', async () => {
    const c = common(db)
    const job = await insertJob(db)
    const b = broadcaster(f, c, { finalityDepth: 10 })
    const r = recorder(f, job)
    b.subscribe(r.sub)
    await b.poll()

    const raw = await signedRequest(f)
    const hash = await f.client.sendRawTransaction({ serializedTransaction: raw })
    const receipt = await f.client.waitForTransactionReceipt({ hash })
    await b.poll()
    assert.equal(r.delivered.length, 1)
    assert.equal(r.delivered[0]!.blockHash, receipt.blockHash)

    // Replace the request's block with one holding another transaction.
    const stranger = f.chain.stranger
    const other = await stranger.signTransaction(
      (await stranger.prepareTransactionRequest({
        to: stranger.account.address,
        value: 1n,
      })) as never,
    )
    await f.client.request({ method: 'anvil_reorg', params: [1, [[other, 0]]] } as never)
    const replaced = await f.client.getBlock({ blockNumber: receipt.blockNumber })
    assert.notEqual(replaced.hash, receipt.blockHash)
    await b.poll()
    assert.equal(r.removed.length, 1)
    assert.equal(r.removed[0]!.removed, true)
    assert.equal(r.removed[0]!.blockHash, receipt.blockHash)
    assert.equal(r.removed[0]!.transactionHash, hash)
    assert.equal(requestIdOf(r.removed[0]!), requestIdOf(r.delivered[0]!))
    assert.equal((await processed(db, job)).length, 0)
    assert.equal(r.delivered.length, 1)
    // onRemoved ran in the transaction that deleted the row: its own write is there too.
    assert.equal(
      (await db.query('SELECT 1 FROM node_settings WHERE key LIKE $1', [`test:${job}:%`])).length,
      0,
    )

    // The same transaction is mined again in the new chain: delivered once, with the new block.
    await f.client.sendRawTransaction({ serializedTransaction: raw })
    const again = await f.client.waitForTransactionReceipt({ hash })
    assert.equal(again.blockNumber, receipt.blockNumber + 1n)
    await b.poll()
    await b.poll()
    assert.equal(r.delivered.length, 2)
    assert.equal(r.delivered[1]!.blockHash, again.blockHash)
    assert.deepEqual(
      (await processed(db, job)).map((row) => row.block_hash),
      [again.blockHash],
    )

    // A reorg that moves the transaction one block later: removed and delivered in one poll.
    await mine(f)
    await f.client.request({ method: 'anvil_reorg', params: [2, [[raw, 1]]] } as never)
    const moved = await f.client.getTransactionReceipt({ hash })
    assert.equal(moved.blockNumber, again.blockNumber + 1n)
    await b.poll()
    assert.equal(r.removed.length, 2)
    assert.equal(r.removed[1]!.blockHash, again.blockHash)
    assert.equal(r.delivered.length, 3)
    assert.equal(r.delivered[2]!.blockHash, moved.blockHash)
    await b.poll()
    assert.equal(r.delivered.length, 3)

    const reorgs = await c.metrics.getSingleMetric('orakel_log_broadcaster_reorgs_total')!.get()
    assert.equal(reorgs.values[0]!.value, 2)
    // Only the last finalityDepth headers are kept, and they match the chain.
    const headers = await db.query<{ number: unknown; hash: string }>(
      'SELECT number, hash FROM block_headers WHERE chain_id = 31337 ORDER BY number',
    )
    assert.ok(headers.length <= 10)
    const top = headers[headers.length - 1]!
    assert.equal(
      top.hash,
      (await f.client.getBlock({ blockNumber: BigInt(top.number as string) })).hash,
    )
  })

  it('a restarted broadcaster sees a reorg that happened while it was down', async () => {
    const c = common(db)
    const job = await insertJob(db)
    const first = broadcaster(f, c, { finalityDepth: 10 })
    const r1 = recorder(f, job)
    first.subscribe(r1.sub)
    await first.poll()
    const receipt = await request(f)
    await first.poll()
    assert.equal(r1.delivered.length, 1)
    await first.stop()

    const stranger = f.chain.stranger
    const other = await stranger.signTransaction(
      (await stranger.prepareTransactionRequest({
        to: stranger.account.address,
        value: 1n,
      })) as never,
    )
    await f.client.request({ method: 'anvil_reorg', params: [1, [[other, 0]]] } as never)

    const second = broadcaster(f, c, { finalityDepth: 10 })
    const r2 = recorder(f, job)
    second.subscribe(r2.sub)
    await second.poll()
    assert.equal(r2.removed.length, 1)
    assert.equal(r2.removed[0]!.transactionHash, receipt.transactionHash)
    // The stored log comes back whole, not only its position.
    assert.equal(r2.removed[0]!.data, r1.delivered[0]!.data)
    assert.equal(r2.delivered.length, 0)
  })
})

async function waitFor(cond: () => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 10))
  }
}
