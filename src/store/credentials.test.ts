import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type CredentialRepository, createCredentialRepository } from './credentials.ts'
import type { Db } from './db.ts'
import { openTestDatabase } from './testing.ts'

describe(`credential repository (${process.env.DATABASE_URL ? 'Postgres server' : 'PGlite'})`, () => {
  let db: Db
  let creds: CredentialRepository
  let dir: string
  before(async () => {
    db = await openTestDatabase()
    creds = createCredentialRepository(db)
    dir = await mkdtemp(join(tmpdir(), 'orakel-creds-'))
  })
  after(async () => {
    await db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  const hashes = async () =>
    (await db.query<{ secret_hash: string }>('SELECT secret_hash FROM api_credentials')).map(
      (r) => r.secret_hash,
    )

  it('creates the API token on first start, writes it 0600, keeps it on later starts', async () => {
    const dataDir = join(dir, 'node')
    const token = await creds.ensureApiToken(dataDir)
    assert.match(token, /^[A-Za-z0-9_-]{43}$/)
    const path = join(dataDir, 'api-token')
    assert.equal((await readFile(path, 'utf8')).trim(), token)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    assert.ok(!(await hashes()).includes(token), 'only the hash is stored')
    assert.equal((await creds.verify(token))?.kind, 'token')

    assert.equal(await creds.ensureApiToken(dataDir), token, 'kept on restart')
    assert.equal((await hashes()).length, 1)

    // The database lost it (e.g. a new database): the file's token is registered again.
    await db.query('DELETE FROM api_credentials')
    assert.equal(await creds.ensureApiToken(dataDir), token)
    assert.ok(await creds.verify(token))

    // The file was removed: a new token replaces the old one.
    await rm(path)
    const next = await creds.ensureApiToken(dataDir)
    assert.notEqual(next, token)
    assert.equal(await creds.verify(token), undefined)
    assert.ok(await creds.verify(next))

    // A file with the wrong mode is tightened.
    await writeFile(path, `${next}\n`, { mode: 0o644 })
    await creds.ensureApiToken(dataDir)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
  })

  it('accepts an operator-chosen token in the file; refuses a malformed one', async () => {
    const dataDir = join(dir, 'own')
    await mkdir(dataDir, { recursive: true })
    const own = 'my-own-token-that-is-long-enough-0123456789'
    await writeFile(join(dataDir, 'api-token'), `${own}\n`, { mode: 0o600 })
    assert.equal(await creds.ensureApiToken(dataDir), own)
    assert.equal((await creds.verify(own))?.kind, 'token')
    await writeFile(join(dataDir, 'api-token'), 'short\n')
    await assert.rejects(creds.ensureApiToken(dataDir), /holds no valid token/)
    assert.equal(await readFile(join(dataDir, 'api-token'), 'utf8'), 'short\n', 'left alone')
  })

  it('creates, verifies and revokes sessions; updates last_used_at', async () => {
    const { token, expiresAt } = await creds.createSession(24)
    assert.ok(Math.abs(expiresAt.getTime() - Date.now() - 24 * 3_600_000) < 60_000)
    const [before] = await db.query<{ last_used_at: Date | null }>(
      `SELECT last_used_at FROM api_credentials WHERE kind = 'session'`,
    )
    assert.equal(before!.last_used_at, null)
    const c = await creds.verify(token)
    assert.equal(c?.kind, 'session')
    assert.equal(c?.label, 'session')
    assert.equal(typeof c?.id, 'bigint')
    const [used] = await db.query<{ last_used_at: Date | null }>(
      `SELECT last_used_at FROM api_credentials WHERE kind = 'session'`,
    )
    assert.ok(used!.last_used_at instanceof Date)

    assert.equal(await creds.verify('wrong'), undefined)
    const tampered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`
    assert.equal(await creds.verify(tampered), undefined)
    assert.equal(await creds.revokeSession(token), true)
    assert.equal(await creds.revokeSession(token), false)
    assert.equal(await creds.verify(token), undefined)
    await assert.rejects(creds.createSession(0))
  })

  it('refuses expired sessions and deletes them', async () => {
    const { token } = await creds.createSession(1)
    await db.query(
      `UPDATE api_credentials SET expires_at = now() - interval '1 second' WHERE kind = 'session'`,
    )
    assert.equal(await creds.verify(token), undefined)
    assert.equal(await creds.deleteExpiredSessions(), 1)
    assert.equal(await creds.deleteExpiredSessions(), 0)
  })

  it('revokeSession never removes the API token', async () => {
    const token = await creds.ensureApiToken(join(dir, 'node'))
    assert.equal(await creds.revokeSession(token), false)
    assert.ok(await creds.verify(token))
  })
})
