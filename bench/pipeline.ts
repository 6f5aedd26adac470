/**
 * Pipeline throughput: the published get-uint256 direct-request pipeline (test/fixtures),
 * driven by OracleRequest logs, against a local keep-alive HTTP source; and the same pipeline
 * with the HTTP task replaced by a constant, to show the engine's own overhead. Runs are kept
 * `CONCURRENCY` at a time for `DURATION_MS`. Prints one JSON line per case.
 */

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { encodeAbiParameters, encodeEventTopics, getAbiItem, toHex } from 'viem'
import { OperatorAbi } from '../artifacts/abis.ts'
import { encodeDietCbor } from '../src/pipeline/cbor-encode.ts'
import { createHttpClient } from '../src/pipeline/http-client.ts'
import { parseJobSpec } from '../src/pipeline/job-spec.ts'
import { runPipeline } from '../src/pipeline/runner.ts'
import type { TaskDeps } from '../src/pipeline/task.ts'
import { TASKS } from '../src/pipeline/tasks/index.ts'
import { percentile } from './stats.ts'

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4)
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 3000)
const WARMUP_MS = 500

// The source runs in its own process, as a real one would, so it does not share our event loop.
const SOURCE = `
  const server = require('node:http').createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"data":{"price":3012.34}}')
  })
  server.keepAliveTimeout = 60000
  server.listen(0, '127.0.0.1', () => console.log(server.address().port))
`
const sourceProcess = spawn(process.execPath, ['-e', SOURCE], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
const [port] = (await once(sourceProcess.stdout!, 'data')) as [Buffer]
const url = `http://127.0.0.1:${port.toString().trim()}/price`

/** jobRun variables of one OracleRequest log asking for `url`. */
function jobRun(nonce: number) {
  const event = getAbiItem({ abi: OperatorAbi, name: 'OracleRequest' })
  const specId = toHex('bench', { size: 32 })
  const data = toHex(encodeDietCbor({ get: url, path: 'data,price', times: 100 }))
  return {
    logTopics: encodeEventTopics({ abi: [event], eventName: 'OracleRequest', args: { specId } }),
    logData: encodeAbiParameters(
      event.inputs.filter((i) => !i.indexed),
      [
        '0x5FbDB2315678afecb367f032d93F642f64180aa3',
        toHex(nonce, { size: 32 }),
        10n ** 17n,
        '0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9',
        '0x4357855e',
        1_800_000_000n,
        2n,
        data,
      ],
    ),
  }
}

/** Distinct requests, prepared before timing starts. */
const jobRuns = Array.from({ length: 256 }, (_, i) => jobRun(i))

const fixture = readFileSync(
  join(import.meta.dirname, '..', 'test', 'fixtures', 'get-uint256.toml'),
  'utf8',
)
const cases = {
  'get-uint256': fixture,
  'no-http': fixture.replace(
    /fetch\s+\[type="http"[^\]]*\]/,
    'fetch [type="memo" value="{\\\\"data\\\\":{\\\\"price\\\\":3012.34}}"]',
  ),
}

let submitted = 0
const deps: TaskDeps = {
  http: createHttpClient({ allowUnrestricted: true }),
  allowUnrestrictedNetworkAccess: true,
  txSink: {
    submit: async () => ({ id: String(++submitted) }),
  },
  evmChainID: 31337n,
}

for (const [name, spec] of Object.entries(cases)) {
  const { pipeline } = parseJobSpec(spec, TASKS)
  const durations: number[] = []
  let runs = 0
  let failures = 0
  let measuring = false
  const started = performance.now()
  let measureStart = 0
  const worker = async () => {
    while (performance.now() - started < WARMUP_MS + DURATION_MS) {
      if (!measuring && performance.now() - started >= WARMUP_MS) {
        measuring = true
        measureStart = performance.now()
      }
      const t0 = performance.now()
      const result = await runPipeline({
        pipeline,
        runId: String(runs),
        vars: { jobRun: jobRuns[runs % jobRuns.length], jobSpec: { externalJobID: 'bench' } },
        deps,
        defaultTimeoutMs: 10_000,
      })
      if (result.failed) {
        failures++
        if (failures === 1) console.error(name, result.errors.find(Boolean)?.message)
      }
      if (measuring) {
        durations.push(performance.now() - t0)
        runs++
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const elapsed = performance.now() - measureStart
  durations.sort((a, b) => a - b)
  console.log(
    JSON.stringify({
      bench: 'pipeline',
      case: name,
      concurrency: CONCURRENCY,
      runs,
      failures,
      runs_per_s: Math.round((runs / elapsed) * 1000),
      run_p50_ms: percentile(durations, 50, 3),
      run_p99_ms: percentile(durations, 99, 3),
    }),
  )
}
sourceProcess.kill()
process.exit(0)
