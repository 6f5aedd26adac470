import assert from 'node:assert/strict'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DatabaseError, type Db, migrate, openDatabase, splitStatements } from './db.ts'
import { openTestDatabase } from './testing.ts'

describe(`database (${process.env.DATABASE_URL ? 'Postgres server' : 'PGlite'})`, () => {
  let db: Db
  let dir: string
  before(async () => {
    db = await openTestDatabase()
    dir = await mkdtemp(join(tmpdir(), 'orakel-migrations-'))
  })
  after(async () => {
    await db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('has the schema after the migrations ran', async () => {
    const tables = await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`,
    )
    const names = tables.map((t) => t.table_name)
    for (const t of [
      'jobs',
      'job_runs',
      'task_runs',
      'processed_logs',
      'eth_keys',
      'eth_txes',
      'eth_tx_attempts',
      'bridges',
    ]) {
      assert.ok(names.includes(t), `table ${t}`)
    }
  })

  it('round-trips bigints, bytes and JSON; transactions roll back on error', async () => {
    await db.exec('CREATE TABLE t_values (n numeric(78,0), b bytea, j jsonb)')
    await db.query('INSERT INTO t_values VALUES ($1, $2, $3)', [
      2n ** 200n,
      Uint8Array.from([1, 2, 3]),
      '{"a":1}',
    ])
    const [row] = await db.query<{ n: string; b: Uint8Array; j: unknown }>(
      'SELECT n::text AS n, b, j FROM t_values',
    )
    assert.equal(row!.n, (2n ** 200n).toString())
    assert.deepEqual([...row!.b], [1, 2, 3])
    assert.deepEqual(row!.j, { a: 1 })
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO t_values (n) VALUES (1)')
        throw new Error('abort')
      }),
      /abort/,
    )
    const count = await db.query<{ c: string | number }>('SELECT count(*) AS c FROM t_values')
    assert.equal(Number(count[0]!.c), 1)
  })

  it('names the failing statement', async () => {
    await assert.rejects(db.query('SELECT * FROM no_such_table'), (e: unknown) => {
      assert.ok(e instanceof DatabaseError)
      assert.match(e.message, /no_such_table/)
      assert.match(e.details ?? '', /SELECT \* FROM no_such_table/)
      assert.match(e.details ?? '', /SQLSTATE 42P01/)
      return true
    })
  })

  it('migrations are append-only: applied once, edits and unknown ones refused', async () => {
    await cp(join(import.meta.dirname, 'migrations'), dir, { recursive: true })
    await writeFile(join(dir, '2030-01-01-01-extra.sql'), 'CREATE TABLE t_extra (id int);\n')
    assert.deepEqual(await migrate(db, dir), ['2030-01-01-01-extra.sql'])
    assert.deepEqual(await migrate(db, dir), [])
    await writeFile(join(dir, '2030-01-01-01-extra.sql'), 'CREATE TABLE t_extra (id bigint);\n')
    await assert.rejects(migrate(db, dir), /was changed after it was applied/)
    // The default folder does not know the extra migration: a newer database.
    await assert.rejects(migrate(db), /does not know/)
    await writeFile(join(dir, 'bad name.sql'), '')
    await assert.rejects(migrate(db, dir), /is not named YYYY-MM-DD-NN-description\.sql/)
  })

  it('splits statements and drops comment lines', () => {
    assert.deepEqual(splitStatements('-- c\nCREATE TABLE a (x int);\nCREATE TABLE b (y int);\n'), [
      'CREATE TABLE a (x int)',
      'CREATE TABLE b (y int)',
    ])
  })
})

describe('opening databases', () => {
  it('keeps PGlite data in its folder across restarts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'orakel-pglite-'))
    try {
      const first = await openDatabase({ dataDir })
      await first.query("INSERT INTO node_settings (key, value) VALUES ('k', '1')")
      await first.close()
      const second = await openDatabase({ dataDir })
      assert.deepEqual(await second.query("SELECT value FROM node_settings WHERE key = 'k'"), [
        { value: 1 },
      ])
      await second.close()
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })

  it('reports an unreachable server clearly, without the password', async () => {
    await assert.rejects(
      openDatabase({ url: 'postgres://user:hunter2@127.0.0.1:1/db' }),
      (e: unknown) => {
        assert.ok(e instanceof DatabaseError)
        assert.match(
          e.message,
          /cannot connect to the database at postgres:\/\/user:\*\*\*@127\.0\.0\.1:1\/db/,
        )
        assert.ok(!e.message.includes('hunter2'))
        return true
      },
    )
  })
})
