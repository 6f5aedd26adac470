/**
 * The whole node under load: one node (PGlite, or the Postgres server named by DATABASE_URL in
 * a schema of its own), anvil, the published get-uint256 job, a keep-alive price source in its
 * own process, and consumer requests signed ahead and sent raw from another process for
 * `BENCH_DURATION_MS` (after `BENCH_WARMUP_MS`): as fast as anvil takes them (it accepts
 * transactions faster than it mines them, so at most BENCH_MAX_PENDING unmined), or at
 * `BENCH_RATE` requests per second when set. One JSON line per chain (BENCH_MINING): anvil's
 * automine, as the issue asks, and 100 ms interval mining. On automine anvil itself is the
 * bottleneck: it recomputes its state root over its whole state for every block, one block per
 * arrival, and every answered request leaves slots behind (docs/benchmarks.md).
 *
 * - requests (offered_per_s): requests sent in the window; answered: fulfilments broadcast in
 *   the window; answered_per_s = answered / window length.
 * - latency: from the moment the request's log reached the sender (anvil's `logs`
 *   subscription, i.e. the request was mined) to the fulfilment's `eth_txes.broadcast_at`,
 *   for the requests mined in the window; unanswered ones (after a drain) are counted apart.
 * - peak_rss_mb: the node's process (this one), sampled every 50 ms.
 * - node_cpu_ms_per_answer: CPU time of the node's process (not anvil's, nor the Postgres
 *   server's) from the first request to the last answer, per answered request.
 * - anvil_stall_mines: blocks the benchmark mined because anvil's automine had stalled;
 *   anvil_cpu_pct: anvil's CPU over the run (100 = one core); anvil_blocks: blocks mined;
 *   anvil_empty_block_ms: what one empty block costs anvil after the run.
 *
 * BENCH_POLL_MS sets the node's chain.pollIntervalMs (default 20), BENCH_MAX_IN_FLIGHT its
 * txm.maxInFlight (default 256), BENCH_MAX_PENDING the requests sent but not yet mined
 * (default 32), BENCH_CONSUMERS the PriceConsumer contracts (default 4), BENCH_PRESIGN the
 * requests signed before the window; for looking inside, BENCH_LOG=<level> shows the node's
 * log, BENCH_QUERY_STATS=1 prints the node's statements by count, BENCH_RPC_STATS=1 its
 * JSON-RPC calls by method, BENCH_STAGES=1 where the latency goes and BENCH_STALLS=1 the
 * pool at each automine stall (all to stderr).
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Address, encodeFunctionData, type Hex, numberToHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
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
import { percentile } from './stats.ts'

/**
 * The chains the node is measured on, one line each: `auto` (anvil's automine, a block per
 * arrival) and, as a number, interval mining every so many milliseconds (BENCH_MINING, e.g.
 * `auto`, `100` or `auto,100`).
 */
