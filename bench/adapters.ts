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

const CASES: Case[] = [priceCase]

/** Runs `request` from CONCURRENCY workers; durations of the measured requests, sorted. */
async function measure(request: () => Promise<void>) {
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
  const pct = (p: number) =>
    durations.length === 0
      ? null
      : Number(
          durations[
            Math.min(durations.length - 1, Math.floor((p / 100) * durations.length))
          ]!.toFixed(3),
        )
  return {
    requests: durations.length,
    failures,
    perS: Math.round((durations.length / elapsed) * 1000),
    p50: pct(50),
    p99: pct(99),
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
      }),
    )
  } finally {
    await setup.stop()
  }
}
agent.destroy()
