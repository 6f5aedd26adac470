import { bytesToHex, hexToBytes } from 'viem'
import { decryptKeystore, encryptKeystore, KeystoreError } from '../crypto/keystore.ts'
import { BaseError } from '../errors.ts'
import { type Ed25519PrivateKey, p2pKeyFromSeed, peerIdOf } from '../p2p/keys.ts'
import type { Db } from './db.ts'

/**
 * The node's libp2p key (one per node, shared by its offchainaggregation jobs): made on first
 * use from 32 random bytes, stored as a V3 keystore of that seed under the node's keystore
 * password, and opened with it afterwards. A wrong password fails closed, naming the key.
 */

export class P2pKeyError extends BaseError {
  override name = 'P2pKeyError'
}

export async function ensureP2pKey(
  db: Db,
  password: string,
  options: { scryptN?: number } = {},
): Promise<Ed25519PrivateKey> {
  const read = async () =>
    (
      await db.query<{ peer_id: string; keystore: string }>(
        'SELECT peer_id, keystore::text AS keystore FROM p2p_key WHERE id = 1',
      )
    )[0]
  let row = await read()
  if (!row) {
    const seed = crypto.getRandomValues(new Uint8Array(32))
    const key = await p2pKeyFromSeed(seed)
    const keystore = await encryptKeystore(bytesToHex(seed), password, {
      scryptN: options.scryptN ?? 2 ** 17,
    })
    await db.query(
      'INSERT INTO p2p_key (id, peer_id, keystore) VALUES (1, $1, $2::jsonb) ON CONFLICT DO NOTHING',
      [peerIdOf(key), JSON.stringify(keystore)],
    )
    row = (await read())!
  }
  let seed: Uint8Array
  try {
    seed = hexToBytes(await decryptKeystore(JSON.parse(row.keystore), password))
  } catch (err) {
    if (!(err instanceof KeystoreError)) throw err
    throw new P2pKeyError(`cannot open the node's libp2p key: ${err.shortMessage}`, {
      cause: err,
      metaMessages: ["The libp2p key is sealed under the node's keystore password."],
    })
  }
  const key = await p2pKeyFromSeed(seed)
  if (peerIdOf(key) !== row.peer_id) {
    throw new P2pKeyError('the stored libp2p key does not match its peer id', {
      details: `stored peer id ${row.peer_id}, key gives ${peerIdOf(key)}`,
    })
  }
  return key
}

/** The node's peer id, if it has a libp2p key (no password needed). */
export async function p2pPeerId(db: Db): Promise<string | undefined> {
  const rows = await db.query<{ peer_id: string }>('SELECT peer_id FROM p2p_key WHERE id = 1')
  return rows[0]?.peer_id
}