const MINING = (process.env.BENCH_MINING ?? 'auto,100').split(',').map((m) => {
  const mode = m.trim()
  if (mode !== 'auto' && !(Number(mode) > 0)) {
    throw new Error(`BENCH_MINING: "${mode}" is neither auto nor a block time in milliseconds`)
  }
  return mode
})
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 30_000)
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 2_000)
/** Requests per second; unset: as fast as anvil accepts them. */
const RATE = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : undefined
/** Without BENCH_RATE: most requests sent but not yet mined. */
const MAX_PENDING = Number(process.env.BENCH_MAX_PENDING ?? 32)
/** Requests signed before the window (with BENCH_RATE: what the window needs, and a margin). */
const PRESIGN = Number(
  process.env.BENCH_PRESIGN ??
    (RATE ? Math.ceil((RATE * (WARMUP_MS + DURATION_MS)) / 1000) + 500 : 16_000),
)
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
  privateKey: Hex
  chainId: number
  /** Requests signed before the window opens. */
  presign: number
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
  // Requests are signed here, ahead of the window, and sent raw. Not `eth_sendTransaction`:
  // anvil 1.7 parks a transaction it signs itself in its "queued" pool, for good, when an
  // earlier nonce of the same sender is mined while it arrives, and nothing mines it after.
  const account = privateKeyToAccount(p.privateKey)
  const signed: Hex[] = []
  const sign = async (upTo: number) => {
    while (signed.length < upTo) {
      const i = signed.length
      signed.push(
        await account.signTransaction({
          type: 'eip1559',
          chainId: p.chainId,
          nonce: p.nonce + i,
          to: p.consumers[i % p.consumers.length]!,
          data: p.data,
          gas: BigInt(p.gas),
          maxFeePerGas: 10n ** 11n,
          maxPriorityFeePerGas: 10n ** 9n,
        }),
      )
    }
  }
  await sign(p.presign)
  const request = (nonce: number, id = 0) => ({
    jsonrpc: '2.0',
    id,
    method: 'eth_sendRawTransaction',
    params: [signed[nonce - p.nonce]],
  })

  let nonce = p.nonce
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
    // Past the presigned ones (a flood that outran BENCH_PRESIGN), sign on the way.
    await sign(nonce - p.nonce + n)
    const body = Array.from({ length: n }, (_, i) => request(nonce++, i))
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
      if (mined < nonce) await rpc(request(mined))
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
} else if (process.argv[2] === 'case') {
  await main(process.argv[3] === 'auto' ? undefined : Number(process.argv[3]))
} else {
  // Each case in a process of its own: its peak memory and CPU are its own.
  for (const mining of MINING) {
    const child = spawn(process.execPath, [import.meta.filename, 'case', mining], {
      stdio: 'inherit',
    })
    const [code] = (await once(child, 'exit')) as [number | null]
    if (code !== 0) process.exit(code ?? 1)
  }
}

// ---------------------------------------------------------------------------------------------
// The node and everything around it
// ---------------------------------------------------------------------------------------------

