import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomInt, randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import type { Address, Hex } from 'viem'
import { OperatorAbi, PriceConsumerAbi } from '../../artifacts/abis.ts'
import { type SimulatedSource, startSimulatedSource } from '../../src/adapters/sources/simulated.ts'
import { ANVIL_PRIVATE_KEYS } from '../../src/chain/anvil.ts'
import type { CoreDeployment } from '../../src/chain/deploy.ts'
import { oracleRequestsIn } from '../../src/chain/operator-events.ts'
import { LINK, send, type TestChain } from '../../src/chain/testing.ts'
import { databaseParams, loadConfig, type NodeConfig } from '../../src/config/config.ts'
import { encryptKeystore } from '../../src/crypto/keystore.ts'
import { createEthKeyStore } from '../../src/keys/eth-keys.ts'
import { specIdOf } from '../../src/node/directrequest.ts'
import { openDatabase } from '../../src/store/db.ts'
import { testDatabaseUrl } from '../../src/store/testing.ts'
import { GET_UINT256, startConsumerChain } from './node-setup.ts'

/**
 * Crash safety with real process kills: `orakel node start` runs as a child process (PGlite in
 * its data directory, or a Postgres schema of its own with DATABASE_URL) and is SIGKILLed at
 * randomised moments while consumers' requests come in, some while it is up and some while it
 * is down; then it is restarted, several times over. At the end every request must be answered
 * exactly once on chain, with exactly one run each, and the node key's nonces must have no gap.
 *
 * Kill points. The node has no test hooks; its log lines serve as hooks instead. It logs (JSON
 * on stderr, written synchronously) right after each of the issue's boundaries:
 *   - `log delivered`     the processed_logs row and the run committed (log broadcaster)
 *   - `request accepted`  the run row inserted, its transaction not yet committed
 *   - `nonce assigned`    a transaction got its nonce (committed)
 *   - `attempt persisted` a signed attempt is stored, not yet sent
 *   - `attempt broadcast` anvil accepted (and, automining, already mined) the attempt, which is
 *                         marked broadcast
 * A "boundary" cycle waits for one of these lines and kills 0–15 ms later (the signal lands a
 * little after the line, so this hits the boundary and the moments right after it). "Timer"
 * cycles kill 0–800 ms after a request; "startup" cycles 0–800 ms after the process logs its
 * first job (`job active`): while it resumes runs, backfills logs and starts its API. The seed
 * is printed; set ORAKEL_CRASH_SEED to replay a sequence (timing still varies a little).
 */
const PASSWORD = 'correct horse battery staple'
const MAIN = join(import.meta.dirname, '../../src/cli/main.ts')
const REQUESTS = 6
const CYCLES = 6
const UP_REQUESTS = 4
const BOUNDARIES = [
  'log delivered',
  'request accepted',
  'nonce assigned',
  'attempt persisted',
  'attempt broadcast',
] as const

/** mulberry32: a small seedable PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

type LogLine = { msg?: string; level?: number; api?: string; [k: string]: unknown }

/** One `orakel node start` process and its log lines. */
type NodeProcess = {
  child: ChildProcess
  lines: LogLine[]
  /** The last lines of raw output, for failure messages. */
  tail: string[]
  exited: Promise<void>
  /** Resolves with the first line (from `since` on) matching `match`, or undefined after `ms`. */
  waitLine(match: (l: LogLine) => boolean, ms: number, since?: number): Promise<LogLine | undefined>
}

const children = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})

