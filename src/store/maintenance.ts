import type { Logger } from '../common.ts'
import { errorMessage } from '../errors.ts'
import type { Db } from './db.ts'

/**
 * Table maintenance for PGlite, which has no autovacuum. Without it the planner keeps the
 * estimates of empty tables and scans whole indexes as tables grow, and dead rows pile up.
 *
 * A pass does what autovacuum would: it reads the statistics Postgres keeps per table and
 * vacuums or analyzes only the tables past a threshold, one table and one statement at a time.
 * PGlite runs one statement at a time for the whole node, so a statement here delays every
 * query queued behind it: a single `VACUUM ANALYZE` of the database held the node for 120–230
 * ms every 20 s under load; per table and only when due, a statement takes a few ms to about 25 ms
 * (ANALYZE of 9,000 transactions with the smaller sample below: 23 ms, against 85 ms).
 */

/** When a table is due, as in Postgres's autovacuum: `base + scale × live rows`. */
export type MaintenanceThresholds = {
  /** Dead rows before a vacuum (autovacuum_vacuum_threshold / _scale_factor: 50, 0.2). */
  vacuumBase: number
  vacuumScale: number
  /** Rows inserted since the last vacuum (autovacuum_vacuum_insert_*: 1000, 0.2). */
  insertBase: number
  insertScale: number
  /**
   * Rows changed since the last analyze. Postgres uses 50 and 0.1; 0.5 here, so that a table
   * growing steadily is analyzed about every half of its size again, not every tenth.
   */
  analyzeBase: number
  analyzeScale: number
}

export const DEFAULT_THRESHOLDS: MaintenanceThresholds = {
  vacuumBase: 50,
  vacuumScale: 0.2,
  insertBase: 1000,
  insertScale: 0.2,
  analyzeBase: 50,
  analyzeScale: 0.5,
}

/**
 * Rows sampled per column by ANALYZE are 300 × this target. The default (100) reads up to
 * 30,000 rows, wide JSON and calldata included: 50–90 ms for a 9,000-row table of
 * transactions. The node's queries filter on a few narrow columns, for which 3,000 rows are
 * plenty (measured: 23 ms instead of 85 ms for 9,000 transactions).
 */
const STATISTICS_TARGET = 10

export type TableStats = {
  schema: string
  table: string
  live: number
  dead: number
  modifiedSinceAnalyze: number
  insertedSinceVacuum: number
}

/** What a table needs now, by its statistics. */
export function tableWork(
  s: TableStats,
  t: MaintenanceThresholds = DEFAULT_THRESHOLDS,
): { vacuum: boolean; analyze: boolean } {
  return {
    vacuum:
      s.dead > t.vacuumBase + t.vacuumScale * s.live ||
      s.insertedSinceVacuum > t.insertBase + t.insertScale * s.live,
    analyze: s.modifiedSinceAnalyze > t.analyzeBase + t.analyzeScale * s.live,
  }
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`

/** The per-table statistics, flushed first (PGlite reports them only now and then). */
export async function readTableStats(db: Db): Promise<TableStats[]> {
  await db.query('SELECT pg_stat_force_next_flush()')
  const rows = await db.query<{
    schemaname: string
    relname: string
    live: string
    dead: string
    modified: string
    inserted: string
  }>(
    `SELECT schemaname, relname, n_live_tup AS live, n_dead_tup AS dead,
            n_mod_since_analyze AS modified, n_ins_since_vacuum AS inserted
     FROM pg_stat_user_tables ORDER BY relname`,
  )
  return rows.map((r) => ({
    schema: r.schemaname,
    table: r.relname,
    live: Number(r.live),
    dead: Number(r.dead),
    modifiedSinceAnalyze: Number(r.modified),
    insertedSinceVacuum: Number(r.inserted),
  }))
}

export type MaintenanceStep = { table: string; op: 'vacuum' | 'analyze'; ms: number }

/** One pass over the tables: vacuums and analyzes those that are due. Returns what it did. */
export async function maintainTables(
  db: Db,
  thresholds: MaintenanceThresholds = DEFAULT_THRESHOLDS,
): Promise<MaintenanceStep[]> {
  const steps: MaintenanceStep[] = []
  for (const stats of await readTableStats(db)) {
    const work = tableWork(stats, thresholds)
    const name = `${quoteIdent(stats.schema)}.${quoteIdent(stats.table)}`
    if (work.vacuum) {
      const start = performance.now()
      await db.exec(`VACUUM ${name}`)
      steps.push({ table: stats.table, op: 'vacuum', ms: performance.now() - start })
    }
    if (work.analyze) {
      const start = performance.now()
      // SET LOCAL: the smaller sample for this statement only.
      await db.transaction(async (tx) => {
        await tx.query(`SET LOCAL default_statistics_target = ${STATISTICS_TARGET}`)
        await tx.query(`ANALYZE ${name}`)
      })
      steps.push({ table: stats.table, op: 'analyze', ms: performance.now() - start })
    }
  }
  return steps
}

/**
 * Runs `maintainTables` every `intervalMs` on PGlite (a Postgres server runs its own
 * autovacuum; nothing to do there). Returns the stop function, which waits for a pass under way.
 */
export function startMaintenance(
  deps: { db: Db; logger: Logger },
  intervalMs = 5_000,
): () => Promise<void> {
  const { db } = deps
  if (db.kind !== 'pglite') return async () => {}
  const logger = deps.logger.child({ component: 'maintenance' })
  let running: Promise<void> | undefined
  const timer = setInterval(() => {
    running ??= maintainTables(db)
      .then((steps) => {
        for (const s of steps) logger.debug({ table: s.table, ms: Math.round(s.ms) }, s.op)
      })
      .catch((err: unknown) =>
        logger.warn({ err: errorMessage(err) }, 'database maintenance failed'),
      )
      .finally(() => {
        running = undefined
      })
  }, intervalMs)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}
