import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { parseDecimal } from '../pipeline/decimal.ts'
import { parseJobSpec } from '../pipeline/job-spec.ts'
import { buildPipeline } from '../pipeline/pipeline.ts'
import { runPipeline } from '../pipeline/runner.ts'
import { TaskError } from '../pipeline/task.ts'
import { TASKS } from '../pipeline/tasks/index.ts'
import type { Db } from './db.ts'
import { createJobRepository } from './jobs.ts'
import { createRunRepository, type RunRepository } from './runs.ts'
import { openTestDatabase } from './testing.ts'

const spec = `type = "directrequest"\nschemaVersion = 1\ncontractAddress = "0x613a38ac1659769640aae063c651f48e0250454c"\nobservationSource = """\na [type=memo value="1"]\n"""\n`

/** Task `a` of a run, a memo that returned 7. */
const memoA = (runId: string) => {
  const t = new Date()
  return {
    runId,
    taskId: 'a',
    type: 'memo',
    index: 0,
    value: 7n,
    attempts: 1,
    startedAt: t,
    finishedAt: t,
  }
}

describe(`run repository (${process.env.DATABASE_URL ? 'Postgres server' : 'PGlite'})`, () => {
  let db: Db
  let runs: RunRepository
  let jobId: bigint
  before(async () => {
    db = await openTestDatabase()
    runs = createRunRepository(db)
    jobId = (await createJobRepository(db).create(parseJobSpec(spec, TASKS), spec)).id
  })
  after(() => db?.close())

  it('creates a run once per log; a second delivery of the same log returns undefined', async () => {
    const runId = randomUUID()
    const inputs = { logData: '0x01', big: 2n ** 100n, logTopics: ['0xaa'] }
    const run = await runs.create({
      jobId,
      runId,
      inputs,
      requestId: '0xrequest',
      logBlockHash: '0xblock',
      logIndex: 3,
    })
    assert.ok(run)
    assert.equal(run.runId, runId)
    assert.equal(run.jobId, jobId)
    assert.equal(run.state, 'running')
    assert.deepEqual(run.inputs, inputs)
    assert.equal(run.requestId, '0xrequest')
    assert.equal(run.logIndex, 3)
    assert.equal(run.outputs, undefined)
    const again = await runs.create({
      jobId,
      runId: randomUUID(),
      inputs: {},
      logBlockHash: '0xblock',
      logIndex: 3,
    })
    assert.equal(again, undefined)
    // Runs without a log never collide.
    assert.ok(await runs.create({ jobId, runId: randomUUID(), inputs: {} }))
    assert.ok(await runs.create({ jobId, runId: randomUUID(), inputs: {} }))
    // The same run id twice is an error, not a silent no-op.
    await assert.rejects(runs.create({ jobId, runId, inputs: {}, logIndex: 9 }))
  })

  it('records a real pipeline run with exact values and finishes it', async () => {
    const pipeline = buildPipeline(
      `a [type=memo value="123456789012345678901234567890"]
       b [type=multiply input="$(a)" times="1.5"]
       c [type=divide input="1" divisor="0"]
       a -> b`,
      TASKS,
    )
    const runId = randomUUID()
    await runs.create({ jobId, runId, inputs: {} })
    const result = await runPipeline({ pipeline, runId, store: runs.store(runId) })
    assert.equal(result.failed, true)

    const run = await runs.get(runId)
    assert.ok(run)
    assert.equal(run.state, 'errored')
    assert.ok(run.finishedAt instanceof Date)
    assert.deepEqual(run.tasks.map((t) => t.taskId).sort(), ['a', 'b', 'c'])
    const byId = new Map(run.tasks.map((t) => [t.taskId, t]))
    assert.equal(String(byId.get('b')!.value), '185185183518518518351851851835')
    assert.equal(byId.get('b')!.error, undefined)
    assert.equal(byId.get('c')!.value, undefined)
    assert.match(byId.get('c')!.error!, /divisor|zero/i)
    assert.equal(byId.get('a')!.attempts, 1)
    // Outputs and errors line up with the terminal tasks; values are exact.
    assert.equal(run.outputs!.length, 2)
    assert.equal(run.errors!.length, 2)
    const bIndex = result.errors.indexOf(undefined)
    assert.equal(String(run.outputs![bIndex]), String(result.outputs[bIndex]))
    assert.equal(run.errors![bIndex], null)
    assert.match(run.errors![1 - bIndex]!, /divisor|zero/i)
  })

  it('stores big integers, decimals and bytes exactly; upserts a task run', async () => {
    const runId = randomUUID()
    await runs.create({ jobId, runId, inputs: {} })
    const store = runs.store(runId)
    const t = new Date('2026-01-01T00:00:00.000Z')
    const record = { runId, type: 'memo', index: 0, attempts: 1, startedAt: t, finishedAt: t }
    await store.taskFinished({ ...record, taskId: 'big', value: 2n ** 200n })
    await store.taskFinished({
      ...record,
      taskId: 'dec',
      value: parseDecimal('0.1000000000000000055'),
    })
    await store.taskFinished({ ...record, taskId: 'bytes', value: Uint8Array.from([1, 255]) })
    await store.taskFinished({ ...record, taskId: 'nothing', value: undefined })
    await store.taskFinished({ ...record, taskId: 'retry', error: new TaskError('first') })
    await store.taskFinished({ ...record, taskId: 'retry', value: 'second', attempts: 2 })
    const run = await runs.get(runId)
    const byId = new Map(run!.tasks.map((t) => [t.taskId, t]))
    assert.equal(byId.get('big')!.value, 2n ** 200n)
    assert.equal(String(byId.get('dec')!.value), '0.1000000000000000055')
    assert.equal(byId.get('bytes')!.value, '0x01ff')
    assert.equal(byId.get('nothing')!.value, null)
    assert.equal(byId.get('retry')!.value, 'second')
    assert.equal(byId.get('retry')!.error, undefined)
    assert.equal(byId.get('retry')!.attempts, 2)
    assert.equal(byId.get('big')!.startedAt.toISOString(), t.toISOString())

    await store.runFinished({
      runId,
      outputs: [2n ** 200n],
      errors: [undefined],
      failed: false,
      stoppedBy: undefined,
      pending: [],
      tasks: new Map(),
      startedAt: t,
      finishedAt: t,
    })
    const done = await runs.get(runId)
    assert.equal(done!.state, 'completed')
    assert.deepEqual(done!.outputs, [2n ** 200n])
    assert.deepEqual(done!.errors, [null])
    const [raw] = await db.query<{ o: string }>(
      'SELECT outputs::text AS o FROM job_runs WHERE run_id = $1',
      [runId],
    )
    assert.equal(raw!.o, `[${2n ** 200n}]`)
  })

  it('batched: writes the task runs only with the run outcome, in one statement', async () => {
    const pipeline = buildPipeline(
      'a [type=memo value="7"]\nb [type=multiply input="$(a)" times=3]\na -> b',
      TASKS,
    )
    const runId = randomUUID()
    await runs.create({ jobId, runId, inputs: {} })
    const store = runs.store(runId, { batched: true })
    await store.taskFinished(memoA(runId))
    assert.deepEqual((await runs.get(runId))!.tasks, [], 'nothing written before the end')
    const interrupted = (await runs.listUnfinished()).find((r) => r.runId === runId)
    assert.equal(interrupted?.previous.size, 0, 'an interrupted batched run starts over')

    const result = await runPipeline({ pipeline, runId, store })
    assert.equal(result.failed, false)
    const run = await runs.get(runId)
    assert.equal(run!.state, 'completed')
    assert.deepEqual(run!.outputs, [21])
    assert.deepEqual(run!.tasks.map((t) => [t.taskId, String(t.value)]).sort(), [
      ['a', '7'],
      ['b', '21'],
    ])
  })

  it('suspends a run on a pending task; exactly one answer resumes it', async () => {
    const pipeline = buildPipeline(
      'a [type=memo value="7"]\nwait [type=bridge name="slow" async="true"]\nb [type=multiply input="$(wait)" times=2]\na -> wait -> b',
      TASKS,
    )
    const runId = randomUUID()
    await runs.create({ jobId, runId, inputs: {} })
    const result = await runPipeline({
      pipeline,
      runId,
      store: runs.store(runId, { batched: true }),
      deps: {
        bridges: { get: async () => ({ name: 'slow', url: 'http://127.0.0.1:1' }) },
        http: {
          request: async () => ({
            status: 200,
            headers: {},
            body: Buffer.from('{"pending":true}'),
            url: 'http://127.0.0.1:1',
          }),
          close: () => {},
        } as never,
      },
    })
    assert.deepEqual(result.pending, ['wait'])
    const waiting = await runs.get(runId)
    assert.equal(waiting!.state, 'suspended')
    assert.equal(waiting!.pendingTask, 'wait')
    assert.deepEqual(
      waiting!.tasks.map((t) => t.taskId),
      ['a'],
    )
    const listed = (await runs.listUnfinished()).find((r) => r.runId === runId)
    assert.equal(listed?.pendingTask, 'wait')
    assert.deepEqual([...listed!.previous.keys()], ['a'])

    assert.equal(await runs.resumeSuspended(runId, 'a', { value: 1 }), undefined, 'wrong task')
    const resumed = await runs.resumeSuspended(runId, 'wait', { value: 21 })
    assert.equal(resumed?.state, 'running')
    assert.deepEqual([...resumed!.previous.keys()].sort(), ['a', 'wait'])
    assert.equal(await runs.resumeSuspended(runId, 'wait', { value: 22 }), undefined, 'only once')

    await runPipeline({
      pipeline,
      runId,
      previous: resumed!.previous,
      store: runs.store(runId, { batched: true }),
    })
    const done = await runs.get(runId)
    assert.equal(done!.state, 'completed')
    assert.deepEqual(done!.outputs, [42])
    assert.deepEqual(done!.tasks.map((t) => t.taskId).sort(), ['a', 'b', 'wait'])
  })

  it('lists a job runs newest first with limit and offset', async () => {
    const all = await runs.listByJob(jobId, { limit: 100 })
    assert.equal(all.length, await runs.countByJob(jobId))
    assert.ok(all.length >= 5)
    assert.ok(all.every((r, i) => i === 0 || r.id < all[i - 1]!.id))
    const page = await runs.listByJob(jobId, { limit: 2, offset: 1 })
    assert.deepEqual(
      page.map((r) => r.runId),
      all.slice(1, 3).map((r) => r.runId),
    )
    assert.equal(await runs.get('not-a-uuid'), undefined)
    assert.equal(await runs.get(randomUUID()), undefined)
  })

  it('lists unfinished runs with their finished tasks, and resumes one', async () => {
    const pipeline = buildPipeline(
      'a [type=memo value="7"]\nb [type=memo value="8"]\na -> b',
      TASKS,
    )
    const runId = randomUUID()
    await runs.create({ jobId, runId, inputs: { x: 1 } })
    await runs.store(runId).taskFinished(memoA(runId))
    const unfinished = await runs.listUnfinished()
    const mine = unfinished.find((r) => r.runId === runId)
    assert.ok(mine)
    assert.ok(unfinished.every((r) => r.state === 'running' || r.state === 'suspended'))
    assert.deepEqual(mine.inputs, { x: 1 })
    assert.deepEqual([...mine.previous.keys()], ['a'])
    assert.equal(mine.previous.get('a')!.value, 7)

    const result = await runPipeline({
      pipeline,
      runId,
      previous: mine.previous,
      store: runs.store(runId),
    })
    assert.equal(result.failed, false)
    assert.equal(result.tasks.has('a'), false, 'a was not run again')
    const done = await runs.get(runId)
    assert.equal(done!.state, 'completed')
    assert.ok(!(await runs.listUnfinished()).some((r) => r.runId === runId))
  })

  it('cancels the unfinished runs of a request; a cancelled run stays cancelled', async () => {
    const a = randomUUID()
    const b = randomUUID()
    await runs.create({ jobId, runId: a, inputs: {}, requestId: '0xcancel' })
    await runs.create({ jobId, runId: b, inputs: {}, requestId: '0xcancel' })
    await db.query(`UPDATE job_runs SET state = 'suspended' WHERE run_id = $1`, [b])
    assert.deepEqual((await runs.cancelByRequestId('0xcancel')).sort(), [a, b].sort())
    assert.deepEqual(await runs.cancelByRequestId('0xcancel'), [])
    assert.deepEqual(await runs.cancelByRequestId('0xother'), [])
    await runs.store(a).runFinished({
      runId: a,
      outputs: [1],
      errors: [undefined],
      failed: false,
      stoppedBy: undefined,
      pending: [],
      tasks: new Map(),
      startedAt: new Date(),
      finishedAt: new Date(),
    })
    const run = await runs.get(a)
    assert.equal(run!.state, 'cancelled')
    assert.equal(run!.outputs, undefined)
  })
})
