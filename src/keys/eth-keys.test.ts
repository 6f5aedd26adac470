import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, test } from 'node:test'
import { getAddress } from 'viem'
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts'
import { decryptKeystore, encryptKeystore } from '../crypto/keystore.ts'
import type { Db } from '../store/db.ts'
import { openTestDatabase } from '../store/testing.ts'
import { createEthKeyStore, DEFAULT_SCRYPT_N, type EthKeyStore, KeysError } from './eth-keys.ts'

const FAST = { scryptN: 2 ** 10 }
const PASSWORD = 'node-password-7f1e'

/** Asserts `promise` rejects with a KeysError whose message matches `re` and shows no secret. */
async function rejectsWith(promise: Promise<unknown>, re: RegExp, secrets: string[] = []) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof KeysError, String(err))
    assert.match(err.shortMessage, re)
    for (const s of secrets) {
      assert.ok(!err.message.includes(s), 'secret in message')
      assert.ok(!err.message.includes(s.slice(2)), 'secret in message')
    }
    return true
  })
}

describe('eth key store', () => {
  let db: Db
  let keys: EthKeyStore
  before(async () => {
    db = await openTestDatabase()
    keys = createEthKeyStore(db)
  })
  after(async () => {
    await db?.close()
  })
  beforeEach(async () => {
    await db.query('DELETE FROM eth_txes')
    await db.query('DELETE FROM eth_keys')
  })

  test('create stores an encrypted key, never the plaintext', async () => {
    const address = await keys.create(PASSWORD, FAST)
    assert.equal(address, getAddress(address))
    const [row] = await db.query<{ address: string; keystore: Record<string, unknown> }>(
      'SELECT address, keystore FROM eth_keys',
    )
    assert.equal(row!.address, address)
    assert.equal(row!.keystore.version, 3)
    const privateKey = await decryptKeystore(row!.keystore, PASSWORD)
    assert.equal(privateKeyToAddress(privateKey), address)
    // The clear key is nowhere in the stored row.
    assert.ok(!JSON.stringify(row).includes(privateKey.slice(2)))
    assert.equal((row!.keystore.crypto as { kdfparams: { n: number } }).kdfparams.n, 2 ** 10)
    assert.equal(DEFAULT_SCRYPT_N, 2 ** 17)
  })

  test('list shows addresses and creation times only', async () => {
    assert.deepEqual(await keys.list(), [])
    const a = await keys.create(PASSWORD, FAST)
    const b = await keys.create(PASSWORD, FAST)
    const list = await keys.list()
    assert.deepEqual(list.map((k) => k.address).sort(), [a, b].sort())
    for (const k of list) {
      assert.deepEqual(Object.keys(k).sort(), ['address', 'createdAt'])
      assert.ok(k.createdAt instanceof Date && !Number.isNaN(k.createdAt.getTime()))
    }
  })

  test('unlockAll returns every private key by checksummed address', async () => {
    const a = await keys.create(PASSWORD, FAST)
    const privateKey = generatePrivateKey()
    const b = await keys.import(await encryptKeystore(privateKey, PASSWORD, FAST), PASSWORD)
    const unlocked = await keys.unlockAll(PASSWORD)
    assert.equal(unlocked.size, 2)
    assert.equal(privateKeyToAddress(unlocked.get(a)!), a)
    assert.equal(unlocked.get(b), privateKey)
    assert.equal((await keys.unlockAll(PASSWORD)).size, 2)
  })

  test('unlockAll fails closed on a wrong password, naming the address only', async () => {
    const a = await keys.create(PASSWORD, FAST)
    await rejectsWith(keys.unlockAll('wrong'), new RegExp(`cannot unlock key ${a}: wrong password`))
    await rejectsWith(keys.unlockAll(''), /no keystore password given/)
  })

  test('unlockAll fails when one key opens with a different password', async () => {
    await keys.create(PASSWORD, FAST)
    const other = generatePrivateKey()
    const otherAddress = privateKeyToAddress(other)
    // Planted directly: import would refuse it.
    await db.query('INSERT INTO eth_keys (address, keystore) VALUES ($1, $2::jsonb)', [
      otherAddress,
      JSON.stringify(await encryptKeystore(other, 'another-password', FAST)),
    ])
    await rejectsWith(keys.unlockAll(PASSWORD), new RegExp(`cannot unlock key ${otherAddress}`), [
      other,
    ])
  })

  test('unlockAll refuses a row whose keystore holds another key', async () => {
    const a = await keys.create(PASSWORD, FAST)
    const other = generatePrivateKey()
    const ks = await encryptKeystore(other, PASSWORD, FAST)
    await db.query('UPDATE eth_keys SET keystore = $2::jsonb WHERE address = $1', [
      a,
      JSON.stringify(ks),
    ])
    await rejectsWith(keys.unlockAll(PASSWORD), /holds another key/, [other])
  })

  test('import accepts text or object, keeps the file, and rejects duplicates', async () => {
    const privateKey = generatePrivateKey()
    const address = privateKeyToAddress(privateKey)
    const ks = await encryptKeystore(privateKey, PASSWORD, FAST)
    const { address: _, ...withoutAddress } = ks
    assert.equal(await keys.import(JSON.stringify(withoutAddress), PASSWORD), address)
    const [row] = await db.query<{ keystore: Record<string, unknown> }>(
      'SELECT keystore FROM eth_keys WHERE address = $1',
      [address],
    )
    assert.equal(row!.keystore.address, address.slice(2).toLowerCase())
    assert.deepEqual(row!.keystore.crypto, ks.crypto)
    await rejectsWith(keys.import(ks, PASSWORD), new RegExp(`key ${address} already exists`))
    await rejectsWith(keys.import(JSON.stringify(ks), PASSWORD), /already exists/)
  })

  test('import fails closed unless the node password opens the keystore', async () => {
    const privateKey = generatePrivateKey()
    const ks = await encryptKeystore(privateKey, 'file-password', FAST)
    await rejectsWith(keys.import(ks, PASSWORD), /cannot import the keystore: wrong password/, [
      privateKey,
    ])
    await rejectsWith(keys.import('{not json', PASSWORD), /not valid JSON/)
    await rejectsWith(keys.import('[1]', PASSWORD), /must be a JSON object/)
    await rejectsWith(
      keys.import({ version: 1 }, PASSWORD),
      /cannot import the keystore: keystore version/,
    )
    await rejectsWith(keys.import(ks, ''), /no keystore password/)
    assert.deepEqual(await keys.list(), [])
  })

  test('export returns the keystore JSON after checking the password', async () => {
    const privateKey = generatePrivateKey()
    const address = await keys.import(await encryptKeystore(privateKey, PASSWORD, FAST), PASSWORD)
    const text = await keys.export(address.toLowerCase(), PASSWORD)
    const parsed = JSON.parse(text) as Record<string, unknown>
    assert.deepEqual(Object.keys(parsed), ['version', 'id', 'address', 'crypto'])
    assert.equal(await decryptKeystore(text, PASSWORD), privateKey)
    await rejectsWith(keys.export(address, 'wrong'), new RegExp(`cannot export key ${address}`))
    await rejectsWith(
      keys.export('0x0000000000000000000000000000000000000001', PASSWORD),
      /no key 0x0000000000000000000000000000000000000001/,
    )
    await rejectsWith(keys.export('0x1234', PASSWORD), /invalid address/)
  })

  test('delete removes a key and its nonce state', async () => {
    const a = await keys.create(PASSWORD, FAST)
    const b = await keys.create(PASSWORD, FAST)
    await db.query('INSERT INTO key_states (address, chain_id, next_nonce) VALUES ($1, 31337, 0)', [
      a,
    ])
    await keys.delete(a.toLowerCase())
    assert.deepEqual(
      (await keys.list()).map((k) => k.address),
      [b],
    )
    assert.deepEqual(await db.query('SELECT * FROM key_states'), [])
    await rejectsWith(keys.delete(a), new RegExp(`no key ${a}`))
  })

  test('delete refuses a key with unstarted or unconfirmed transactions', async () => {
    const a = await keys.create(PASSWORD, FAST)
    const insertTx = (state: string, nonce: number | null) =>
      db.query(
        `INSERT INTO eth_txes (chain_id, from_address, to_address, data, gas_limit, nonce, state)
         VALUES (31337, $1, $1, '0x', 21000, $2, $3)`,
        [a.toLowerCase(), nonce, state],
      )
    await insertTx('confirmed', 0)
    await insertTx('unconfirmed', 1)
    await rejectsWith(keys.delete(a), /has unconfirmed transactions/)
    await db.query(`UPDATE eth_txes SET state = 'confirmed' WHERE nonce = 1`)
    await insertTx('unstarted', null)
    await rejectsWith(keys.delete(a), /has unconfirmed transactions/)
    await db.query(`UPDATE eth_txes SET state = 'fatal_error' WHERE nonce IS NULL`)
    await keys.delete(a)
    assert.deepEqual(await keys.list(), [])
  })

  test('create refuses an empty password and bad scrypt parameters', async () => {
    await rejectsWith(keys.create('', FAST), /no keystore password/)
    await rejectsWith(keys.create(PASSWORD, { scryptN: 1000 }), /cannot encrypt the new key/)
    assert.deepEqual(await keys.list(), [])
  })
})
