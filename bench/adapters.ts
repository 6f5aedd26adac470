/**
 * External adapters. Each case starts what it measures in its own processes (as in production,
 * so nothing shares this process's event loop), then this process sends requests over
 * keep-alive HTTP, `CONCURRENCY` in flight for `DURATION_MS` after a warm-up. Prints one JSON
 * line per case.
 *
 * - `price`: `orakel adapter price` over 5 `orakel sources` simulated exchanges (no latency,
 *   no faults), asked for ETH-USD: the adapter's own cost of fanning out to k sources,
 *   parsing, aggregating and auditing. Keys `price_per_s`, `price_p50_ms`, `price_p99_ms`.
 *
 * - `bridge`: the node's `bridge` task (with `jsonparse` of `data,result`, as jobs use it) to a
 *   minimal SDK adapter in its own process, against the same request sent directly with the
 *   node's HTTP client: `bridge_overhead_p50_ms` = bridge p50 − direct p50 (target ≤ 1 ms),
 *   `bridge_per_s`, `bridge_p50_ms`, `bridge_p99_ms`, `direct_p50_ms`.
 *
 * A case is a function returning its setup: what one request is, which keys its figures get,
 * and how to stop. Add a case to `CASES`.
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { percentile } from './stats.ts'

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4)
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 3000)
const WARMUP_MS = 500
const MAIN = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts')

/** What a case measures: one request, the prefix of its keys, extra fixed figures, teardown. */
type CaseSetup = {
  /** Sends one request; resolves when the whole answer is in, rejects on a failure. */
  request(): Promise<void>
  /** Keys are `<prefix>_per_s`, `<prefix>_p50_ms`, `<prefix>_p99_ms`. */
  prefix: string
  figures?: Record<string, number | string>
  /** Figures computed from the measurement (e.g. a difference with a baseline). */
  derived?: (m: Measured) => Record<string, number | null>
  stop(): Promise<void>
}
type Case = { name: string; setup(): Promise<CaseSetup> }

/** Starts `orakel <args>` and resolves with its first stdout line. */
async function startCli(args: string[]): Promise<{ line: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = (await Promise.race([
    once(createInterface({ input: child.stdout! }), 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`orakel ${args[0]} exited with ${code}`)
    }),
  ])) as [string]
  return { line, child }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await exited
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY })

/** POSTs `body` to `url`; rejects unless the answer is 200. */
function post(url: string, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          res.statusCode === 200
            ? resolve()
            : reject(
                new Error(
                  `HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`,
                ),
              ),
        )
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

const priceCase: Case = {
  name: 'price',
  async setup() {
    const dir = await mkdtemp(join(tmpdir(), 'orakel-bench-adapters-'))
    const config = join(dir, 'price.json')
    const sources = await startCli([
      'sources',
      '--json',
      '--seed',
      '1',
      '--count',
      '5',
      '--pairs',
      'ETH-USD=3000',
      '--price-config',
      config,
    ])
    const adapter = await startCli([
      'adapter',
      'price',
      '--config',
      config,
      '--port',
      '0',
      '--log-level',
      'error',
    ])
    const url = /listening on (\S+) /.exec(adapter.line)?.[1]
    if (!url) throw new Error(`unexpected adapter output: ${adapter.line}`)
    const body = JSON.stringify({ id: 'bench', data: { pair: 'ETH-USD' } })
    return {
      prefix: 'price',
      figures: { sources: 5 },
      request: () => post(url, body),
      async stop() {
        await stopChild(adapter.child)
        await stopChild(sources.child)
        await rm(dir, { recursive: true, force: true })
      },
    }
  },
}

const bridgeCase: Case = {
  name: 'bridge',
  async setup() {
    const { createHttpClient } = await import('../src/pipeline/http-client.ts')
    const { buildPipeline } = await import('../src/pipeline/pipeline.ts')
    const { runPipeline } = await import('../src/pipeline/runner.ts')
    const { TASKS } = await import('../src/pipeline/tasks/index.ts')
    const { staticBridgeRegistry } = await import('../src/pipeline/tasks/bridge.ts')
    const child = spawn(process.execPath, [join(import.meta.dirname, 'echo-adapter.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
    const url = /listening on (\S+) /.exec(line)?.[1]
    if (!url) throw new Error(`unexpected adapter output: ${line}`)
    const http = createHttpClient()
    const deps = { http, bridges: staticBridgeRegistry([{ name: 'echo', url }]) }
    const pipeline = buildPipeline(
      'fetch [type=bridge name=echo requestData="{\\"data\\": {\\"x\\": 42}}"]\nparse [type=jsonparse path="data,result"]\nfetch -> parse',
      TASKS,
    )
    let n = 0
    const viaBridge = async () => {
      const result = await runPipeline({ pipeline, runId: `bench-${n++}`, deps })
      if (result.failed || String(result.outputs[0]) !== '42') {
        throw new Error(`bridge run failed: ${result.errors[0]?.message}`)
      }
    }
    const body = JSON.stringify({ id: 'bench', data: { x: 42 } })
    const direct = async () => {
      const res = await http.request({
        method: 'POST',
        url,
        headers: { 'Content-Type': 'application/json' },
        body,
        trustedDestination: true,
      })
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`)
      JSON.parse(Buffer.from(res.body).toString('utf8'))
    }
    const directFigures = await measure(direct)
    return {
      prefix: 'bridge',
      figures: { direct_p50_ms: directFigures.p50 ?? -1 },
      derived: (m) => ({
        bridge_overhead_p50_ms:
          m.p50 === null || directFigures.p50 === null
            ? null
            : Number((m.p50 - directFigures.p50).toFixed(3)),
      }),
      request: viaBridge,
      async stop() {
        http.close()
        await stopChild(child)
      },
    }
  },
}

const CASES: Case[] = [priceCase, bridgeCase]

type Measured = {
  requests: number
  failures: number
  perS: number
  p50: number | null
  p99: number | null
}

/** Runs `request` from CONCURRENCY workers; durations of the measured requests, sorted. */
async function measure(request: () => Promise<void>): Promise<Measured> {
  const durations: number[] = []
  let failures = 0
  let firstError: unknown
  const started = performance.now()
  const worker = async () => {
    while (performance.now() - started < WARMUP_MS + DURATION_MS) {
      const t0 = performance.now()
      try {
        await request()
      } catch (err) {
        failures++
        firstError ??= err
        continue
      }
      if (t0 - started >= WARMUP_MS) durations.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  if (firstError) console.error(firstError)
  const elapsed = performance.now() - started - WARMUP_MS
  durations.sort((a, b) => a - b)
  return {
    requests: durations.length,
    failures,
    perS: Math.round((durations.length / elapsed) * 1000),
    p50: percentile(durations, 50, 3),
    p99: percentile(durations, 99, 3),
  }
}

const only = process.argv.slice(2)
for (const c of CASES) {
  if (only.length > 0 && !only.includes(c.name)) continue
  const setup = await c.setup()
  try {
    const m = await measure(setup.request)
    console.log(
      JSON.stringify({
        bench: 'adapters',
        case: c.name,
        ...setup.figures,
        concurrency: CONCURRENCY,
        requests: m.requests,
        failures: m.failures,
        [`${setup.prefix}_per_s`]: m.perS,
        [`${setup.prefix}_p50_ms`]: m.p50,
        [`${setup.prefix}_p99_ms`]: m.p99,
        ...setup.derived?.(m),
      }),
    )
  } finally {
    await setup.stop()
  }
}
agent.destroy()
