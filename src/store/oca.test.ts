import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { secp256k1 } from '@noble/curves/secp256k1'
import { type Hex, keccak256, toHex } from 'viem'
import { pointHex } from '../crypto/dkg.ts'
import { createSealer } from '../oca/sealing.ts'
import { type Db, openDatabase } from './db.ts'
import {
  createOcaRepository,
  type NonceBatch,
  NonceReuseError,
  NonceUnavailableError,
  OcaStoreError,
  openSealingKey,
} from './oca.ts'
import { openTestDatabase } from './testing.ts'

const G = secp256k1.ProjectivePoint.BASE
const DIGEST = keccak256(toHex('oca store test')) as Hex
const point = (k: bigint) => pointHex(G.multiply(k))
const message = (s: string) => keccak256(toHex(s))

function batch(n: number, first: number, rounds: number, views: number, seed: bigint): NonceBatch {
  const nonces = []
  let position = 0
  for (let r = first; r < first + rounds; r++)
    for (let v = 0; v < views; v++) {
      const k = seed * 1000n + BigInt(position) + 1n
      nonces.push({
        round: r,
        view: v,
        position,
        point: point(k),
        shares: Array.from({ length: n }, (_, j) => point(k + BigInt(j) + 7n)),
        share: k * 3n,
      })
      position++
    }
  return {
    batch: Number(seed),
    firstRound: first,
    lastRound: first + rounds - 1,
    viewsPerRound: views,
    digest: keccak256(toHex(`batch ${seed}`)),
    nonces,
  }
}

