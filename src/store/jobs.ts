import { randomUUID } from 'node:crypto'
import { BaseError } from '../errors.ts'
import type { ParsedJob } from '../pipeline/job-spec.ts'
import type { Db, Queryable } from './db.ts'

/**
 * Jobs: the TOML spec as the operator wrote it, its normalised form and hash, and the fields
 * the node looks jobs up by. Deleting a job is soft (`deleted_at`), so its runs keep their job.
 */

export class JobExistsError extends BaseError {
  override name = 'JobExistsError'
}

export type Job = {
  id: bigint
  externalJobID: string
  type: string
  name: string | undefined
  specToml: string
  /** sha256 of the normalised spec, hex. */
  hash: string
  contractAddress: string | undefined
  evmChainID: bigint | undefined
  createdAt: Date
  deletedAt: Date | undefined
}

export type JobRepository = {
  /** Stores a parsed job; its externalJobID is the spec's, or a new UUID. */
  create(parsed: ParsedJob, toml: string, tx?: Queryable): Promise<Job>
  /** Jobs not deleted, oldest first (`includeDeleted` for all). */
  list(options?: { includeDeleted?: boolean }): Promise<Job[]>
  /** By numeric id or externalJobID; deleted jobs only with `includeDeleted`. */
  get(
    idOrExternalId: bigint | number | string,
    options?: { includeDeleted?: boolean },
  ): Promise<Job | undefined>
  /** Soft-deletes a job; returns it, or undefined when there was no such (undeleted) job. */
  delete(idOrExternalId: bigint | number | string): Promise<Job | undefined>
  /**
   * Removes a job row for good when it has no runs (undoes a `create` whose start failed);
   * returns whether it did.
   */
  purge(id: bigint): Promise<boolean>
  /** The jobs the node should run: every job not deleted. */
  active(): Promise<Job[]>
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const COLUMNS = `id::text AS id, external_job_id::text AS external_job_id, type, name, spec_toml,
  spec_hash, contract_address, evm_chain_id::text AS evm_chain_id, created_at, deleted_at`

type JobRow = {
  id: string
  external_job_id: string
  type: string
  name: string | null
  spec_toml: string
  spec_hash: string
  contract_address: string | null
  evm_chain_id: string | null
  created_at: Date
  deleted_at: Date | null
}

const toJob = (r: JobRow): Job => ({
  id: BigInt(r.id),
  externalJobID: r.external_job_id,
  type: r.type,
  name: r.name ?? undefined,
  specToml: r.spec_toml,
  hash: r.spec_hash,
  contractAddress: r.contract_address ?? undefined,
  evmChainID: r.evm_chain_id === null ? undefined : BigInt(r.evm_chain_id),
  createdAt: new Date(r.created_at),
  deletedAt: r.deleted_at ? new Date(r.deleted_at) : undefined,
})

/** `WHERE` clause and parameter for an id or externalJobID; undefined when it is neither. */
function key(idOrExternalId: bigint | number | string): [string, unknown] | undefined {
  if (typeof idOrExternalId === 'bigint') return ['id = $1', idOrExternalId]
  if (typeof idOrExternalId === 'number') {
    return Number.isSafeInteger(idOrExternalId) ? ['id = $1', BigInt(idOrExternalId)] : undefined
  }
  const s = idOrExternalId.trim()
  if (/^\d{1,18}$/.test(s)) return ['id = $1', BigInt(s)]
  if (UUID.test(s)) return ['external_job_id = $1', s.toLowerCase()]
  return undefined
}

export function createJobRepository(db: Db): JobRepository {
  const get: JobRepository['get'] = async (idOrExternalId, options = {}) => {
    const k = key(idOrExternalId)
    if (!k) return undefined
    const deleted = options.includeDeleted ? '' : ' AND deleted_at IS NULL'
    const [row] = await db.query<JobRow>(`SELECT ${COLUMNS} FROM jobs WHERE ${k[0]}${deleted}`, [
      k[1],
    ])
    return row && toJob(row)
  }

  const list = async (options: { includeDeleted?: boolean } = {}) => {
    const where = options.includeDeleted ? '' : ' WHERE deleted_at IS NULL'
    const rows = await db.query<JobRow>(`SELECT ${COLUMNS} FROM jobs${where} ORDER BY id`)
    return rows.map(toJob)
  }

  return {
    async create(parsed, toml, tx = db) {
      const spec = parsed.spec
      const externalJobID = spec.externalJobID ?? randomUUID()
      // The spec's exact numbers live in `normalized` (canonical JSON, bigints as strings).
      const rows = await tx.query<JobRow>(
        `INSERT INTO jobs (external_job_id, type, name, spec_toml, spec_hash, spec, contract_address, evm_chain_id)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
         ON CONFLICT (external_job_id) DO NOTHING
         RETURNING ${COLUMNS}`,
        [
          externalJobID,
          spec.type,
          spec.name ?? null,
          toml,
          parsed.hash,
          parsed.normalized,
          spec.contractAddress ?? null,
          spec.evmChainID ?? null,
        ],
      )
      if (!rows[0]) {
        const [existing] = await tx.query<{ id: string; deleted: boolean }>(
          'SELECT id::text AS id, deleted_at IS NOT NULL AS deleted FROM jobs WHERE external_job_id = $1',
          [externalJobID],
        )
        throw new JobExistsError(`a job with externalJobID ${externalJobID} already exists`, {
          details: existing
            ? `job ${existing.id}${existing.deleted ? ' (deleted; an externalJobID is never reused)' : ''}`
            : undefined,
          metaMessages: [
            'remove externalJobID from the spec to get a new one, or choose another UUID',
          ],
        })
      }
      return toJob(rows[0])
    },
    list,
    get,
    async delete(idOrExternalId) {
      const k = key(idOrExternalId)
      if (!k) return undefined
      const [row] = await db.query<JobRow>(
        `UPDATE jobs SET deleted_at = now() WHERE ${k[0]} AND deleted_at IS NULL RETURNING ${COLUMNS}`,
        [k[1]],
      )
      return row && toJob(row)
    },
    async purge(id) {
      const rows = await db.query(
        `DELETE FROM jobs WHERE id = $1
           AND NOT EXISTS (SELECT 1 FROM job_runs WHERE job_id = $1)
           AND NOT EXISTS (SELECT 1 FROM processed_logs WHERE job_id = $1)
         RETURNING id`,
        [id],
      )
      return rows.length > 0
    },
    active: () => list(),
  }
}
