import { ANVIL_PRIVATE_KEYS } from '../../src/chain/anvil.ts'
import { databaseParams, defaultConfig, type NodeConfig } from '../../src/config/config.ts'
import { encryptKeystore } from '../../src/crypto/keystore.ts'
import { createEthKeyStore } from '../../src/keys/eth-keys.ts'
import { openDatabase } from '../../src/store/db.ts'

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
