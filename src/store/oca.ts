import { type Hex, hexToBigInt, hexToBytes, toBytes, toHex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { parsePoint } from '../crypto/dkg.ts'
import { decryptKeystore, encryptKeystore, KeystoreError } from '../crypto/keystore.ts'
import { BaseError } from '../errors.ts'
import type { NonceStore, RoundNonce } from '../oca/node.ts'
import type { Sealer } from '../oca/sealing.ts'
import type { Db } from './db.ts'

/**
 * A committee member's OCA secrets (issue 7), per configuration (the ThresholdAggregator's
 * config digest): its share of the group key and its nonce shares, sealed at rest
 * (src/oca/sealing.ts). Each nonce belongs to exactly one (round, view) from the moment its
 * batch is stored; `use` records the message it signs before the partial signature exists and
 * refuses any other message afterwards — in one conditional UPDATE, so two concurrent callers
 * or a restarted node cannot both get a nonce for different messages.
 */

export class OcaStoreError extends BaseError {
  override name = 'OcaStoreError'
}

/** No nonce for this (round, view): its batch was never made here, or was pruned. */
export class NonceUnavailableError extends OcaStoreError {
  override name = 'NonceUnavailableError'
}

/** The nonce of this (round, view) already signed another message. */
export class NonceReuseError extends OcaStoreError {
  override name = 'NonceReuseError'
}

export type StoredGroupKey = {
  configDigest: Hex
  index: number
  n: number
  f: number
  /** Y, compressed. */
  groupKey: Hex
  /** Y_1..Y_n, compressed. */
  shareKeys: Hex[]
  secretShare: bigint
  qualified: number[]
  /** The session digest the committee agreed on. */
  digest: Hex
}

export type StoredNonce = {
  round: number
  view: number
  /** The nonce's position in its batch. */
  position: number
  /** R, compressed. */
  point: Hex
  /** R_1..R_n, compressed. */
  shares: Hex[]
  /** k_i. */
  share: bigint
}

export type NonceBatchInfo = {
  batch: number
  firstRound: number
  lastRound: number
  viewsPerRound: number
  digest: Hex
}

export type NonceBatch = NonceBatchInfo & { nonces: StoredNonce[] }

/** What the store knows of one nonce (no secret). */
export type NonceRecord = {
  batch: number
  position: number
  round: number
  view: number
  point: Hex
  message: Hex | undefined
  usedAt: Date | undefined
}

export type OcaRepository = {
  /** Stores the member's key share; false if this configuration has one already (kept). */
  saveGroupKey(key: StoredGroupKey): Promise<boolean>
  groupKey(configDigest: Hex): Promise<StoredGroupKey | undefined>
  /** Stores a batch and its nonces in one transaction; false if the batch exists (kept). */
  saveBatch(configDigest: Hex, batch: NonceBatch): Promise<boolean>
  batches(configDigest: Hex): Promise<NonceBatchInfo[]>
  /** The `NonceStore` the OCA node signs with, for one configuration. */
  nonceStore(configDigest: Hex): NonceStore
  /** Every nonce's record, by round and view. */
  nonceRecords(configDigest: Hex): Promise<NonceRecord[]>
  /** Deletes unused nonces of rounds before `round` (they will never sign); used ones stay. */
  prune(configDigest: Hex, round: number): Promise<number>
}

const scalarBytes = (v: bigint) => toBytes(v, { size: 32 })
const keyLabel = (configDigest: Hex) => `orakel/oca/key/v1|${configDigest.toLowerCase()}`
const nonceLabel = (configDigest: Hex, round: number, view: number) =>
  `orakel/oca/nonce/v1|${configDigest.toLowerCase()}|${round}|${view}`
const digestKey = (configDigest: Hex) => configDigest.toLowerCase()

type KeyRow = {
  config_digest: string
  member_index: number
  n: number
  f: number
  group_key: string
  share_keys: string
  secret_share: string
  qualified: string
  digest: string
}

type NonceRow = {
  batch: number
  position: number
  round: string
  view: number
  point: string
  share_points?: string
  share?: string
  message: string | null
  used_at: Date | string | null
}

export function createOcaRepository(db: Db, sealer: Sealer): OcaRepository {
  return {
    async saveGroupKey(k) {
      parsePoint(k.groupKey)
      const rows = await db.query(
        `INSERT INTO oca_keys (config_digest, member_index, n, f, group_key, share_keys,
           secret_share, qualified, digest)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb, $9)
         ON CONFLICT DO NOTHING RETURNING 1 AS ok`,
        [
          digestKey(k.configDigest),
          k.index,
          k.n,
          k.f,
          k.groupKey,
          JSON.stringify(k.shareKeys),
          sealer.seal(scalarBytes(k.secretShare), keyLabel(k.configDigest)),
          JSON.stringify(k.qualified),
          k.digest,
        ],
      )
      return rows.length > 0
    },

    async groupKey(configDigest) {
      const [row] = await db.query<KeyRow>(
        `SELECT config_digest, member_index, n, f, group_key, share_keys::text AS share_keys,
           secret_share, qualified::text AS qualified, digest
         FROM oca_keys WHERE config_digest = $1`,
        [digestKey(configDigest)],
      )
      if (!row) return undefined
      return {
        configDigest: row.config_digest as Hex,
        index: row.member_index,
        n: row.n,
        f: row.f,
        groupKey: row.group_key as Hex,
        shareKeys: JSON.parse(row.share_keys) as Hex[],
        secretShare: hexToBigInt(
          toHex(sealer.open(row.secret_share as Hex, keyLabel(configDigest))),
        ),
        qualified: JSON.parse(row.qualified) as number[],
        digest: row.digest as Hex,
      }
    },

    async saveBatch(configDigest, b) {
      const digest = digestKey(configDigest)
      return db.transaction(async (tx) => {
        const inserted = await tx.query(
          `INSERT INTO oca_nonce_batches (config_digest, batch, first_round, last_round,
             views_per_round, digest)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1 AS ok`,
          [digest, b.batch, b.firstRound, b.lastRound, b.viewsPerRound, b.digest],
        )
        if (inserted.length === 0) return false
        for (const nonce of b.nonces) {
          await tx.query(
            `INSERT INTO oca_nonces (config_digest, batch, position, round, view, point,
               share_points, share)
             VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)`,
            [
              digest,
              b.batch,
              nonce.position,
              nonce.round,
              nonce.view,
              nonce.point.toLowerCase(),
              JSON.stringify(nonce.shares),
              sealer.seal(
                scalarBytes(nonce.share),
                nonceLabel(configDigest, nonce.round, nonce.view),
              ),
            ],
          )
        }
        return true
      })
    },

    async batches(configDigest) {
      const rows = await db.query<{
        batch: number
        first_round: string
        last_round: string
        views_per_round: number
        digest: string
      }>(
        `SELECT batch, first_round::text AS first_round, last_round::text AS last_round,
           views_per_round, digest
         FROM oca_nonce_batches WHERE config_digest = $1 ORDER BY batch`,
        [digestKey(configDigest)],
      )
      return rows.map((r) => ({
        batch: r.batch,
        firstRound: Number(r.first_round),
        lastRound: Number(r.last_round),
        viewsPerRound: r.views_per_round,
        digest: r.digest as Hex,
      }))
    },

    nonceStore(configDigest) {
      const digest = digestKey(configDigest)
      return {
        async get(round, view): Promise<RoundNonce> {
          const [row] = await db.query<NonceRow>(
            `SELECT batch, position, round::text AS round, view, point,
               share_points::text AS share_points, share, message, used_at
             FROM oca_nonces WHERE config_digest = $1 AND round = $2 AND view = $3`,
            [digest, round, view],
          )
          if (!row)
            throw new NonceUnavailableError(`no nonce for round ${round}, view ${view}`, {
              details: `configuration ${configDigest}`,
            })
          const share = hexToBigInt(
            toHex(sealer.open(row.share as Hex, nonceLabel(configDigest, round, view))),
          )
          return {
            share,
            point: parsePoint(row.point as Hex),
            shares: JSON.parse(row.share_points!) as Hex[],
          }
        },
        async use(round, view, message) {
          const m = message.toLowerCase()
          const rows = await db.query(
            `UPDATE oca_nonces SET message = $4, used_at = COALESCE(used_at, now())
             WHERE config_digest = $1 AND round = $2 AND view = $3
               AND (message IS NULL OR message = $4)
             RETURNING 1 AS ok`,
            [digest, round, view, m],
          )
          if (rows.length > 0) return
          const [row] = await db.query<{ message: string | null }>(
            'SELECT message FROM oca_nonces WHERE config_digest = $1 AND round = $2 AND view = $3',
            [digest, round, view],
          )
          if (!row)
            throw new NonceUnavailableError(`no nonce for round ${round}, view ${view}`, {
              details: `configuration ${configDigest}`,
            })
          throw new NonceReuseError(
            `the nonce of round ${round}, view ${view} already signed another message`,
            { details: `signed ${row.message}, asked to sign ${m}` },
          )
        },
      }
    },

    async nonceRecords(configDigest) {
      const rows = await db.query<NonceRow>(
        `SELECT batch, position, round::text AS round, view, point, message, used_at
         FROM oca_nonces WHERE config_digest = $1 ORDER BY round, view`,
        [digestKey(configDigest)],
      )
      return rows.map((r) => ({
        batch: r.batch,
        position: r.position,
        round: Number(r.round),
        view: r.view,
        point: r.point as Hex,
        message: (r.message ?? undefined) as Hex | undefined,
        usedAt: r.used_at === null ? undefined : new Date(r.used_at),
      }))
    },

    async prune(configDigest, round) {
      const rows = await db.query(
        `DELETE FROM oca_nonces WHERE config_digest = $1 AND round < $2 AND message IS NULL
         RETURNING 1 AS ok`,
        [digestKey(configDigest), round],
      )
      return rows.length
    },
  }
}

/**
 * The data key that seals OCA shares: made on first use and stored as a V3 keystore (scrypt,
 * src/crypto/keystore.ts) under the node's keystore password; opened with it afterwards. A
 * wrong password fails here, before any share is read.
 */
export async function openSealingKey(
  db: Db,
  password: string,
  options: { scryptN?: number } = {},
): Promise<Uint8Array> {
  const read = async () =>
    (
      await db.query<{ keystore: string }>(
        'SELECT keystore::text AS keystore FROM oca_sealing_key WHERE id = 1',
      )
    )[0]
  let row = await read()
  if (!row) {
    const keystore = await encryptKeystore(generatePrivateKey(), password, {
      scryptN: options.scryptN ?? 2 ** 17,
    })
    await db.query(
      'INSERT INTO oca_sealing_key (id, keystore) VALUES (1, $1::jsonb) ON CONFLICT DO NOTHING',
      [JSON.stringify(keystore)],
    )
    row = (await read())!
  }
  try {
    return hexToBytes(await decryptKeystore(JSON.parse(row.keystore), password))
  } catch (err) {
    if (!(err instanceof KeystoreError)) throw err
    throw new OcaStoreError(`cannot open the OCA sealing key: ${err.shortMessage}`, {
      cause: err,
      metaMessages: ["The OCA shares are sealed under the node's keystore password."],
    })
  }
}
