import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createLogger } from '../common.ts'
import { type Db, openDatabase } from './db.ts'
import {
  DEFAULT_THRESHOLDS,
  maintainTables,
  readTableStats,
  startMaintenance,
  type TableStats,
  tableWork,
} from './maintenance.ts'

const stats = (s: Partial<TableStats>): TableStats => ({
  schema: 'public',
  table: 't',
  live: 0,
  dead: 0,
  modifiedSinceAnalyze: 0,
  insertedSinceVacuum: 0,
  ...s,
})

describe('tableWork', () => {
  it('vacuums past 50 + 20 % dead rows, and past 1000 + 20 % inserted ones', () => {
    assert.deepEqual(tableWork(stats({ live: 1000, dead: 250 })), {
      vacuum: false,
      analyze: false,
    })
    assert.equal(tableWork(stats({ live: 1000, dead: 251 })).vacuum, true)
    assert.equal(tableWork(stats({ live: 1000, insertedSinceVacuum: 1200 })).vacuum, false)
    assert.equal(tableWork(stats({ live: 1000, insertedSinceVacuum: 1201 })).vacuum, true)
  })

  it('analyzes past 50 + 50 % changed rows, so an empty table is analyzed once it has rows', () => {
    assert.equal(tableWork(stats({ live: 0, modifiedSinceAnalyze: 50 })).analyze, false)
    assert.equal(tableWork(stats({ live: 0, modifiedSinceAnalyze: 51 })).analyze, true)
    assert.equal(tableWork(stats({ live: 10_000, modifiedSinceAnalyze: 5050 })).analyze, false)
    assert.equal(tableWork(stats({ live: 10_000, modifiedSinceAnalyze: 5051 })).analyze, true)
    assert.equal(DEFAULT_THRESHOLDS.analyzeScale, 0.5)
  })
})

/** The maintenance is PGlite's (a Postgres server has autovacuum): tested on PGlite. */
describe('maintainTables on PGlite', () => {
  const withDb = async (fn: (db: Db) => Promise<void>) => {
    const db = await openDatabase()
    try {
      await fn(db)
    } finally {
      await db.close()
    }
  }
  const statsOf = async (db: Db, table: string) =>
    (await readTableStats(db)).find((s) => s.table === table)!
  /** What a pass did to `table`. */
  const opsOn = async (db: Db, table: string) =>
    (await maintainTables(db)).filter((s) => s.table === table).map((s) => s.op)

  it('vacuums and analyzes a table that changed, and leaves it alone after', async () => {
    await withDb(async (db) => {
      await db.exec(`CREATE TABLE churn (id int PRIMARY KEY, v int, body text)`)
      await db.exec(
        `INSERT INTO churn SELECT g, 0, repeat('x', 300) FROM generate_series(1, 2000) g`,
      )
      await db.exec('UPDATE churn SET v = 1 WHERE id <= 1000')
      const before = await statsOf(db, 'churn')
      assert.equal(before.live, 2000)
      assert.equal(before.dead, 1000)

      assert.deepEqual(await opsOn(db, 'churn'), ['vacuum', 'analyze'])

      const after = await statsOf(db, 'churn')
      assert.equal(after.dead, 0)
      assert.equal(after.modifiedSinceAnalyze, 0)
      // The planner now knows the table's size.
      const [plan] = await db.query<{ reltuples: number }>(
        `SELECT reltuples FROM pg_class WHERE relname = 'churn'`,
      )
      assert.equal(Number(plan!.reltuples), 2000)

      assert.deepEqual(await opsOn(db, 'churn'), [])
    })
  })

  it('leaves a table below the thresholds alone', async () => {
    await withDb(async (db) => {
      await db.exec('CREATE TABLE quiet (id int PRIMARY KEY)')
      await db.exec('INSERT INTO quiet SELECT generate_series(1, 40)')
      assert.deepEqual(await opsOn(db, 'quiet'), [])
      assert.equal((await statsOf(db, 'quiet')).modifiedSinceAnalyze, 40)
    })
  })

  it('quotes table names', async () => {
    await withDb(async (db) => {
      await db.exec('CREATE TABLE "odd ""name""" (id int)')
      await db.exec('INSERT INTO "odd ""name""" SELECT generate_series(1, 200)')
      assert.deepEqual(await opsOn(db, 'odd "name"'), ['analyze'])
    })
  })

  it('runs on a timer and stops, waiting for a pass under way', async () => {
    await withDb(async (db) => {
      await db.exec('CREATE TABLE timed (id int)')
      await db.exec('INSERT INTO timed SELECT generate_series(1, 500)')
      const stop = startMaintenance({ db, logger: createLogger({ silent: true }) }, 20)
      const deadline = Date.now() + 5000
      while ((await statsOf(db, 'timed')).modifiedSinceAnalyze > 0) {
        assert.ok(Date.now() < deadline, 'the timer never analyzed the table')
        await new Promise((r) => setTimeout(r, 20))
      }
      await stop()
    })
  })

  it('does nothing on a Postgres server, which vacuums itself', async () => {
    let queried = false
    const db = {
      kind: 'postgres',
      query: async () => {
        queried = true
        return []
      },
    } as unknown as Db
    const stop = startMaintenance({ db, logger: createLogger({ silent: true }) }, 5)
    await new Promise((r) => setTimeout(r, 30))
    await stop()
    assert.equal(queried, false)
  })
})
