import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parseJobSpec } from '../pipeline/job-spec.ts'
import { TASKS } from '../pipeline/tasks/index.ts'
import type { Db } from './db.ts'
import { createJobRepository, JobExistsError, type JobRepository } from './jobs.ts'
import { openTestDatabase } from './testing.ts'

const fixture = readFileSync(
  join(import.meta.dirname, '../../test/fixtures/get-uint256.toml'),
  'utf8',
)
const minimal = (name: string) =>
  `type = "directrequest"\nschemaVersion = 1\nname = "${name}"\ncontractAddress = "0x613a38ac1659769640aae063c651f48e0250454c"\nobservationSource = """\na [type=memo value="1"]\n"""\n`

describe(`job repository (${process.env.DATABASE_URL ? 'Postgres server' : 'PGlite'})`, () => {
  let db: Db
  let jobs: JobRepository
  before(async () => {
    db = await openTestDatabase()
    jobs = createJobRepository(db)
  })
  after(() => db?.close())

  it('creates a job from a spec with an externalJobID and reads it back', async () => {
    const parsed = parseJobSpec(fixture, TASKS)
    const job = await jobs.create(parsed, fixture)
    assert.equal(typeof job.id, 'bigint')
    assert.equal(job.externalJobID, '0eec7e1d-d0d2-476c-a1a8-72dfb6633f46')
    assert.equal(job.type, 'directrequest')
    assert.equal(job.name, 'Get > Uint256')
    assert.equal(job.specToml, fixture)
    assert.equal(job.hash, parsed.hash)
    assert.equal(job.contractAddress, '0x613a38AC1659769640aaE063C651F48E0250454C')
    assert.equal(job.evmChainID, 31337n)
    assert.ok(job.createdAt instanceof Date)
    assert.equal(job.deletedAt, undefined)

    assert.deepEqual(await jobs.get(job.id), job)
    assert.deepEqual(await jobs.get(String(job.id)), job)
    assert.deepEqual(await jobs.get(Number(job.id)), job)
    assert.deepEqual(await jobs.get('0EEC7E1D-D0D2-476C-A1A8-72DFB6633F46'), job)
    assert.equal(await jobs.get('nope'), undefined)
    assert.equal(await jobs.get(999_999n), undefined)
    const [stored] = await db.query<{ spec: string }>(
      'SELECT spec::text AS spec FROM jobs WHERE id = $1',
      [job.id],
    )
    assert.deepEqual(JSON.parse(stored!.spec), JSON.parse(parsed.normalized))
  })

  it('refuses a duplicate externalJobID with a clear error', async () => {
    await assert.rejects(jobs.create(parseJobSpec(fixture, TASKS), fixture), (err: unknown) => {
      assert.ok(err instanceof JobExistsError)
      assert.match(
        err.shortMessage,
        /externalJobID 0eec7e1d-d0d2-476c-a1a8-72dfb6633f46 already exists/,
      )
      return true
    })
  })

  it('gives a job without externalJobID a new UUID; lists, deletes softly, purges', async () => {
    const a = await jobs.create(parseJobSpec(minimal('a'), TASKS), minimal('a'))
    const b = await jobs.create(parseJobSpec(minimal('b'), TASKS), minimal('b'))
    assert.match(a.externalJobID, /^[0-9a-f-]{36}$/)
    assert.notEqual(a.externalJobID, b.externalJobID)
    assert.equal(a.evmChainID, undefined)
    assert.deepEqual(
      (await jobs.list()).map((j) => j.name),
      ['Get > Uint256', 'a', 'b'],
    )

    const deleted = await jobs.delete(a.externalJobID)
    assert.equal(deleted?.id, a.id)
    assert.ok(deleted?.deletedAt instanceof Date)
    assert.equal(await jobs.delete(a.id), undefined, 'already deleted')
    assert.equal(await jobs.get(a.id), undefined)
    assert.equal((await jobs.get(a.id, { includeDeleted: true }))?.name, 'a')
    assert.deepEqual(
      (await jobs.active()).map((j) => j.name),
      ['Get > Uint256', 'b'],
    )
    assert.equal((await jobs.list({ includeDeleted: true })).length, 3)

    assert.equal(await jobs.purge(b.id), true)
    assert.equal(await jobs.get(b.id, { includeDeleted: true }), undefined)
    const job = (await jobs.list())[0]!
    await db.query(
      `INSERT INTO job_runs (run_id, job_id, state, inputs) VALUES (gen_random_uuid(), $1, 'running', '{}')`,
      [job.id],
    )
    assert.equal(await jobs.purge(job.id), false, 'a job with runs stays')
  })

  it('creates inside a caller transaction', async () => {
    await assert.rejects(
      db.transaction(async (tx) => {
        await jobs.create(parseJobSpec(minimal('rolled back'), TASKS), minimal('rolled back'), tx)
        throw new Error('abort')
      }),
      /abort/,
    )
    assert.ok(!(await jobs.list()).some((j) => j.name === 'rolled back'))
  })
})
