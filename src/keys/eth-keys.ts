/**
 * The node's Ethereum keys, kept in the database (`eth_keys`) as V3 JSON keystores encrypted
 * with the node's keystore password. A private key exists in clear only in memory: returned
 * by `unlockAll` for the signer, never written to the database, a log or an error.
 *
 * Every stored key opens with the one node password: `create` encrypts with it and `import`
 * accepts only a keystore that it opens, so `unlockAll` at start-up either unlocks every key
 * or fails, naming the key (never a secret).
 */
import { type Address, getAddress, type Hex, isAddress } from 'viem'
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts'
import { decryptKeystore, encryptKeystore, KeystoreError } from '../crypto/keystore.ts'
import { BaseError } from '../errors.ts'
import type { Db } from '../store/db.ts'

export class KeysError extends BaseError {
  override name = 'KeysError'
}

/**
 * scrypt cost for new keys: 2**17 (ethers' default; geth's "standard" is 2**18). It takes
 * 128 MiB and about half a second per derivation here, which makes each guess of an offline
 * password attack that expensive, while a node unlocking a handful of keys at start still starts
 * in seconds. Tests pass 2**10.
 */
export const DEFAULT_SCRYPT_N = 2 ** 17

/** Largest keystore JSON `import` accepts. */
const MAX_KEYSTORE_CHARS = 1024 * 1024

export type EthKeyInfo = { address: Address; createdAt: Date }

export type EthKeyStore = {
  /** Makes a random key, stores it encrypted with `password`, returns its address. */
  create(password: string, options?: { scryptN?: number }): Promise<Address>
  /**
   * Stores a V3 keystore (JSON text or parsed) that opens with `password`, the node's keystore
   * password. Fails when it does not, or when the address is already stored.
   */
  import(keystore: string | object, password: string): Promise<Address>
  /** The stored keystore as JSON text, after checking that `password` opens it. */
  export(address: string, password: string): Promise<string>
  /** The stored keys, oldest first. No secrets. */
  list(): Promise<EthKeyInfo[]>
  /** Deletes a key; refused while it has unstarted or unconfirmed transactions. */
  delete(address: string): Promise<void>
  /** Decrypts every key; fails on the first that `password` does not open, naming it. */
  unlockAll(password: string): Promise<Map<Address, Hex>>
}

type KeyRow = { address: string; keystore: Record<string, unknown>; created_at: Date | string }

