import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BaseError } from '../errors.ts'

/**
 * The database: PGlite (Postgres in WebAssembly) in the node's data directory by default, a
 * Postgres server when a URL is given. Both speak the same SQL and run the same migrations and
 * repositories.
 */

export class DatabaseError extends BaseError {
  override name = 'DatabaseError'
}

export type Row = Record<string, unknown>

export type Queryable = {
  /** Runs one statement with `$1`-style parameters; returns its rows. */
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>
}

export type Db = Queryable & {
  kind: 'pglite' | 'postgres'
  /** Runs `fn` in one transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  /** Runs several statements (no parameters), e.g. a migration. */
  exec(sql: string): Promise<void>
  close(): Promise<void>
}

/** Parameters as both drivers accept them: bigints as text, bytes as Buffers. */
function prepare(params: readonly unknown[] = []): unknown[] {
  return params.map((p) => {
    if (typeof p === 'bigint') return p.toString()
    if (p instanceof Uint8Array && !Buffer.isBuffer(p)) return Buffer.from(p)
    return p
  })
}

function wrapError(err: unknown, sql: string): DatabaseError {
  const e = err as { message?: string; code?: string }
  return new DatabaseError(`database error: ${e.message ?? String(err)}`, {
    cause: err,
    details: `${e.code ? `SQLSTATE ${e.code} in ` : ''}${sql.trim().split('\n')[0]!.slice(0, 200)}`,
    retryable: e.code === '40001' || e.code === '40P01' || e.code?.startsWith('08') === true,
  })
}

export type OpenDatabaseParameters = {
  /** A Postgres server (`postgres://...`); PGlite when absent. */
  url?: string | undefined
  /** PGlite's folder; in memory when absent. */
  dataDir?: string | undefined
  /** Postgres only: the schema to use (created if missing), to isolate tests. */
  schema?: string | undefined
  /** Postgres only: connections in the pool. */
  poolSize?: number
}

export async function openDatabase(params: OpenDatabaseParameters = {}): Promise<Db> {
  const db = params.url ? await openPostgres(params) : await openPglite(params.dataDir)
  await migrate(db)
  return db
}

async function openPglite(dataDir: string | undefined): Promise<Db> {
  const { PGlite } = await import('@electric-sql/pglite')
  if (dataDir) await mkdir(dataDir, { recursive: true })
  let pg: InstanceType<typeof PGlite>
  try {
    pg = dataDir ? await PGlite.create(dataDir) : await PGlite.create()
  } catch (cause) {
    throw new DatabaseError(`cannot open the embedded database${dataDir ? ` in ${dataDir}` : ''}`, {
      cause,
    })
  }
  const query = async <T extends Row>(
    run: (sql: string, p: unknown[]) => Promise<{ rows: unknown[] }>,
    sql: string,
    params?: readonly unknown[],
  ) => {
    try {
      return (await run(sql, prepare(params))).rows as T[]
    } catch (err) {
      throw wrapError(err, sql)
    }
  }
  return {
    kind: 'pglite',
    query: (sql, params) => query((s, p) => pg.query(s, p), sql, params),
    transaction: (fn) =>
      pg.transaction((tx) =>
        fn({ query: (sql, params) => query((s, p) => tx.query(s, p), sql, params) }),
      ),
    exec: async (sql) => {
      try {
        await pg.exec(sql)
      } catch (err) {
        throw wrapError(err, sql)
      }
    },
    close: () => pg.close(),
  }
}

async function openPostgres(params: OpenDatabaseParameters): Promise<Db> {
  const pg = (await import('pg')).default
  const schema = params.schema
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema)) {
    throw new DatabaseError(`invalid schema name ${JSON.stringify(schema)}`)
  }
  const pool = new pg.Pool({
    connectionString: params.url,
    max: params.poolSize ?? 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  })
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it. Queries report their own errors.
  })
  try {
    if (schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
    else await pool.query('SELECT 1')
  } catch (cause) {
    await pool.end()
    throw new DatabaseError(`cannot connect to the database at ${redact(params.url!)}`, {
      cause,
      retryable: true,
    })
  }
  const query = async <T extends Row>(
    client: { query(sql: string, params: unknown[]): Promise<{ rows: unknown[] }> },
    sql: string,
    params?: readonly unknown[],
  ) => {
    try {
      return (await client.query(sql, prepare(params))).rows as T[]
    } catch (err) {
      throw wrapError(err, sql)
    }
  }
  return {
    kind: 'postgres',
    query: (sql, params) => query(pool, sql, params),
    transaction: async (fn) => {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const result = await fn({ query: (sql, params) => query(client, sql, params) })
        await client.query('COMMIT')
        return result
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw err
      } finally {
        client.release()
      }
    },
    exec: async (sql) => {
      try {
        await pool.query(sql)
      } catch (err) {
        throw wrapError(err, sql)
      }
    },
    close: () => pool.end(),
  }
}

/** A database URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '<invalid database URL>'
  }
}

const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations')

/**
 * Applies the dated migrations in `src/store/migrations/` that have not run yet, each in its
 * own transaction, and refuses to start when an applied migration was edited afterwards.
 */
export async function migrate(db: Db, dir = MIGRATIONS_DIR): Promise<string[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS orakel_migrations (
    name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()
  for (const f of files) {
    if (!/^\d{4}-\d{2}-\d{2}-\d{2}-[a-z0-9-]+\.sql$/.test(f)) {
      throw new DatabaseError(`migration file ${f} is not named YYYY-MM-DD-NN-description.sql`)
    }
  }
  const applied = new Map(
    (
      await db.query<{ name: string; checksum: string }>(
        'SELECT name, checksum FROM orakel_migrations',
      )
    ).map((r) => [r.name, r.checksum]),
  )
  const ran: string[] = []
  for (const file of files) {
    const sql = await readFile(join(dir, file), 'utf8')
    const checksum = createHash('sha256').update(sql).digest('hex')
    const previous = applied.get(file)
    if (previous !== undefined) {
      if (previous !== checksum) {
        throw new DatabaseError(`migration ${file} was changed after it was applied`, {
          details: 'migrations are append-only: restore the file and add a new migration instead',
        })
      }
      continue
    }
    await db.transaction(async (tx) => {
      for (const statement of splitStatements(sql)) await tx.query(statement)
      await tx.query('INSERT INTO orakel_migrations (name, checksum) VALUES ($1, $2)', [
        file,
        checksum,
      ])
    })
    ran.push(file)
  }
  for (const name of applied.keys()) {
    if (!files.includes(name)) {
      throw new DatabaseError(
        `the database has migration ${name}, which this version of Orakel does not know`,
        {
          details: 'it was made by a newer version; upgrade Orakel instead of downgrading',
        },
      )
    }
  }
  return ran
}

/** Splits a migration into statements at `;` line ends, dropping comments. */
export function splitStatements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean)
}
