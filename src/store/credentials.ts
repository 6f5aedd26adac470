import { createHash, randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BaseError } from '../errors.ts'
import type { Db } from './db.ts'

/**
 * API credentials: long-lived tokens and login sessions. Only their sha256 is stored, so a
 * copy of the database lets no one into the API. The node's own API token is also written to
 * `<dataDir>/api-token` (mode 0600) for the operator and the CLI on the same machine.
 */

export class CredentialError extends BaseError {
  override name = 'CredentialError'
}

export type Credential = {
  id: bigint
  kind: 'token' | 'session'
  label: string
  createdAt: Date
  expiresAt: Date | undefined
}

export type CredentialRepository = {
  /**
   * The node's API token: read from `<dataDir>/api-token` when it is there (and registered
   * again if the database lost it), else created, stored as a hash and written to that file
   * with mode 0600. A new token replaces the previous `api-token` credential.
   */
  ensureApiToken(dataDir: string): Promise<string>
  /** A new login session valid for `ttlHours`. */
  createSession(ttlHours: number, label?: string): Promise<{ token: string; expiresAt: Date }>
  /** The credential a secret belongs to, if it is a token or an unexpired session. */
  verify(secret: string): Promise<Credential | undefined>
  /** Ends a session; returns whether there was one. */
  revokeSession(secret: string): Promise<boolean>
  /** Deletes expired sessions; returns how many. */
  deleteExpiredSessions(): Promise<number>
}

export const API_TOKEN_FILE = 'api-token'
const API_TOKEN_LABEL = 'api-token'
/**
 * What a secret may look like: this module issues 32 random bytes as base64url (43
 * characters); an operator may put a token of their own (32 to 256 printable ASCII
 * characters) into the api-token file.
 */
const SECRET = /^[\x21-\x7e]{32,256}$/

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
export const newSecret = () => randomBytes(32).toString('base64url')

type CredentialRow = {
  id: string
  kind: 'token' | 'session'
  label: string
  created_at: Date
  expires_at: Date | null
}

const COLUMNS = 'id::text AS id, kind, label, created_at, expires_at'

const toCredential = (r: CredentialRow): Credential => ({
  id: BigInt(r.id),
  kind: r.kind,
  label: r.label,
  createdAt: new Date(r.created_at),
  expiresAt: r.expires_at ? new Date(r.expires_at) : undefined,
})

export function createCredentialRepository(db: Db): CredentialRepository {
  return {
    async ensureApiToken(dataDir) {
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      const path = join(dataDir, API_TOKEN_FILE)
      const existing = await readFile(path, 'utf8').then(
        (s) => s.trim(),
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return ''
          throw new CredentialError(`cannot read the API token file ${path}`, { cause: err })
        },
      )
      if (existing !== '' && !SECRET.test(existing)) {
        throw new CredentialError(`the API token file ${path} holds no valid token`, {
          details: 'a token is 32 to 256 printable ASCII characters without spaces',
          metaMessages: ['delete the file to have a new token made'],
        })
      }
      if (existing !== '') {
        await db.query(
          `INSERT INTO api_credentials (kind, label, secret_hash) VALUES ('token', $1, $2)
           ON CONFLICT (secret_hash) DO NOTHING`,
          [API_TOKEN_LABEL, sha256(existing)],
        )
        await chmod(path, 0o600)
        return existing
      }
      const token = newSecret()
      await db.transaction(async (tx) => {
        await tx.query(`DELETE FROM api_credentials WHERE kind = 'token' AND label = $1`, [
          API_TOKEN_LABEL,
        ])
        await tx.query(
          `INSERT INTO api_credentials (kind, label, secret_hash) VALUES ('token', $1, $2)`,
          [API_TOKEN_LABEL, sha256(token)],
        )
      })
      const tmp = `${path}.${process.pid}.tmp`
      try {
        await writeFile(tmp, `${token}\n`, { mode: 0o600 })
        await chmod(tmp, 0o600)
        await rename(tmp, path)
      } catch (cause) {
        throw new CredentialError(`cannot write the API token file ${path}`, { cause })
      }
      return token
    },

    async createSession(ttlHours, label = 'session') {
      if (!(ttlHours > 0)) throw new CredentialError(`invalid session lifetime ${ttlHours} h`)
      const token = newSecret()
      const expiresAt = new Date(Date.now() + ttlHours * 3_600_000)
      await db.query(
        `INSERT INTO api_credentials (kind, label, secret_hash, expires_at) VALUES ('session', $1, $2, $3)`,
        [label, sha256(token), expiresAt],
      )
      return { token, expiresAt }
    },

    async verify(secret) {
      if (!SECRET.test(secret)) return undefined
      const [row] = await db.query<CredentialRow>(
        `UPDATE api_credentials SET last_used_at = now()
         WHERE secret_hash = $1 AND (expires_at IS NULL OR expires_at > now())
         RETURNING ${COLUMNS}`,
        [sha256(secret)],
      )
      return row && toCredential(row)
    },

    async revokeSession(secret) {
      if (!SECRET.test(secret)) return false
      const rows = await db.query(
        `DELETE FROM api_credentials WHERE secret_hash = $1 AND kind = 'session' RETURNING id`,
        [sha256(secret)],
      )
      return rows.length > 0
    },

    async deleteExpiredSessions() {
      const rows = await db.query(
        `DELETE FROM api_credentials WHERE kind = 'session' AND expires_at <= now() RETURNING id`,
      )
      return rows.length
    },
  }
}
