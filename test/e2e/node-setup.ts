import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Address } from 'viem'
import { ANVIL_PRIVATE_KEYS } from '../../src/chain/anvil.ts'
import type { CoreDeployment } from '../../src/chain/deploy.ts'
import {
  deployPriceConsumer,
  deployTestCore,
  LINK,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'
import { createLogger } from '../../src/common.ts'
import { databaseParams, defaultConfig, type NodeConfig } from '../../src/config/config.ts'
import { encryptKeystore } from '../../src/crypto/keystore.ts'
import { createEthKeyStore } from '../../src/keys/eth-keys.ts'
import type { DirectRequestEvent } from '../../src/node/directrequest.ts'
import { prepareLocalNode } from '../../src/node/local.ts'
import { type OracleNode, startNode } from '../../src/node/node.ts'
import { openDatabase } from '../../src/store/db.ts'
import { testDatabaseUrl } from '../../src/store/testing.ts'

/** The published get-uint256 direct-request spec (test/fixtures). */
export const GET_UINT256 = readFileSync(
  join(import.meta.dirname, '../fixtures/get-uint256.toml'),
  'utf8',
)

/** Polls `fn` every 50 ms until it returns a value; fails the test after `ms`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Anvil with LinkToken, an Operator (anvil account 1 authorized) and a funded PriceConsumer. */
export async function startConsumerChain(): Promise<{
  chain: TestChain
  core: CoreDeployment
  consumer: Address
}> {
  const chain = await startTestChain()
  try {
    const core = await deployTestCore(chain)
    const consumer = await deployPriceConsumer(chain, core.linkToken, core.operator, 10n * LINK)
    return { chain, core, consumer }
  } catch (err) {
    await chain.stop()
    throw err
  }
}

/**
 * A consumer chain and an in-process node on a real database (PGlite in a temporary folder,
 * or a schema of the Postgres server named by DATABASE_URL), its key imported. `start()` (re)starts
 * the node, recording its events; `close()` stops and removes everything.
 */
export type NodeWorld = Awaited<ReturnType<typeof startConsumerChain>> & {
  dataDir: string
  config: NodeConfig
  events: DirectRequestEvent[]
  /** The running node (after `start()`). */
  node(): OracleNode
  start(): Promise<OracleNode>
  /** A call to the node's API with its token; TOML bodies by default. */
  api(
    method: string,
    path: string,
    body?: string,
    type?: string,
  ): Promise<{ status: number; json: Record<string, unknown> }>
  close(): Promise<void>
}

export async function startNodeWorld(prefix: string): Promise<NodeWorld> {
  const base = await startConsumerChain()
  const dataDir = await mkdtemp(join(tmpdir(), prefix))
  const database = await testDatabaseUrl()
  const config = nodeTestConfig({
    dataDir,
    rpcUrl: base.chain.anvil.rpcUrl,
    databaseUrl: database?.url,
  })
  await importNodeKey(config)
  const events: DirectRequestEvent[] = []
  let node: OracleNode | undefined
  const current = () => {
    if (!node) throw new Error('the node is not started')
    return node
  }
  return {
    ...base,
    dataDir,
    config,
    events,
    node: current,
    async start() {
      node = await startNode({
        config,
        logger: createLogger({ silent: true }),
        onEvent: (e) => events.push(e),
      })
      return node
    },
    async api(method, path, body, type = 'application/toml') {
      const res = await fetch(`${current().apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${current().apiToken}`, 'content-type': type },
        body,
      })
      return { status: res.status, json: (await res.json()) as Record<string, unknown> }
    },
    async close() {
      await node?.stop()
      await base.chain.stop()
      await database?.drop()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

export const NODE_PASSWORD = 'correct horse battery staple'

/**
 * The configuration of a node under test: anvil at `rpcUrl`, data in `dataDir` (PGlite) or the
 * given database URL, the API on a free port, quiet, fast polling, and a price source on
 * 127.0.0.1 allowed.
 */
export function nodeTestConfig(params: {
  dataDir: string
  rpcUrl: string
  databaseUrl?: string | undefined
}): NodeConfig {
  const base = defaultConfig()
  return {
    ...base,
    node: { dataDir: params.dataDir },
    chain: { ...base.chain, id: 31337, rpcUrls: [params.rpcUrl], pollIntervalMs: 50 },
    database: { url: params.databaseUrl ?? '' },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    security: { allowUnrestrictedNetworkAccess: true },
    keystore: { password: NODE_PASSWORD },
  }
}

/** Imports anvil's account 1 (the key `deployTestCore` authorizes) into the node's keystore. */
export async function importNodeKey(config: NodeConfig): Promise<void> {
  const db = await openDatabase(databaseParams(config))
  try {
    await createEthKeyStore(db).import(
      await encryptKeystore(ANVIL_PRIVATE_KEYS[1], NODE_PASSWORD, { scryptN: 1024 }),
      NODE_PASSWORD,
    )
  } finally {
    await db.close()
  }
}

/**
 * The configuration of an in-process test node on `chain` with `privateKey` imported: a data
 * folder of its own (prefix `prefix`) and a database of its own (PGlite there, or a fresh schema
 * of the Postgres server named by DATABASE_URL), silent logs, fast polling. Removing both is
 * pushed onto `cleanup`.
 */
export async function prepareTestNode(p: {
  chain: TestChain
  privateKey: `0x${string}`
  prefix: string
  cleanup: (() => Promise<void>)[]
}): Promise<NodeConfig> {
  const dataDir = await mkdtemp(join(tmpdir(), p.prefix))
  p.cleanup.push(() => rm(dataDir, { recursive: true, force: true }))
  const database = await testDatabaseUrl()
  if (database) p.cleanup.push(() => database.drop())
  const { config } = await prepareLocalNode({
    rpcUrl: p.chain.anvil.rpcUrl,
    chainId: p.chain.anvil.chainId,
    privateKey: p.privateKey,
    dataDir,
    databaseUrl: database?.url,
    pollIntervalMs: 50,
    configure: (c) => ({ ...c, log: { level: 'silent' } }),
  })
  return config
}
