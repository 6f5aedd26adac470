import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { defineTask, inputValues, paramInteger, rawParam } from './params.ts'
import { buildPipeline, type TaskRegistry } from './pipeline.ts'
import { type RunResult, type RunStore, runPipeline, type TaskRunRecord } from './runner.ts'
import { fail, ok, type TaskDefinition, TaskError } from './task.ts'

/** Small tasks for exercising the runner itself (the real tasks have their own tests). */
const log: string[] = []
const flakyCounts = new Map<string, number>()
const tasks: TaskDefinition[] = [
  defineTask({ type: 'value', params: ['value'], run: (ctx) => ok(rawParam(ctx, 'value')) }),
  defineTask({
    type: 'concat',
    params: [],
    run: (ctx) => ok(inputValues(ctx).map(String).join('')),
  }),
  defineTask({
    type: 'sleep',
    params: ['ms', 'value'],
    run: (ctx) =>
      new Promise((resolve) => {
        log.push(`start ${ctx.id}`)
        const timer = setTimeout(
          () => {
            log.push(`end ${ctx.id}`)
            resolve(ok(rawParam(ctx, 'value') ?? ctx.id))
          },
          Number(paramInteger(ctx, 'ms')),
        )
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer)
          resolve(fail('aborted'))
        })
      }),
  }),
  defineTask({
    type: 'fail',
    params: ['message'],
    run: (ctx) => fail(String(rawParam(ctx, 'message') ?? 'boom')),
  }),
  defineTask({
    type: 'flaky',
    params: ['failures'],
    run: (ctx) => {
      const n = (flakyCounts.get(ctx.runId) ?? 0) + 1
      flakyCounts.set(ctx.runId, n)
      return n <= Number(paramInteger(ctx, 'failures'))
        ? fail(`attempt ${n} failed`)
        : ok(`ok after ${n}`)
    },
  }),
  defineTask({
    type: 'later',
    params: [],
    run: () => {
      const error = new TaskError('the answer comes later')
      Object.assign(error, { pending: true })
      return { error }
    },
  }),
  {
    type: 'throws',
    params: [],
    run: () => {
      throw new Error('raw throw')
    },
  },
]
const registry: TaskRegistry = new Map(tasks.map((t) => [t.type, t]))
const build = (dot: string) => buildPipeline(dot, registry)

class MemoryStore implements RunStore {
  tasks: TaskRunRecord[] = []
  runs: RunResult[] = []
  taskFinished(r: TaskRunRecord) {
    this.tasks.push(r)
  }
  runFinished(r: RunResult) {
    this.runs.push(r)
  }
}

