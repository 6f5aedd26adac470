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
