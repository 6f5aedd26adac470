import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { defineTask } from './params.ts'
import { buildPipeline, PipelineError, type TaskRegistry } from './pipeline.ts'
import { ok } from './task.ts'

const registry: TaskRegistry = new Map(
  ['http', 'jsonparse', 'median', 'multiply'].map((type) => [
    type,
    defineTask({ type, params: ['url', 'path', 'data', 'input', 'times'], run: () => ok(null) }),
  ]),
)

const issues = (dot: string) => {
  try {
    buildPipeline(dot, registry)
  } catch (err) {
    assert.ok(err instanceof PipelineError, String(err))
    return err.issues.map((i) => `${i.line}:${i.column} ${i.message}`)
  }
  assert.fail('no error')
}

describe('buildPipeline', () => {
  it('orders tasks topologically, finds terminals, orders inputs by index', () => {
    const p = buildPipeline(
      `
      m [type=median]
      d1 [type=http index=1] d2 [type=http index=0]
      p1 [type=jsonparse index=1 data="$(d1)"] p2 [type=jsonparse index=0 data="$(d2)"]
      d1 -> p1 -> m
      d2 -> p2 -> m
    `,
      registry,
    )
    const position = new Map(p.tasks.map((t, i) => [t.id, i]))
    for (const t of p.tasks)
      for (const input of t.inputs) assert.ok(position.get(input)! < position.get(t.id)!)
    assert.deepEqual(
      p.terminals.map((t) => t.id),
      ['m'],
    )
    assert.deepEqual(p.byId.get('m')!.inputs, ['p2', 'p1'])
  })

  it('parses the runner attributes once', () => {
    const t = buildPipeline(
      'a [type=http timeout="1m30s" retries=3 minBackoff="10ms" maxBackoff="2s" failEarly=true]',
      registry,
    ).byId.get('a')!
    assert.deepEqual(
      [t.timeoutMs, t.retries, t.minBackoffMs, t.maxBackoffMs, t.failEarly],
      [90_000, 3, 10, 2000, true],
    )
    assert.deepEqual(t.params, {})
  })

  it('lists every problem with its position', () => {
    assert.deepEqual(
      issues(`
a [type=frobnicate]
b [type=http retries=-1 timeout=soon]
c [url="x"]
d [type=multiply input="$(e)" times="$(nothing.here)"]
e [type=http failEarly=maybe]
b -> d
`),
      [
        '2:9 task a has unknown type "frobnicate"',
        '3:22 task b: retries must be a non-negative integer, got "-1"',
        '3:33 task b: timeout "soon" is not a duration like 500ms or 10s',
        '4:1 task c has no type',
        '5:24 task d: $(e) refers to task e, which is not upstream of it',
        '5:37 task d: $(nothing.here) refers to no task or variable',
        '6:24 task e: failEarly must be "true" or "false"',
      ],
    )
    assert.deepEqual(
      issues(
        'a [type=http]\nb [type=jsonparse data="$(c)" path="$(zzz.x)"]\nc [type=http]\na -> b',
      ),
      [
        '2:24 task b: $(c) refers to task c, which is not upstream of it',
        '2:36 task b: $(zzz.x) refers to no task or variable',
      ],
    )
  })

  it('refuses cycles, self-loops and empty graphs', () => {
    assert.match(
      issues('a [type=http]\nb [type=http]\nc [type=http]\na -> b -> c -> a').join(),
      /cycle through a, b, c/,
    )
    assert.match(issues('a [type=http]\na -> a').join(), /depends on itself/)
    assert.match(issues('// nothing').join(), /no tasks/)
  })

  it('warns about attributes a task does not use', () => {
    const p = buildPipeline('a [type=http urll="x"]', registry)
    assert.deepEqual(
      p.warnings.map((w) => w.message),
      ['task a (http) does not use attribute "urll"'],
    )
  })

  it('never crashes on generated graphs: it builds or lists positioned issues (fast-check)', () => {
    const id = fc.constantFrom('a', 'b', 'c', 'd')
    const node = fc.tuple(
      id,
      fc.constantFrom('http', 'median', 'nope', ''),
      fc.constantFrom('', 'x', '$(a)', '$(b.c)'),
    )
    const edge = fc.tuple(id, id)
    fc.assert(
      fc.property(
        fc.array(node, { maxLength: 5 }),
        fc.array(edge, { maxLength: 6 }),
        (nodes, edges) => {
          const text = [
            ...nodes.map(
              ([n, type, data]) => `${n} [${type ? `type=${type}` : ''} data="${data}"]`,
            ),
            ...edges.map(([x, y]) => `${x} -> ${y}`),
          ].join('\n')
          try {
            buildPipeline(text, registry)
          } catch (err) {
            assert.ok(err instanceof PipelineError, String(err))
            for (const i of err.issues) assert.ok(i.line >= 1 && i.column >= 1)
          }
        },
      ),
      { numRuns: 1000 },
    )
  })
})