/** `blockMs`: anvil mines every so many milliseconds; undefined: automine. */
async function main(blockMs: number | undefined) {
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
      ...(blockMs ? ['--block-time', String(blockMs / 1000)] : []),
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
      // With the default 64 in flight, the node's answers queued in its own table behind the
      // chain. Unbounded (4096), on automine, a thousand of them gathered in anvil's pool now
      // and then and anvil slowed down for the rest of the run (BENCH_MAX_IN_FLIGHT).
      txm: {
        ...base.txm,
        bumpAfterBlocks: Number(process.env.BENCH_BUMP_AFTER_BLOCKS ?? 500),
        maxInFlight: Number(process.env.BENCH_MAX_IN_FLIGHT ?? 256),
      },
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
    const rpcStats = process.env.BENCH_RPC_STATS ? countRpcCalls(chain.anvil.rpcUrl) : undefined
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
      privateKey: ANVIL_PRIVATE_KEYS[0],
      chainId: 31337,
      presign: PRESIGN,
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
          // BENCH_STALLS=1: what anvil's pool held when it stopped mining.
          if (process.env.BENCH_STALLS) {
            const [owner, node] = await Promise.all(
              [chain.owner, chain.node].map(async (c) => [
                await c.getTransactionCount({ address: c.account.address, blockTag: 'latest' }),
                await c.getTransactionCount({ address: c.account.address, blockTag: 'pending' }),
              ]),
            )
            console.error('stall', JSON.stringify(status), 'sender', owner, 'node', node)
          }
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
    const anvilCpuAtStart = processCpuMs(chain.anvil.process.pid!)
    const blockAtStart = Number(await chain.owner.getBlockNumber({ cacheTime: 0 }))
    const runStart = performance.now()
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
    const anvilCpuMs = processCpuMs(chain.anvil.process.pid!) - anvilCpuAtStart
    // What one block costs anvil now, empty: it recomputes the state root over its whole state.
    const mineStart = performance.now()
    await chain.owner.request({ method: 'evm_mine', params: [] } as never)
    const emptyBlockMs = performance.now() - mineStart
    const blocks = Number(await chain.owner.getBlockNumber({ cacheTime: 0 })) - blockAtStart
    clearInterval(sampler)
    clearInterval(watchdog)
    queryStats?.print()
    if (process.env.BENCH_STAGES) await printStages(node.common.db, new Map(inWindow))
    rpcStats?.print()

    const latencies = inWindow
      .filter(([id]) => answers.has(id))
      .map(([id, at]) => answers.get(id)! - at)
      .sort((a, b) => a - b)
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
        mining: blockMs ? `interval_${blockMs}ms` : 'auto',
        duration_s: Number(seconds.toFixed(1)),
        offered_per_s: Math.round(report.sentInWindow / seconds),
        requests: report.sentInWindow,
        answered,
        answered_per_s: Math.round(answered / seconds),
        unanswered: inWindow.length - latencies.length,
        latency_p50_ms: percentile(latencies, 50),
        latency_p99_ms: percentile(latencies, 99),
        peak_rss_mb: Math.round(peakRss / 2 ** 20),
        node_cpu_ms_per_answer: Number((cpuMs / answers.size).toFixed(2)),
        anvil_stall_mines: stallMines,
        anvil_cpu_pct: Math.round((anvilCpuMs / (performance.now() - runStart)) * 100),
        anvil_blocks: blocks,
        anvil_empty_block_ms: Number(emptyBlockMs.toFixed(1)),
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

/** Where the latency goes (BENCH_STAGES=1): percentiles of each stage, to stderr. */
async function printStages(db: Queryable, minedAt: Map<string, number>) {
  const rows = await db.query<Record<string, unknown>>(
    `SELECT r.request_id,
       (extract(epoch FROM r.created_at) * 1000)::float8 AS run_created,
       (extract(epoch FROM r.finished_at) * 1000)::float8 AS run_finished,
       (extract(epoch FROM t.created_at) * 1000)::float8 AS tx_created,
       (extract(epoch FROM t.broadcast_at) * 1000)::float8 AS broadcast
     FROM eth_txes t JOIN job_runs r ON r.run_id::text = split_part(t.idempotency_key, '/', 1)
     WHERE t.broadcast_at IS NOT NULL`,
  )
  const stages: Record<string, number[]> = {
    'mined → run created': [],
    'run created → finished': [],
    'run finished → tx created': [],
    'tx created → broadcast': [],
  }
  for (const r of rows) {
    const mined = minedAt.get(String(r.request_id).toLowerCase())
    if (mined === undefined) continue
    const [c, f, t, b] = [r.run_created, r.run_finished, r.tx_created, r.broadcast].map(Number)
    stages['mined → run created']!.push(c! - mined)
    stages['run created → finished']!.push(f! - c!)
    stages['run finished → tx created']!.push(t! - f!)
    stages['tx created → broadcast']!.push(b! - t!)
  }
  for (const [name, values] of Object.entries(stages)) {
    values.sort((a, b) => a - b)
    console.error(
      name.padEnd(28),
      `p50 ${percentile(values, 50)} ms  p99 ${percentile(values, 99)} ms  (n=${values.length})`,
    )
  }
}

/** CPU time (user + system) a process has used so far, from Linux's /proc; NaN elsewhere. */
function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
  } catch {
    return Number.NaN
  }
}

/** Counts the JSON-RPC calls this process sends to anvil by method (BENCH_RPC_STATS=1). */
function countRpcCalls(rpcUrl: string) {
  const stats = new Map<string, number>()
  const original = globalThis.fetch
  globalThis.fetch = (input, init) => {
    if (String(input instanceof Request ? input.url : input).startsWith(rpcUrl)) {
      try {
        const body = JSON.parse(String(init?.body)) as { method: string } | { method: string }[]
        for (const call of Array.isArray(body) ? body : [body]) {
          stats.set(call.method, (stats.get(call.method) ?? 0) + 1)
        }
      } catch {
        stats.set('(unreadable)', (stats.get('(unreadable)') ?? 0) + 1)
      }
    }
    return original(input, init)
  }
  return {
    print() {
      for (const [method, n] of [...stats].sort((a, b) => b[1] - a[1])) {
        console.error(String(n).padStart(7), method)
      }
    },
  }
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
