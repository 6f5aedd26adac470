import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { peerIdOf } from '../p2p/keys.ts'
import type { Db } from './db.ts'
import { ensureP2pKey, P2pKeyError, p2pPeerId } from './p2p-key.ts'
import { openTestDatabase } from './testing.ts'

describe(`the node's libp2p key (${process.env.DATABASE_URL ? 'Postgres server' : 'PGlite'})`, () => {
  let db: Db
  before(async () => {
    db = await openTestDatabase()
  })
  after(async () => {
    await db?.close()
  })

  it('is made once, kept encrypted, and opens only with the password', async () => {
    assert.equal(await p2pPeerId(db), undefined)
    const key = await ensureP2pKey(db, 'right password', { scryptN: 2 ** 10 })
    const peerId = peerIdOf(key)
    assert.match(peerId, /^12D3KooW/)
    assert.equal(await p2pPeerId(db), peerId)
    // The same key on later starts.
    assert.equal(peerIdOf(await ensureP2pKey(db, 'right password', { scryptN: 2 ** 10 })), peerId)
    // Nothing of the key in clear: the row holds a V3 keystore (ciphertext + scrypt params).
    const [row] = await db.query<{ keystore: string }>(
      'SELECT keystore::text AS keystore FROM p2p_key',
    )
    const stored = JSON.parse(row!.keystore) as { crypto: { kdf: string; cipher: string } }
    assert.equal(stored.crypto.kdf, 'scrypt')
    assert.equal(stored.crypto.cipher, 'aes-128-ctr')
    const raw = Buffer.from(key.raw).toString('hex')
    assert.ok(!row!.keystore.includes(raw.slice(0, 64)), 'the seed is not stored in clear')
    // A wrong password fails closed and names the key.
    await assert.rejects(
      ensureP2pKey(db, 'wrong password', { scryptN: 2 ** 10 }),
      (err: unknown) => err instanceof P2pKeyError && /libp2p key/.test(err.message),
    )
  })

  it('refuses a stored key whose peer id was changed', async () => {
    await db.query("UPDATE p2p_key SET peer_id = '12D3KooWAnotherPeer' WHERE id = 1")
    await assert.rejects(
      ensureP2pKey(db, 'right password', { scryptN: 2 ** 10 }),
      /does not match its peer id/,
    )
  })
})