describe('runPipeline', () => {
  it('passes values along a chain and through $(task) variables', async () => {
    const p = build(`
      a [type=value value="$(jobRun.meta.x)"]
      b [type=value value="got $(a)"]
      a -> b
    `)
    const result = await runPipeline({
      pipeline: p,
      runId: 'r1',
      vars: { jobRun: { meta: { x: 41 } } },
    })
    assert.equal(result.failed, false)
    assert.deepEqual(result.outputs, ['got 41'])
  })

  it('orders multi-input tasks by the index of their inputs', async () => {
    const p = build(`
      x [type=value value="x" index=2]
      y [type=value value="y" index=0]
      z [type=value value="z" index=1]
      join [type=concat]
      x -> join; y -> join; z -> join
    `)
    assert.deepEqual((await runPipeline({ pipeline: p, runId: 'r' })).outputs, ['yzx'])
  })

  it('runs independent branches in parallel', async () => {
    log.length = 0
    const p = build(`
      s1 [type=sleep ms=60]
      s2 [type=sleep ms=60]
      s3 [type=sleep ms=60]
      join [type=concat]
      s1 -> join; s2 -> join; s3 -> join
    `)
    const result = await runPipeline({ pipeline: p, runId: 'r' })
    assert.deepEqual(result.outputs, ['s1s2s3'])
    // All three started before any ended.
    assert.deepEqual(log.slice(0, 3).sort(), ['start s1', 'start s2', 'start s3'])
  })

  it('fails a run whose terminal task fails, passing the error downstream', async () => {
    const p = build(`
      a [type=fail message="no data"]
      b [type=concat]
      a -> b
    `)
    const result = await runPipeline({ pipeline: p, runId: 'r' })
    assert.equal(result.failed, true)
    assert.match(result.errors[0]!.message, /input 0 failed: no data/)
  })

  it('a $(task) reference to a failed task names the failure, not a missing variable', async () => {
    const p = build(`
      a [type=fail message="the source is down"]
      b [type=value value="$(a)"]
      a -> b
    `)
    const result = await runPipeline({ pipeline: p, runId: 'r' })
    assert.equal(result.failed, true)
    assert.match(result.errors[0]!.message, /task "a" failed: the source is down/)
  })

  it('turns a task that throws into an error result', async () => {
    const result = await runPipeline({ pipeline: build('t [type=throws]'), runId: 'r' })
    assert.equal(result.failed, true)
    assert.ok(result.errors[0] instanceof TaskError)
    assert.match(result.errors[0]!.message, /raw throw/)
  })

  it('times a task out (its own timeout, else the default)', async () => {
    const own = await runPipeline({
      pipeline: build('t [type=sleep ms=500 timeout="20ms"]'),
      runId: 'r',
    })
    assert.match(own.errors[0]!.message, /timed out after 20 ms/)
    const fallback = await runPipeline({
      pipeline: build('t [type=sleep ms=500]'),
      runId: 'r',
      defaultTimeoutMs: 15,
    })
    assert.match(fallback.errors[0]!.message, /timed out after 15 ms/)
  })

  it('retries with back-off', async () => {
    const store = new MemoryStore()
    const p = build('t [type=flaky failures=2 retries=3 minBackoff="5ms"]')
    const result = await runPipeline({ pipeline: p, runId: 'flaky-1', store })
    assert.deepEqual(result.outputs, ['ok after 3'])
    assert.equal(store.tasks[0]?.attempts, 3)
    const exhausted = await runPipeline({
      pipeline: build('t [type=flaky failures=5 retries=1 minBackoff="1ms"]'),
      runId: 'flaky-2',
    })
    assert.match(exhausted.errors[0]!.message, /attempt 2 failed/)
  })

  it('failEarly stops the rest of the run', async () => {
    log.length = 0
    const p = build(`
      bad [type=fail failEarly=true]
      slow [type=sleep ms=300]
      after [type=sleep ms=1]
      slow -> after
    `)
    const result = await runPipeline({ pipeline: p, runId: 'r' })
    assert.equal(result.failed, true)
    assert.equal(result.stoppedBy, 'bad')
    assert.equal(result.tasks.get('slow')?.error?.shortMessage, 'aborted')
    assert.ok(!log.includes('start after'), 'the task after the stopped one never started')
  })

  it('reports every task to the store and resumes from earlier results', async () => {
    const store = new MemoryStore()
    const p = build(`
      a [type=value value=1]
      b [type=flaky failures=0]
      c [type=concat]
      a -> c; b -> c
    `)
    const first = await runPipeline({ pipeline: p, runId: 'resume-1', store })
    assert.deepEqual(store.tasks.map((t) => t.taskId).sort(), ['a', 'b', 'c'])
    assert.equal(store.runs.length, 1)
    assert.deepEqual(first.outputs, ['1ok after 1'])
    // Resume with a and b done: only c runs; flaky is not called again.
    const resumed = await runPipeline({
      pipeline: p,
      runId: 'resume-1',
      previous: new Map([
        ['a', { value: 'A' }],
        ['b', { value: 'B' }],
      ]),
    })
    assert.deepEqual(resumed.outputs, ['AB'])
    assert.equal(flakyCounts.get('resume-1'), 1)
    assert.deepEqual([...resumed.tasks.keys()], ['c'])
  })

  it('suspends on a pending task: its successors wait, other branches finish', async () => {
    const pipeline = build(
      'a [type=value value="1"]\nwait [type=later]\nafter [type=concat]\nother [type=value value="2"]\na -> wait -> after',
    )
    const store = new MemoryStore()
    const result = await runPipeline({ pipeline, runId: 'p1', store })
    assert.deepEqual(result.pending, ['wait'])
    assert.equal(result.failed, false)
    assert.deepEqual(
      store.tasks.map((t) => t.taskId).sort(),
      ['a', 'other'],
      'the pending task is not recorded as finished, and "after" did not run',
    )
    // Resumed with the answer: only what was left runs.
    const resumed = await runPipeline({
      pipeline,
      runId: 'p1',
      previous: new Map([
        ['a', { value: '1' }],
        ['other', { value: '2' }],
        ['wait', { value: 'X' }],
      ]),
    })
    assert.deepEqual(resumed.pending, [])
    assert.equal(resumed.failed, false)
    assert.deepEqual([...resumed.tasks.keys()], ['after'])
    assert.ok(resumed.outputs.includes('X'))
  })

  it('can be cancelled from outside', async () => {
    const controller = new AbortController()
    const run = runPipeline({
      pipeline: build('t [type=sleep ms=1000]'),
      runId: 'r',
      signal: controller.signal,
    })
    setTimeout(() => controller.abort(), 10)
    const result = await run
    assert.equal(result.failed, true)
    assert.equal(result.stoppedBy, 'cancelled')
  })
})
