/**
 * The whole node under load: one node (PGlite, or the Postgres server named by DATABASE_URL in
 * a schema of its own), anvil with automine, the published get-uint256 job, a keep-alive price
 * source in its own process, and consumer requests sent from another process for
 * `BENCH_DURATION_MS` (after `BENCH_WARMUP_MS`): as fast as anvil takes them (it accepts
 * transactions faster than it mines them, so at most BENCH_MAX_PENDING unmined), or at
 * `BENCH_RATE` requests per second when set. Prints one JSON line:
 *
 * - requests (offered_per_s): requests sent in the window; answered: fulfilments broadcast in
 *   the window; answered_per_s = answered / window length.
 * - latency: from the moment the request's log reached the sender (anvil's `logs`
 *   subscription, i.e. the request was mined) to the fulfilment's `eth_txes.broadcast_at`,
 *   for the requests mined in the window; unanswered ones (after a drain) are counted apart.
 * - peak_rss_mb: the node's process (this one), sampled every 50 ms.
 * - node_cpu_ms_per_answer: CPU time of the node's process (not anvil's, nor the Postgres
 *   server's) from the first request to the last answer, per answered request.
 * - anvil_stall_mines: blocks the benchmark mined because anvil's automine had stalled.
 *
 * BENCH_POLL_MS sets the node's chain.pollIntervalMs (default 20), BENCH_MAX_PENDING the
 * requests sent but not yet mined (default 32), BENCH_CONSUMERS the PriceConsumer contracts
 * (default 4); for looking inside, BENCH_LOG=<level> shows the node's log and
 * BENCH_QUERY_STATS=1 prints the node's statements by count to stderr.
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Address, encodeFunctionData, type Hex, numberToHex } from 'viem'
import { PriceConsumerAbi } from '../artifacts/abis.ts'
import { ANVIL_PRIVATE_KEYS, startAnvil } from '../src/chain/anvil.ts'
import { type ChainClient, createChainClient } from '../src/chain/client.ts'
import { deployPriceConsumer, deployTestCore, LINK, type TestChain } from '../src/chain/testing.ts'
import { createLogger } from '../src/common.ts'
import { databaseParams, defaultConfig, type NodeConfig } from '../src/config/config.ts'
import { encryptKeystore } from '../src/crypto/keystore.ts'
import { createEthKeyStore } from '../src/keys/eth-keys.ts'
import { ORACLE_REQUEST_TOPIC, specIdOf } from '../src/node/directrequest.ts'
import { type OracleNode, startNode } from '../src/node/node.ts'
import { openDatabase, type Queryable } from '../src/store/db.ts'
import { testDatabaseUrl } from '../src/store/testing.ts'

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 30_000)
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 2_000)
/** Requests per second; unset: as fast as anvil accepts them. */
const RATE = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : undefined
/** Without BENCH_RATE: most requests sent but not yet mined. */
const MAX_PENDING = Number(process.env.BENCH_MAX_PENDING ?? 32)
const CONSUMERS = Number(process.env.BENCH_CONSUMERS ?? 4)
/** The node's chain.pollIntervalMs (log broadcaster and transaction manager). */
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 20)
/** After the window: how long to wait for the last answers while none arrive. */
const DRAIN_IDLE_MS = 10_000
const DRAIN_MAX_MS = 120_000
const PASSWORD = 'bench'

/** What the sender process is told. */
type SenderParams = {
  rpcUrl: string
  operator: Address
  from: Address
  consumers: Address[]
  data: Hex
  gas: Hex
  nonce: number
  warmupMs: number
  durationMs: number
  rate: number | undefined
  maxPending: number
}

/** What it reports: its window (epoch ms) and when each request was seen mined. */
type SenderReport = {
  windowStart: number
  windowEnd: number
  sentTotal: number
  sentInWindow: number
  seen: [requestId: string, at: number][]
  errors: string[]
}

const now = () => performance.timeOrigin + performance.now()

