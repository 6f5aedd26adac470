/**
 * Test helpers for the transaction manager: a real anvil, a real database, and ways to make
 * the RPC fail on purpose. Nothing here mocks the chain or the database.
 */
import {
  type Address,
  createPublicClient,
  type Hex,
  http,
  numberToHex,
  type PublicClient,
} from 'viem'
import { privateKeyToAddress } from 'viem/accounts'
import { ANVIL_PRIVATE_KEYS, type Anvil, startAnvil } from '../chain/anvil.ts'
import { type Common, createLogger, createMetrics } from '../common.ts'
import type { Db } from '../store/db.ts'
import { openTestDatabase } from '../store/testing.ts'
import type { TxmClient } from './rpc.ts'
import { createTxm, type Txm, type TxmOptions } from './txm.ts'

export type TxmHarness = {
  anvil: Anvil
  client: PublicClient
  db: Db
  common: Common
  chainId: number
  /** Anvil account 4 (account 0–3 are the test chain's deployer and nodes). */
  key: { address: Address; privateKey: Hex }
  /** A manager on this chain and database with test defaults, `overrides` applied. */
  txm(overrides?: Partial<TxmOptions>): Txm
  rpc(method: string, params?: unknown[]): Promise<unknown>
  mine(blocks?: number): Promise<void>
  setNextBaseFee(wei: bigint): Promise<void>
  /** An idempotency key unique to this chain (tests may share one database). */
  idem(name: string): string
  /** Every transaction mined from `from`, in block order: nonce, hash, input. */
  minedFrom(from: Address): Promise<{ nonce: number; hash: Hex; input: Hex }[]>
  close(): Promise<void>
}

export const GWEI = 10n ** 9n

export async function registerKey(db: Db, address: Address): Promise<void> {
  await db.query(
    `INSERT INTO eth_keys (address, keystore) VALUES ($1, '{}'::jsonb) ON CONFLICT DO NOTHING`,
    [address],
  )
}

let nextChainId = 40_000

/**
 * A fresh anvil (mining on, or off) and a database: `db` when given (opening one takes
 * seconds, so a test file shares one; every harness gets its own chain id so rows never mix),
 * else a new one closed with the harness.
 */
export async function startTxmHarness(
  params: { mining?: boolean; db?: Db } = {},
): Promise<TxmHarness> {
  const chainId = params.db ? nextChainId++ : 31337
  const anvil = await startAnvil({
    chainId,
    ...(params.mining === false ? { args: ['--no-mining'] } : {}),
  })
  const db =
    params.db ??
    (await openTestDatabase().catch(async (err) => {
      await anvil.stop()
      throw err
    }))
  const client = createPublicClient({ transport: http(anvil.rpcUrl, { retryCount: 0 }) })
  const common: Common = {
    config: {},
    logger: createLogger({ silent: true }),
    metrics: createMetrics(),
    db,
  }
  const privateKey = ANVIL_PRIVATE_KEYS[4] as Hex
  const address = privateKeyToAddress(privateKey)
  await registerKey(db, address)
  const rpc = (method: string, p: unknown[] = []) =>
    client.request({ method, params: p } as never) as Promise<unknown>
  return {
    anvil,
    client,
    db,
    common,
    chainId: anvil.chainId,
    key: { address, privateKey },
    txm: (overrides = {}) =>
      createTxm(common, {
        chainId: anvil.chainId,
        client,
        keys: new Map([[address, privateKey]]),
        feeCapWei: 500n * GWEI,
        bumpAfterBlocks: 2,
        bumpPercent: 20,
        confirmations: 1,
        defaultGasLimit: 100_000n,
        ...overrides,
      }),
    rpc,
    idem: (name) => `${anvil.chainId}/${name}`,
    mine: async (blocks = 1) => {
      for (let i = 0; i < blocks; i++) await rpc('evm_mine')
    },
    setNextBaseFee: async (wei) => {
      await rpc('anvil_setNextBlockBaseFeePerGas', [numberToHex(wei)])
    },
    minedFrom: async (from) => {
      const latest = BigInt((await rpc('eth_blockNumber')) as string)
      const out: { nonce: number; hash: Hex; input: Hex }[] = []
      for (let n = 0n; n <= latest; n++) {
        const block = await client.getBlock({ blockNumber: n, includeTransactions: true })
        for (const t of block.transactions) {
          if (t.from.toLowerCase() === from.toLowerCase()) {
            out.push({ nonce: t.nonce, hash: t.hash, input: t.input })
          }
        }
      }
      return out
    },
    close: async () => {
      await Promise.allSettled([params.db ? undefined : db.close(), anvil.stop()])
    },
  }
}

/**
 * A client whose next `times` `eth_sendRawTransaction` calls fail: `before` the node sees the
 * bytes (a crash between persisting and sending, or a refusal) or `after` it accepted them (a
 * crash before the broadcast was recorded). `message` is the error's text (default a network
 * failure; e.g. `invalid sender` makes it a refusal that can never succeed).
 */
export function failingSends(
  client: TxmClient,
  params: { times?: number; when: 'before' | 'after'; message?: string },
): TxmClient & { failures: number } {
  let left = params.times ?? 1
  const wrapped = {
    failures: 0,
    async request(args: { method: string; params?: unknown }): Promise<unknown> {
      if (args.method === 'eth_sendRawTransaction' && left > 0) {
        left--
        wrapped.failures++
        if (params.when === 'after') await client.request(args)
        throw new Error(params.message ?? 'socket hang up (injected)')
      }
      return client.request(args)
    },
  }
  return wrapped
}

/** Ticks until `done()` or `max` ticks, mining a block between ticks when `mine` is given. */
export async function tickUntil(
  txm: Txm,
  done: () => Promise<boolean>,
  params: { max?: number; mine?: () => Promise<void> } = {},
): Promise<void> {
  for (let i = 0; i < (params.max ?? 20); i++) {
    await txm.tick()
    if (await done()) return
    await params.mine?.()
  }
  throw new Error('the transaction manager did not get there in time')
}