describe(`OCA store (${process.env.DATABASE_URL ? 'Postgres server' : 'PGlite'})`, () => {
  let db: Db
  const sealingKey = randomBytes(32)
  before(async () => {
    db = await openTestDatabase()
  })
  after(() => db?.close())

  it('keeps the key share sealed and returns it exactly', async () => {
    const repo = createOcaRepository(db, createSealer(sealingKey))
    const secretShare = 0xfeedn * 2n ** 200n + 12345n
    const key = {
      configDigest: DIGEST,
      index: 2,
      n: 4,
      f: 1,
      groupKey: point(99n),
      shareKeys: [point(1n), point(2n), point(3n), point(4n)],
      secretShare,
      qualified: [1, 2, 3, 4],
      digest: message('key digest'),
    }
    assert.equal(await repo.saveGroupKey(key), true)
    assert.equal(await repo.saveGroupKey({ ...key, secretShare: 1n }), false, 'kept')
    assert.deepEqual(await repo.groupKey(DIGEST), key)
    assert.equal(await repo.groupKey(message('other')), undefined)
    const [raw] = await db.query<{ secret_share: string }>('SELECT secret_share FROM oca_keys')
    assert.ok(!raw!.secret_share.includes(secretShare.toString(16)), 'not in clear')
    const other = createOcaRepository(db, createSealer(randomBytes(32)))
    await assert.rejects(other.groupKey(DIGEST), { name: 'SealingError' })
  })

  it('gives each (round, view) one nonce that signs one message, also concurrently', async () => {
    const repo = createOcaRepository(db, createSealer(sealingKey))
    const b = batch(4, 1, 3, 2, 1n)
    assert.equal(await repo.saveBatch(DIGEST, b), true)
    assert.equal(await repo.saveBatch(DIGEST, b), false)
    assert.deepEqual(await repo.batches(DIGEST), [
      { batch: 1, firstRound: 1, lastRound: 3, viewsPerRound: 2, digest: b.digest },
    ])
    const store = repo.nonceStore(DIGEST)
    const n = await store.get(2, 1)
    const expected = b.nonces.find((x) => x.round === 2 && x.view === 1)!
    assert.equal(n.share, expected.share)
    assert.equal(pointHex(n.point), expected.point)
    assert.deepEqual(n.shares, expected.shares)

    await store.use(2, 1, message('a'))
    await store.use(2, 1, message('a')) // the same message again: a restart re-signing it
    await assert.rejects(store.use(2, 1, message('b')), NonceReuseError)
    await assert.rejects(store.get(9, 0), NonceUnavailableError)
    await assert.rejects(store.use(9, 0, message('a')), NonceUnavailableError)

    // Two callers racing for one nonce with different messages: exactly one wins.
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => store.use(3, 0, message(`race ${i}`))),
    )
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    const records = await repo.nonceRecords(DIGEST)
    assert.equal(records.length, 6)
    assert.equal(records.filter((r) => r.message !== undefined).length, 2)
    assert.equal(records.find((r) => r.round === 2 && r.view === 1)?.message, message('a'))
    assert.ok(records.find((r) => r.round === 2 && r.view === 1)?.usedAt instanceof Date)
  })

  it('refuses a batch that would give a (round, view) or a nonce point a second time, whole', async () => {
    const repo = createOcaRepository(db, createSealer(sealingKey))
    const digest = message('second config')
    assert.equal(await repo.saveBatch(digest, batch(4, 1, 2, 2, 10n)), true)
    // Overlapping rounds.
    await assert.rejects(repo.saveBatch(digest, batch(4, 2, 2, 2, 11n)))
    // A repeated point in another round.
    const b = batch(4, 5, 2, 2, 12n)
    b.nonces[3]!.point = batch(4, 1, 2, 2, 10n).nonces[0]!.point
    await assert.rejects(repo.saveBatch(digest, b))
    assert.deepEqual(
      (await repo.batches(digest)).map((x) => x.batch),
      [10],
      'nothing of the refused batches was kept',
    )
    assert.equal((await repo.nonceRecords(digest)).length, 4)
  })

  it('prunes unused nonces of past rounds and keeps used ones', async () => {
    const repo = createOcaRepository(db, createSealer(sealingKey))
    const digest = message('prune config')
    await repo.saveBatch(digest, batch(4, 1, 3, 2, 20n))
    await repo.nonceStore(digest).use(1, 0, message('x'))
    assert.equal(await repo.prune(digest, 3), 3)
    const left = await repo.nonceRecords(digest)
    assert.deepEqual(
      left.map((r) => [r.round, r.view]),
      [
        [1, 0],
        [3, 0],
        [3, 1],
      ],
    )
    await assert.rejects(repo.nonceStore(digest).get(2, 0), NonceUnavailableError)
  })

  it('opens the sealing key with the password only; the same key every time', async () => {
    const k1 = await openSealingKey(db, 'correct horse', { scryptN: 2 ** 10 })
    const k2 = await openSealingKey(db, 'correct horse', { scryptN: 2 ** 10 })
    assert.deepEqual(k1, k2)
    assert.equal(k1.length, 32)
    await assert.rejects(openSealingKey(db, 'wrong', { scryptN: 2 ** 10 }), OcaStoreError)
  })
})

describe('OCA store across a restart', () => {
  it('never lets a used nonce sign another message after the database is reopened', async () => {
    const url = process.env.DATABASE_URL
    const dir = url ? undefined : await mkdtemp(join(tmpdir(), 'orakel-oca-store-'))
    const schema = `t_${randomBytes(6).toString('hex')}`
    const open = () =>
      url ? openDatabase({ url, schema, poolSize: 2 }) : openDatabase({ dataDir: dir })
    try {
      let db = await open()
      const key = await openSealingKey(db, 'pw', { scryptN: 2 ** 10 })
      let repo = createOcaRepository(db, createSealer(key))
      await repo.saveBatch(DIGEST, batch(4, 1, 2, 2, 30n))
      await repo.nonceStore(DIGEST).use(1, 0, message('before the crash'))
      await db.close()

      db = await open()
      repo = createOcaRepository(db, createSealer(await openSealingKey(db, 'pw')))
      const store = repo.nonceStore(DIGEST)
      await store.use(1, 0, message('before the crash'))
      await assert.rejects(store.use(1, 0, message('after the crash')), NonceReuseError)
      assert.equal((await store.get(1, 0)).share, batch(4, 1, 2, 2, 30n).nonces[0]!.share)
      if (url) await db.exec(`DROP SCHEMA ${schema} CASCADE`)
      await db.close()
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true })
    }
  })
})
