import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hex } from 'viem'
import { createLogger, type Logger } from '../common.ts'
import { databaseParams, defaultConfig, type NodeConfig } from '../config/config.ts'
import { encryptKeystore } from '../crypto/keystore.ts'
import { createEthKeyStore } from '../keys/eth-keys.ts'
import { openDatabase } from '../store/db.ts'
import { type OracleNode, type StartNodeParameters, startNode } from './node.ts'

/**
 * A node on this machine for the demo, benchmarks and tests: its own data folder (PGlite, or a
 * Postgres server when `databaseUrl` is given), `privateKey` imported into its encrypted
 * keystore, the API on a free 127.0.0.1 port, fast chain polling, and sources on 127.0.0.1
 * allowed (a production node keeps that off).
 */
export type LocalNodeParameters = {
  rpcUrl: string
  chainId: number
  privateKey: Hex
  /** Folder for the node's data; a new temporary one (removed on stop) by default. */
  dataDir?: string
  databaseUrl?: string | undefined
  pollIntervalMs?: number
  logger?: Logger
  /** Changes to the configuration built here. */
  configure?: (config: NodeConfig) => NodeConfig
} & Pick<StartNodeParameters, 'onEvent' | 'onCommitRevealEvent' | 'onOcaEvent' | 'onBidderEvent'>

export type LocalNode = {
  node: OracleNode
  dataDir: string
  config: NodeConfig
  /** POSTs `body` to the node's API and returns the parsed JSON; throws on a non-2xx answer. */
  post(path: string, contentType: string, body: string): Promise<unknown>
  stop(): Promise<void>
}

/** Builds the configuration and imports the key without starting the node. */
export async function prepareLocalNode(
  params: LocalNodeParameters,
): Promise<{ config: NodeConfig; dataDir: string; ownsDataDir: boolean }> {
  const ownsDataDir = params.dataDir === undefined
  const dataDir = params.dataDir ?? (await mkdtemp(join(tmpdir(), 'orakel-node-')))
  const password = randomUUID()
  const base = defaultConfig()
  let config: NodeConfig = {
    ...base,
    node: { dataDir },
    chain: {
      ...base.chain,
      id: params.chainId,
      rpcUrls: [params.rpcUrl],
      pollIntervalMs: params.pollIntervalMs ?? 100,
    },
    database: { url: params.databaseUrl ?? '' },
    http: { host: '127.0.0.1', port: 0 },
    p2p: { listen: '/ip4/127.0.0.1/tcp/0', announce: [] },
    security: { allowUnrestrictedNetworkAccess: true },
    keystore: { password },
  }
  if (params.configure) config = params.configure(config)
  const db = await openDatabase(databaseParams(config))
  try {
    await createEthKeyStore(db).import(
      await encryptKeystore(params.privateKey, password, { scryptN: 2 ** 12 }),
      password,
    )
  } finally {
    await db.close()
  }
  return { config, dataDir, ownsDataDir }
}

export async function startLocalNode(params: LocalNodeParameters): Promise<LocalNode> {
  const { config, dataDir, ownsDataDir } = await prepareLocalNode(params)
  let node: OracleNode
  try {
    node = await startNode({
      config,
      logger: params.logger ?? createLogger({ silent: true }),
      ...(params.onEvent ? { onEvent: params.onEvent } : {}),
      ...(params.onCommitRevealEvent ? { onCommitRevealEvent: params.onCommitRevealEvent } : {}),
      ...(params.onOcaEvent ? { onOcaEvent: params.onOcaEvent } : {}),
      ...(params.onBidderEvent ? { onBidderEvent: params.onBidderEvent } : {}),
      // The local node's keystores are throwaway: a cheap scrypt keeps starts fast.
      scryptN: 2 ** 12,
    })
  } catch (err) {
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true })
    throw err
  }
  return {
    node,
    dataDir,
    config,
    async post(path, contentType, body) {
      const res = await fetch(`${node.apiUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${node.apiToken}`, 'content-type': contentType },
        body,
      })
      const text = await res.text()
      if (!res.ok) throw new Error(`POST ${path} answered ${res.status}: ${text}`)
      return text ? JSON.parse(text) : undefined
    },
    async stop() {
      await node.stop()
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true })
    },
  }
}