// ---------------------------------------------------------------------------------------------
// The request sender (a child process, so it does not share the node's event loop)
// ---------------------------------------------------------------------------------------------

async function sender(p: SenderParams): Promise<SenderReport> {
  const seen = new Map<string, number>()
  const errors: string[] = []
  const ws = new WebSocket(p.rpcUrl.replace(/^http/, 'ws'))
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve()
    ws.onerror = () => reject(new Error('cannot open a websocket to anvil'))
  })
  const subscribed = new Promise<void>((resolve) => {
    ws.onmessage = (event: MessageEvent) => {
      const at = now()
      const msg = JSON.parse(String(event.data)) as {
        id?: number
        method?: string
        params?: { result: { data: Hex } }
      }
      if (msg.id === 1) return resolve()
      if (msg.method !== 'eth_subscription' || !msg.params) return
      // OracleRequest data: requester, requestId, ... (one 32-byte word each).
      const requestId = `0x${msg.params.result.data.slice(66, 130)}`
      if (!seen.has(requestId)) seen.set(requestId, at)
    }
  })
  ws.send(
    JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'eth_subscribe',
      params: ['logs', { address: p.operator, topics: [ORACLE_REQUEST_TOPIC] }],
    }),
  )
  await subscribed

  const rpc = async (body: unknown) => {
    const res = await fetch(p.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    return res.json() as Promise<unknown>
  }
  const request = (nonce: number, to: Address, id = 0) => ({
    jsonrpc: '2.0',
    id,
    // Anvil signs: its accounts are unlocked.
    method: 'eth_sendTransaction',
    params: [
      {
        from: p.from,
        to,
        data: p.data,
        gas: p.gas,
        maxFeePerGas: numberToHex(10n ** 11n),
        maxPriorityFeePerGas: numberToHex(10n ** 9n),
        nonce: numberToHex(nonce),
      },
    ],
  })

  let nonce = p.nonce
  let next = 0
  let sentTotal = 0
  let sentInWindow = 0
  const start = now()
  const windowStart = start + p.warmupMs
  const windowEnd = windowStart + p.durationMs
  /**
   * Sends `n` requests in one JSON-RPC batch. One batch at a time: with several in flight,
   * anvil now and then loses one, and every later nonce waits behind the gap.
   */
  const sendBatch = async (n: number) => {
    const body = Array.from({ length: n }, (_, i) =>
      request(nonce++, p.consumers[next++ % p.consumers.length]!, i),
    )
    const answers = (await rpc(body)) as { error?: { message: string } }[]
    const at = now()
    for (const a of answers) {
      if (a.error) {
        if (errors.length < 5) errors.push(a.error.message)
        continue
      }
      sentTotal++
      if (at >= windowStart && at <= windowEnd) sentInWindow++
    }
  }
  // Should a transaction get lost all the same, send its nonce again.
  let lastSeen = -1
  const repair = setInterval(async () => {
    const stalled = seen.size === lastSeen && seen.size < sentTotal
    lastSeen = seen.size
    if (!stalled) return
    try {
      const { result } = (await rpc({
        jsonrpc: '2.0',
        id: 0,
        method: 'eth_getTransactionCount',
        params: [p.from, 'latest'],
      })) as { result: Hex }
      const mined = Number(result)
      if (mined < nonce) await rpc(request(mined, p.consumers[0]!))
    } catch (err) {
      if (errors.length < 5) errors.push(String(err))
    }
  }, 500)

  if (p.rate === undefined) {
    // As fast as anvil takes them: anvil accepts transactions faster than it mines them, so
    // keep at most `maxPending` requests sent but not yet mined (seen).
    while (now() < windowEnd) {
      const room = Math.min(p.maxPending - (sentTotal - seen.size), 16)
      if (room > 0) await sendBatch(room)
      else await new Promise((r) => setTimeout(r, 1))
    }
  } else {
    // Open loop at a fixed rate: whatever is due, every few milliseconds.
    let due = 0
    while (now() < windowEnd) {
      const target = Math.floor(((now() - start) * p.rate) / 1000)
      if (target > due) {
        const n = Math.min(target - due, 64)
        due += n
        await sendBatch(n)
      } else {
        await new Promise((r) => setTimeout(r, 2))
      }
    }
  }
  // Automine: the last requests are mined at once; give their logs a moment to arrive.
  await new Promise((r) => setTimeout(r, 1000))
  clearInterval(repair)
  ws.close()
  return { windowStart, windowEnd, sentTotal, sentInWindow, seen: [...seen], errors }
}

