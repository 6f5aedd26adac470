import { randomBytes } from 'node:crypto'
import { type Db, openDatabase } from './db.ts'

/**
 * A fresh, migrated database for one test: a Postgres schema of its own when DATABASE_URL is
 * set (dropped on close), else an in-memory PGlite. The same tests run on both.
 */
export async function openTestDatabase(): Promise<Db> {
  const url = process.env.DATABASE_URL
  if (!url) return openDatabase()
  const schema = `t_${randomBytes(6).toString('hex')}`
  const db = await openDatabase({ url, schema, poolSize: 4 })
  const close = db.close
  return {
    ...db,
    close: async () => {
      await db.exec(`DROP SCHEMA ${schema} CASCADE`).catch(() => {})
      await close()
    },
  }
}

/**
 * For a process that opens the database itself (a node under test): with DATABASE_URL, a URL
 * whose connections use a fresh schema of their own (dropped by `drop()`); else undefined, and
 * the node uses PGlite in its data directory.
 */
export async function testDatabaseUrl(): Promise<
  { url: string; drop(): Promise<void> } | undefined
> {
  const base = process.env.DATABASE_URL
  if (!base) return undefined
  const schema = `t_${randomBytes(6).toString('hex')}`
  const admin = await openDatabase({ url: base, schema, poolSize: 1 })
  await admin.close()
  const url = new URL(base)
  url.searchParams.set('options', `-c search_path=${schema}`)
  return {
    url: url.toString(),
    drop: async () => {
      const db = await openDatabase({ url: base, poolSize: 1 })
      await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {})
      await db.close()
    },
  }
}