function spawnNode(configFile: string, secretsFile: string): NodeProcess {
  // DATABASE_URL would override the secrets file's URL (the test's own schema).
  const { DATABASE_URL: _, ORAKEL_KEYSTORE_PASSWORD: __, ...env } = process.env
  const child = spawn(
    process.execPath,
    [MAIN, 'node', 'start', '--config', configFile, '--secrets', secretsFile],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  children.add(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  exited.then(() => children.delete(child))
  const lines: LogLine[] = []
  const tail: string[] = []
  const waiters = new Set<() => void>()
  createInterface({ input: child.stderr! }).on('line', (raw) => {
    tail.push(raw)
    if (tail.length > 40) tail.shift()
    try {
      lines.push(JSON.parse(raw) as LogLine)
    } catch {
      lines.push({ msg: raw })
    }
    for (const w of waiters) w()
  })
  const waitLine: NodeProcess['waitLine'] = (match, ms, since = 0) =>
    new Promise((resolve) => {
      let i = since
      const check = () => {
        for (; i < lines.length; i++) {
          if (match(lines[i]!)) {
            done(lines[i])
            return
          }
        }
      }
      const timer = setTimeout(() => done(undefined), ms)
      const onExit = () => done(undefined)
      const done = (v: LogLine | undefined) => {
        clearTimeout(timer)
        waiters.delete(check)
        child.off('exit', onExit)
        resolve(v)
      }
      waiters.add(check)
      child.once('exit', onExit)
      check()
    })
  return { child, lines, tail, exited, waitLine }
}

describe(`oracle node, crash safety with SIGKILL (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  let chain: TestChain
  let source: SimulatedSource
  let core: CoreDeployment
  let consumer: Address
  let nodeKey: Address
  let dataDir: string
  let configFile: string
  let secretsFile: string
  let config: NodeConfig
  let database: Awaited<ReturnType<typeof testDatabaseUrl>>
  let proc: NodeProcess | undefined
  let apiUrl = ''
  const startups: number[] = []

  before(async () => {
    ;({ chain, core, consumer } = await startConsumerChain())
    source = await startSimulatedSource({ pairs: { 'ETH-USD': 3000 }, seed: 5 })
    nodeKey = chain.node.account.address
    dataDir = await mkdtemp(join(tmpdir(), 'orakel-crash-'))
    database = await testDatabaseUrl()
    configFile = join(dataDir, 'node.toml')
    secretsFile = join(dataDir, 'secrets.toml')
    await writeFile(
      configFile,
      [
        '[node]',
        `dataDir = ${JSON.stringify(join(dataDir, 'node'))}`,
        '[chain]',
        'id = 31337',
        `rpcUrls = [${JSON.stringify(chain.anvil.rpcUrl)}]`,
        'pollIntervalMs = 50',
        '[http]',
        'host = "127.0.0.1"',
        'port = 0',
        '[log]',
        'level = "debug"',
        '[security]',
        'allowUnrestrictedNetworkAccess = true',
        '',
      ].join('\n'),
    )
    await writeFile(
      secretsFile,
      [
        '[keystore]',
        `password = ${JSON.stringify(PASSWORD)}`,
        ...(database ? ['[database]', `url = ${JSON.stringify(database.url)}`] : []),
        '',
      ].join('\n'),
    )
    config = await loadConfig({ configFile, secretsFile, env: {} })
    // The node's key is anvil's account 1, the one deployTestCore authorized on the Operator.
    const db = await openDatabase(databaseParams(config))
    await createEthKeyStore(db).import(
      await encryptKeystore(ANVIL_PRIVATE_KEYS[1], PASSWORD, { scryptN: 1024 }),
      PASSWORD,
    )
    await db.close()
  })
  after(async () => {
    if (proc) {
      proc.child.kill('SIGKILL')
      await proc.exited
    }
    await chain?.stop()
    await source?.stop()
    await database?.drop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  /** Starts the node; with `ready`, waits until it serves its API. */
  const start = async (ready: boolean) => {
    proc = spawnNode(configFile, secretsFile)
    if (!ready) return proc
    const t0 = Date.now()
    const started = await proc.waitLine((l) => l.msg === 'node started', 30_000)
    assert.ok(started?.api, `the node did not start:\n${proc.tail.join('\n')}`)
    startups.push(Date.now() - t0)
    apiUrl = started.api
    return proc
  }
  const kill = async () => {
    if (!proc) return
    proc.child.kill('SIGKILL')
    await proc.exited
    proc = undefined
  }
  const api = async (method: string, path: string, body?: string) => {
    const token = (await readFile(join(config.node.dataDir, 'api-token'), 'utf8')).trim()
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/toml' },
      body,
    })
    return { status: res.status, json: (await res.json()) as Record<string, unknown> }
  }

  const requestIds: Hex[] = []
  const request = async (externalJobID: string) => {
    const receipt = await send(chain.owner, {
      address: consumer,
      abi: PriceConsumerAbi,
      functionName: 'requestValue',
      args: [specIdOf(externalJobID), LINK / 10n, source.priceUrl('ETH-USD'), 'price', 100n, true],
    })
    const [req] = oracleRequestsIn(receipt)
    assert.ok(req)
    requestIds.push(req.requestId)
  }

  it('answers every request exactly once, with no nonce gap, across SIGKILLs', async (t) => {
    const seed = Number(process.env.ORAKEL_CRASH_SEED ?? randomInt(2 ** 31))
    t.diagnostic(`seed ${seed} (ORAKEL_CRASH_SEED=${seed} replays it)`)
    const t0 = Date.now()
    const random = prng(seed)
    const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1))
    assert.equal(await chain.owner.getTransactionCount({ address: nodeKey }), 0)

    // The job, created through the API of the first process.
    await start(true)
    const externalJobID = randomUUID()
    const toml = GET_UINT256.replace(
      /externalJobID = ".*"/,
      `externalJobID = "${externalJobID}"`,
    ).replaceAll('0x613a38AC1659769640aaE063C651F48E0250454C', core.operator)
    const created = await api('POST', '/v2/jobs', toml)
    assert.equal(created.status, 201, JSON.stringify(created.json))
    const jobId = String((created.json.job as { id: string }).id)

    // The plan: UP_REQUESTS cycles send a request while the node is up (and kill at a boundary
    // or on a timer after it); the other cycles kill during start-up. One request comes while
    // the node is down after a random cycle, the rest before the last start.
    const cycles = Array.from({ length: CYCLES }, (_, i) => i)
    for (let i = cycles.length - 1; i > 0; i--) {
      const j = between(0, i)
      ;[cycles[i], cycles[j]] = [cycles[j]!, cycles[i]!]
    }
    const withRequest = new Set(cycles.slice(0, UP_REQUESTS))
    const downAfter = between(0, CYCLES - 1)
    const kills: string[] = []
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const fresh = proc === undefined
      if (withRequest.has(cycle) && random() < 0.7) {
        // A fresh process counts its own start-up too: resumed runs reach boundaries there.
        const p = proc ?? (await start(false))
        const since = fresh ? 0 : p.lines.length
        await request(externalJobID)
        const boundary = BOUNDARIES[between(0, BOUNDARIES.length - 1)]!
        const delay = between(0, 15)
        const hit = await p.waitLine((l) => l.msg === boundary, 5_000, since)
        if (hit) await sleep(delay)
        kills.push(`${cycle}: ${hit ? `${delay} ms after "${boundary}"` : `no "${boundary}"`}`)
      } else if (withRequest.has(cycle) || !fresh) {
        if (fresh) await start(true)
        const sent = withRequest.has(cycle)
        if (sent) await request(externalJobID)
        const delay = between(0, 800)
        await sleep(delay)
        kills.push(`${cycle}: ${delay} ms after ${sent ? 'a request' : 'the start'}`)
      } else {
        // From the first sign of the job services: resumed runs, backfill, first polls, API.
        const p = await start(false)
        const anchor = await p.waitLine((l) => l.msg === 'job active', 30_000)
        assert.ok(anchor, `the node did not get to its jobs:\n${p.tail.join('\n')}`)
        const delay = between(0, 800)
        await sleep(delay)
        const phase = p.lines.some((l) => l.msg === 'node started') ? 'started' : 'starting'
        kills.push(`${cycle}: ${delay} ms after "job active" (${phase})`)
      }
      await kill()
      if (cycle === downAfter) {
        await request(externalJobID)
        kills[kills.length - 1] += ', then a request while down'
      }
    }
    while (requestIds.length < REQUESTS) await request(externalJobID)
    t.diagnostic(`kills:\n${kills.join('\n')}`)
    t.diagnostic(`start-up times (ms): ${startups.join(', ')}; kill cycles ${Date.now() - t0} ms`)
    const t1 = Date.now()

    // The last start runs until every request is answered and every run finished.
    const last = await start(true)
    const answered = async () => {
      const events = await chain.owner.getContractEvents({
        address: consumer,
        abi: PriceConsumerAbi,
        eventName: 'AnswerReceived',
        fromBlock: 0n,
      })
      return events.map((e) => e.args.requestId!)
    }
    const deadline = Date.now() + 30_000
    let runs: { requestId: string; state: string }[] = []
    for (;;) {
      const done = new Set(await answered())
      const list = await api('GET', `/v2/jobs/${jobId}/runs?limit=100`)
      runs = list.json.runs as typeof runs
      if (requestIds.every((id) => done.has(id)) && runs.every((r) => r.state === 'completed'))
        break
      if (Date.now() > deadline) {
        assert.fail(
          `not every request was answered and run finished: answered ${done.size}/${REQUESTS}, ` +
            `runs ${JSON.stringify(runs.map((r) => r.state))}\n${last.tail.join('\n')}`,
        )
      }
      await sleep(100)
    }
    // A few more transaction manager ticks record the last receipts; then a graceful stop.
    await sleep(1_000)
    last.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const stopped = await Promise.race([
      last.exited.then(() => true),
      new Promise<false>((r) => {
        timer = setTimeout(() => r(false), 10_000)
      }),
    ])
    clearTimeout(timer)
    assert.ok(stopped, 'the node did not stop on SIGTERM')
    proc = undefined
    t.diagnostic(
      `last run until every request was answered and the node stopped: ${Date.now() - t1} ms`,
    )

    // On chain: one OracleResponse and one AnswerReceived per request, nothing else.
    const responses = await chain.owner.getContractEvents({
      address: core.operator,
      abi: OperatorAbi,
      eventName: 'OracleResponse',
      fromBlock: 0n,
    })
    const count = (ids: Hex[]) => {
      const m = new Map<string, number>()
      for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1)
      return m
    }
    const expected = new Map(requestIds.map((id) => [id, 1]))
    assert.deepEqual(count(responses.map((e) => e.args.requestId!)), expected)
    assert.deepEqual(count(await answered()), expected)

    // In the database, through the API: one run per request.
    assert.equal(runs.length, REQUESTS)
    assert.deepEqual(count(runs.map((r) => r.requestId as Hex)), expected)

    // The node key: no nonce gap, and one transaction per request.
    const onChainNonce = await chain.owner.getTransactionCount({ address: nodeKey })
    const db = await openDatabase(databaseParams(config))
    try {
      const txes = await db.query<{ nonce: string; state: string }>(
        `SELECT nonce::text AS nonce, state FROM eth_txes WHERE state <> 'fatal_error' ORDER BY nonce`,
      )
      assert.deepEqual(
        txes.map((r) => Number(r.nonce)),
        Array.from({ length: txes.length }, (_, i) => i),
      )
      assert.deepEqual(
        txes.map((r) => r.state),
        txes.map(() => 'confirmed'),
      )
      assert.equal(txes.length, REQUESTS)
      assert.equal(onChainNonce, txes.length)
    } finally {
      await db.close()
    }
  })
})