if (process.argv[2] === 'sender') {
  const [params] = (await once(process, 'message')) as [SenderParams]
  const report = await sender(params)
  process.send!(report, () => process.exit(0))
} else {
  await main()
}

// ---------------------------------------------------------------------------------------------
// The node and everything around it
// ---------------------------------------------------------------------------------------------

async function main() {
  const SOURCE = `
    const server = require('node:http').createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"data":{"price":3012.34}}')
    })
    server.keepAliveTimeout = 60000
    server.listen(0, '127.0.0.1', () => console.log(server.address().port))
  `
  const sourceProcess = spawn(process.execPath, ['-e', SOURCE], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [port] = (await once(sourceProcess.stdout!, 'data')) as [Buffer]
  const priceUrl = `http://127.0.0.1:${port.toString().trim()}/price`

  // As startTestChain(), with `--prune-history`: anvil otherwise writes the state of older
  // blocks to ~/.foundry/anvil/tmp, gigabytes per run at this rate, and leaves them there.
  // The base fee starts at 0 (BENCH_BASE_FEE_WEI): hundreds of blocks a second, each more than
  // half full when sends arrive in batches, would otherwise double it every few dozen
  // milliseconds, a fee market no chain has, and the benchmark would measure fee bumping.
  const anvil = await startAnvil({
    args: [
      '--prune-history',
      '1000',
      '--block-base-fee-per-gas',
      process.env.BENCH_BASE_FEE_WEI ?? '0',
    ],
  })
  const [owner, nodeKey, stranger, outsider] = (await Promise.all(
    ANVIL_PRIVATE_KEYS.slice(0, 4).map((privateKey) =>
      createChainClient({ rpcUrl: anvil.rpcUrl, privateKey, pollingInterval: 20 }),
    ),
  )) as [ChainClient, ChainClient, ChainClient, ChainClient]
  const chain: TestChain = {
    anvil,
    owner,
    node: nodeKey,
    stranger,
    outsider,
    stop: () => anvil.stop(),
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'orakel-bench-node-'))
  const database = await testDatabaseUrl()
  let node: OracleNode | undefined
  let senderProcess: ChildProcess | undefined
  try {
    const core = await deployTestCore(chain)
    const consumers: Address[] = []
    for (let i = 0; i < CONSUMERS; i++) {
      const consumer = await deployPriceConsumer(
        chain,
        core.linkToken,
        core.operator,
        1_000_000n * LINK,
      )
      consumers.push(consumer)
    }

    const base = defaultConfig()
    const config: NodeConfig = {
      ...base,
      node: { dataDir },
      chain: { ...base.chain, id: 31337, rpcUrls: [chain.anvil.rpcUrl], pollIntervalMs: POLL_MS },
      // On automine a block is a transaction, not a time: hundreds a second. The default of 3
      // blocks (half a minute on mainnet) would replace transactions that are merely waiting
      // for anvil to mine them (BENCH_BUMP_AFTER_BLOCKS).
      txm: { ...base.txm, bumpAfterBlocks: Number(process.env.BENCH_BUMP_AFTER_BLOCKS ?? 500) },
      database: { url: database?.url ?? '' },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
      security: { allowUnrestrictedNetworkAccess: true },
      keystore: { password: PASSWORD },
    }
    // The node's key is anvil's account 1, the one deployTestCore authorized on the Operator.
    const db = await openDatabase(databaseParams(config))
    await createEthKeyStore(db).import(
      await encryptKeystore(ANVIL_PRIVATE_KEYS[1], PASSWORD, { scryptN: 1024 }),
      PASSWORD,
    )
    await db.close()

    let peakRss = process.memoryUsage.rss()
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss())
    }, 50)
    node = await startNode({
      config,
      logger: process.env.BENCH_LOG
        ? createLogger({ level: process.env.BENCH_LOG as 'info' })
        : createLogger({ silent: true }),
    })

    const queryStats = process.env.BENCH_QUERY_STATS ? countQueries(node.common.db) : undefined
    const externalJobID = randomUUID()
    const toml = readFileSync(
      join(import.meta.dirname, '..', 'test', 'fixtures', 'get-uint256.toml'),
      'utf8',
    )
      .replace(/externalJobID = ".*"/, `externalJobID = "${externalJobID}"`)
      .replaceAll('0x613a38AC1659769640aaE063C651F48E0250454C', core.operator)
    const res = await fetch(`${node.apiUrl}/v2/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${node.apiToken}`, 'content-type': 'application/toml' },
      body: toml,
    })
    if (res.status !== 201) throw new Error(`creating the job failed: ${await res.text()}`)

    const args = [specIdOf(externalJobID), LINK / 10n, priceUrl, 'data,price', 100n, true] as const
    const gas = await chain.owner.estimateContractGas({
      address: consumers[0]!,
      abi: PriceConsumerAbi,
      functionName: 'requestValue',
      args,
    })
    const params: SenderParams = {
      rpcUrl: chain.anvil.rpcUrl,
      operator: core.operator,
      from: chain.owner.account.address,
      consumers,
      data: encodeFunctionData({ abi: PriceConsumerAbi, functionName: 'requestValue', args }),
      gas: numberToHex((gas * 3n) / 2n),
      nonce: await chain.owner.getTransactionCount({
        address: chain.owner.account.address,
        blockTag: 'pending',
      }),
      warmupMs: WARMUP_MS,
      durationMs: DURATION_MS,
      rate: RATE,
      maxPending: MAX_PENDING,
    }
    senderProcess = spawn(process.execPath, [import.meta.filename, 'sender'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    // Anvil's automine now and then stops mining: transactions stay pending in its pool, the
    // node's as well (foundry-rs/foundry#10122). When the pool has pending transactions and no
    // block came for 200 ms, mine one, as a real chain's next block would.
    let stallMines = 0
    let lastBlock = -1n
    let pendingBefore = false
    let checking = false
    const watchdog = setInterval(async () => {
      if (checking) return
      checking = true
      try {
        const [status, block] = await Promise.all([
          chain.owner.request({ method: 'txpool_status' } as never) as Promise<{ pending: Hex }>,
          chain.owner.getBlockNumber({ cacheTime: 0 }),
        ])
        const pending = Number(status.pending) > 0
        if (pending && pendingBefore && block === lastBlock) {
          await chain.owner.request({ method: 'evm_mine', params: [] } as never)
          stallMines++
        }
        pendingBefore = pending
        lastBlock = block
      } catch {
        // Next time.
      } finally {
        checking = false
      }
    }, 200)
    const cpuAtStart = process.cpuUsage()
    senderProcess.send(params)
    const [report] = (await once(senderProcess, 'message')) as [SenderReport]
    if (report.errors.length > 0) console.error('sender errors:', report.errors)

    // Drain: wait for the answers to the requests mined in the window.
    const inWindow = report.seen.filter(
      ([, at]) => at >= report.windowStart && at <= report.windowEnd,
    )
    const broadcasts = async () =>
      new Map(
        (
          await node!.common.db.query<{ request_id: string; at: number }>(
            `SELECT r.request_id, (extract(epoch FROM t.broadcast_at) * 1000)::float8 AS at
             FROM eth_txes t JOIN job_runs r ON r.run_id::text = split_part(t.idempotency_key, '/', 1)
             WHERE t.broadcast_at IS NOT NULL`,
          )
        ).map((r) => [r.request_id.toLowerCase(), Number(r.at)]),
      )
    // Progress by a cheap count; the join once at the end.
    const broadcastCount = async () => {
      const [row] = await node!.common.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM eth_txes WHERE broadcast_at IS NOT NULL',
      )
      return Number(row!.n)
    }
    let answers = await broadcasts()
    let count = answers.size
    const drainStart = Date.now()
    let lastProgress = Date.now()
    let cpuAtLastAnswer = process.cpuUsage()
    while (!inWindow.every(([id]) => answers.has(id))) {
      if (Date.now() - lastProgress > DRAIN_IDLE_MS || Date.now() - drainStart > DRAIN_MAX_MS) break
      await new Promise((r) => setTimeout(r, 200))
      const n = await broadcastCount()
      if (n === count) continue
      count = n
      lastProgress = Date.now()
      cpuAtLastAnswer = process.cpuUsage()
      if (n >= report.sentTotal) answers = await broadcasts()
    }
    answers = await broadcasts()
    clearInterval(sampler)
    clearInterval(watchdog)
    queryStats?.print()

    const latencies = inWindow
      .filter(([id]) => answers.has(id))
      .map(([id, at]) => answers.get(id)! - at)
      .sort((a, b) => a - b)
    const pct = (p: number) =>
      latencies.length === 0
        ? null
        : Number(
            latencies[
              Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))
            ]!.toFixed(1),
          )
    const answered = [...answers.values()].filter(
      (at) => at >= report.windowStart && at <= report.windowEnd,
    ).length
    const seconds = (report.windowEnd - report.windowStart) / 1000
    const cpuMs =
      (cpuAtLastAnswer.user - cpuAtStart.user + cpuAtLastAnswer.system - cpuAtStart.system) / 1000
    console.log(
      JSON.stringify({
        bench: 'node',
        case: database ? 'postgres' : 'pglite',
        duration_s: Number(seconds.toFixed(1)),
        offered_per_s: Math.round(report.sentInWindow / seconds),
        requests: report.sentInWindow,
        answered,
        answered_per_s: Math.round(answered / seconds),
        unanswered: inWindow.length - latencies.length,
        latency_p50_ms: pct(50),
        latency_p99_ms: pct(99),
        peak_rss_mb: Math.round(peakRss / 2 ** 20),
        node_cpu_ms_per_answer: Number((cpuMs / answers.size).toFixed(2)),
        anvil_stall_mines: stallMines,
      }),
    )
  } finally {
    senderProcess?.kill()
    await node?.stop()
    await chain.stop()
    sourceProcess.kill()
    await database?.drop()
    await rm(dataDir, { recursive: true, force: true })
  }
  process.exit(0)
}

/** Counts the node's statements by text (BENCH_QUERY_STATS=1), printed to stderr. */
function countQueries(db: OracleNode['common']['db']) {
  const stats = new Map<string, { n: number; ms: number }>()
  const wrap =
    (query: Queryable['query']): Queryable['query'] =>
    async (sql, params) => {
      const t0 = performance.now()
      try {
        return await query(sql, params)
      } finally {
        const key = sql.replace(/\s+/g, ' ').trim().slice(0, 110)
        const s = stats.get(key) ?? { n: 0, ms: 0 }
        s.n++
        s.ms += performance.now() - t0
        stats.set(key, s)
      }
    }
  const query = db.query
  const transaction = db.transaction
  db.query = wrap(query)
  db.transaction = (fn) =>
    transaction((tx) => {
      const s = stats.get('(transaction)') ?? { n: 0, ms: 0 }
      s.n++
      stats.set('(transaction)', s)
      return fn({ query: wrap(tx.query) })
    })
  return {
    print() {
      for (const [sql, s] of [...stats].sort((a, b) => b[1].n - a[1].n)) {
        console.error(String(s.n).padStart(7), s.ms.toFixed(0).padStart(7), 'ms', sql)
      }
    },
  }
}