export function createEthKeyStore(db: Db): EthKeyStore {
  return {
    async create(password, options = {}) {
      checkPassword(password)
      const privateKey = generatePrivateKey()
      let keystore: Awaited<ReturnType<typeof encryptKeystore>>
      try {
        keystore = await encryptKeystore(privateKey, password, {
          scryptN: options.scryptN ?? DEFAULT_SCRYPT_N,
        })
      } catch (err) {
        if (err instanceof KeystoreError)
          throw new KeysError(`cannot encrypt the new key: ${err.shortMessage}`, { cause: err })
        throw err
      }
      const address = privateKeyToAddress(privateKey)
      await insert(db, address, keystore)
      return address
    },

    async import(input, password) {
      checkPassword(password)
      let keystore: unknown = input
      if (typeof input === 'string') {
        if (input.length > MAX_KEYSTORE_CHARS)
          throw new KeysError('the keystore is too large', {
            details: `${input.length} characters, at most ${MAX_KEYSTORE_CHARS}`,
          })
        try {
          keystore = JSON.parse(input)
        } catch {
          // The parser's message quotes the input: leave it out.
          throw new KeysError('the keystore is not valid JSON')
        }
      }
      if (typeof keystore !== 'object' || keystore === null || Array.isArray(keystore))
        throw new KeysError('the keystore must be a JSON object')
      let address: Address
      try {
        address = privateKeyToAddress(await decryptKeystore(keystore, password))
      } catch (err) {
        if (!(err instanceof KeystoreError)) throw err
        throw new KeysError(`cannot import the keystore: ${err.shortMessage}`, {
          cause: err,
          details: err.details,
          metaMessages: [
            "Keys are stored encrypted with the node's keystore password, so an imported",
            'keystore must open with it: re-encrypt the file with that password first.',
          ],
        })
      }
      // Keep the file as given; add the address (outside the MAC) when the writer left it out.
      const stored = { ...(keystore as Record<string, unknown>) }
      if (stored.address === undefined || stored.address === null || stored.address === '')
        stored.address = address.slice(2).toLowerCase()
      await insert(db, address, stored)
      return address
    },

    async export(input, password) {
      checkPassword(password)
      const address = parseAddress(input)
      const row = await find(db, address)
      await open(row, password, 'export')
      const { version, id, address: a, crypto, Crypto, ...rest } = row.keystore
      return JSON.stringify({ version, id, address: a, crypto, Crypto, ...rest }, null, 2)
    },

    async list() {
      const rows = await db.query<{ address: string; created_at: Date | string }>(
        'SELECT address, created_at FROM eth_keys ORDER BY created_at, address',
      )
      return rows.map((r) => ({
        address: getAddress(r.address),
        createdAt: new Date(r.created_at),
      }))
    },

    async delete(input) {
      const address = parseAddress(input)
      await db.transaction(async (tx) => {
        const rows = await tx.query('SELECT address FROM eth_keys WHERE address = $1 FOR UPDATE', [
          address,
        ])
        if (rows.length === 0) throw new KeysError(`no key ${address}`)
        const pending = await tx.query(
          `SELECT 1 FROM eth_txes WHERE lower(from_address) = lower($1)
             AND state IN ('unstarted', 'unconfirmed') LIMIT 1`,
          [address],
        )
        if (pending.length > 0)
          throw new KeysError(`key ${address} has unconfirmed transactions`, {
            metaMessages: ['Wait until they are confirmed (or fail) before deleting the key.'],
          })
        await tx.query('DELETE FROM eth_keys WHERE address = $1', [address])
      })
    },

    async unlockAll(password) {
      checkPassword(password)
      const rows = await db.query<KeyRow>(
        'SELECT address, keystore, created_at FROM eth_keys ORDER BY created_at, address',
      )
      const keys = new Map<Address, Hex>()
      for (const row of rows) {
        const privateKey = await open(row, password, 'unlock')
        keys.set(getAddress(row.address), privateKey)
      }
      return keys
    },
  }
}

function checkPassword(password: unknown): asserts password is string {
  if (typeof password !== 'string' || password === '')
    throw new KeysError('no keystore password given', {
      metaMessages: [
        'Set keystore.password in the secrets file or ORAKEL_KEYSTORE_PASSWORD, or pass --password-file.',
      ],
    })
}

function parseAddress(input: string): Address {
  if (typeof input !== 'string' || !isAddress(input))
    throw new KeysError('invalid address', {
      details: 'expected 0x and 40 hex digits (mixed case must be a valid checksum)',
    })
  return getAddress(input)
}

async function insert(db: Db, address: Address, keystore: object): Promise<void> {
  const rows = await db.query(
    `INSERT INTO eth_keys (address, keystore) VALUES ($1, $2::jsonb)
     ON CONFLICT (address) DO NOTHING RETURNING address`,
    [address, JSON.stringify(keystore)],
  )
  if (rows.length === 0) throw new KeysError(`key ${address} already exists`)
}

async function find(db: Db, address: Address): Promise<KeyRow> {
  const [row] = await db.query<KeyRow>(
    'SELECT address, keystore, created_at FROM eth_keys WHERE address = $1',
    [address],
  )
  if (!row) throw new KeysError(`no key ${address}`)
  return row
}

/** Decrypts a stored key, checking it belongs to the row's address. Errors name the address only. */
async function open(row: KeyRow, password: string, action: 'unlock' | 'export'): Promise<Hex> {
  const address = getAddress(row.address)
  let privateKey: Hex
  try {
    privateKey = await decryptKeystore(row.keystore, password)
  } catch (err) {
    if (!(err instanceof KeystoreError)) throw err
    throw new KeysError(`cannot ${action} key ${address}: ${err.shortMessage}`, { cause: err })
  }
  const actual = privateKeyToAddress(privateKey)
  if (actual !== address)
    throw new KeysError(`cannot ${action} key ${address}: the stored keystore holds another key`, {
      details: `it opens to ${actual}`,
    })
  return privateKey
}
