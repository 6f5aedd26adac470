import { writeFile } from 'node:fs/promises'
import { Command, InvalidArgumentError } from 'commander'
import {
  describeFault,
  type FaultMode,
  parseFault,
  type SimulatedExchanges,
  startSimulatedExchanges,
} from '../adapters/sources/simulated.ts'
import { errorMessage } from '../errors.ts'
import { collect, OptionError, parseInteger, parseNumber, untilSignal } from './options.ts'

/**
 * `orakel sources`: SIMULATED exchanges on 127.0.0.1 for local development (see
 * src/adapters/sources/simulated.ts). Prints each exchange's URL; `--price-config` writes a
 * price adapter config that asks all of them.
 */

type SourcesOptions = {
  seed?: number
  pairs: Record<string, number>
  count: number
  portBase?: number
  fault: string[]
  latency: number
  jitter: number
  spread: number
  volatility: number
  json?: boolean
  priceConfig?: string
}

export const DEFAULT_PAIRS = { 'ETH-USD': 3000, 'BTC-USD': 60000, 'LINK-USD': 15 }

/** `ETH-USD=3000,BTC-USD=60000` */
export function parsePairs(value: string): Record<string, number> {
  const pairs: Record<string, number> = {}
  for (const item of value.split(',')) {
    const m = /^\s*([A-Za-z0-9.]{1,16}-[A-Za-z0-9.]{1,16})=(\d+(\.\d+)?)\s*$/.exec(item)
    if (!m || Number(m[2]) <= 0) {
      throw new InvalidArgumentError(
        `expected PAIR=PRICE,… such as ETH-USD=3000, got ${JSON.stringify(item)}.`,
      )
    }
    pairs[m[1]!.toUpperCase()] = Number(m[2])
  }
  return pairs
}

/** `3=down`, `4=wrong:30` → exchange number and fault. */
export function parseFaultOption(value: string, count: number): [number, FaultMode] {
  const m = /^(\d+)=(.+)$/.exec(value)
  if (!m)
    throw new OptionError(
      `--fault ${JSON.stringify(value)}: expected <exchange number>=<mode>, e.g. 3=down`,
    )
  const index = Number(m[1])
  if (index < 1 || index > count) {
    throw new OptionError(
      `--fault ${value}: there is no exchange ${index} (exchanges are numbered 1 to ${count})`,
    )
  }
  try {
    return [index, parseFault(m[2]!)]
  } catch (err) {
    throw new OptionError(`--fault ${value}: ${errorMessage(err)}`, {
      details: (err as { details?: string }).details,
    })
  }
}

export function sourcesCommand(): Command {
  return new Command('sources')
    .description(
      'Serve SIMULATED exchanges on 127.0.0.1 (made-up prices) with latencies and fault modes',
    )
    .option(
      '--seed <n>',
      'seed of the price path; the same seed gives the same prices (default: random)',
      parseInteger(0, 2 ** 32 - 1),
    )
    .option('--pairs <list>', 'pairs and starting prices, PAIR=PRICE,…', parsePairs, DEFAULT_PAIRS)
    .option('--count <n>', 'how many exchanges', parseInteger(1, 100), 5)
    .option(
      '--port-base <n>',
      'exchange i listens on port base + i - 1 (default: any free ports)',
      parseInteger(1, 65535),
    )
    .option(
      '--fault <n=mode>',
      'fault of exchange n: down, down:503, slow:<ms>, stale[:<ms>], wrong:<percent>, malformed (repeatable)',
      collect,
      [] as string[],
    )
    .option('--latency <ms>', 'delay of every answer', parseInteger(0, 600_000), 0)
    .option('--jitter <ms>', 'up to this much more delay, seeded', parseInteger(0, 600_000), 0)
    .option(
      '--spread <fraction>',
      'offsets of the exchanges are drawn from ±spread',
      parseNumber(0, 0.5),
      0.001,
    )
    .option(
      '--volatility <fraction>',
      'largest relative step of the price walk',
      parseNumber(0, 0.5),
      0.002,
    )
    .option('--json', 'print one JSON line describing the exchanges')
    .option('--price-config <file>', 'write a price adapter config (JSON) asking every exchange')
    .action(async (opts: SourcesOptions) => {
      const faults: Record<number, FaultMode> = {}
      for (const f of opts.fault) {
        const [index, fault] = parseFaultOption(f, opts.count)
        faults[index] = fault
      }
      if (opts.portBase !== undefined && opts.portBase + opts.count - 1 > 65535) {
        throw new OptionError(
          `--port-base ${opts.portBase}: ${opts.count} exchanges do not fit below port 65536`,
        )
      }
      const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31)
      const set = await startSimulatedExchanges({
        seed,
        pairs: opts.pairs,
        count: opts.count,
        portBase: opts.portBase,
        faults,
        latencyMs: opts.latency,
        jitterMs: opts.jitter,
        spread: opts.spread,
        volatility: opts.volatility,
      })
      // Listen for the signal before printing: a caller may stop us as soon as it reads the URLs.
      const stopped = untilSignal()
      if (opts.priceConfig)
        await writeFile(opts.priceConfig, `${JSON.stringify(priceConfig(set), null, 2)}\n`)
      print(set, opts)
      await stopped
      await set.stop()
    })
}

/** A price adapter config asking every exchange of `set` (minSources: a majority). */
export function priceConfig(set: SimulatedExchanges) {
  return {
    minSources: Math.floor(set.exchanges.length / 2) + 1,
    sources: set.exchanges.map((e) => ({
      name: e.name,
      url: `${e.url}/price?pair={pair}`,
      path: 'price',
      timestampPath: 'timestamp',
    })),
  }
}

function print(set: SimulatedExchanges, opts: SourcesOptions): void {
  if (opts.json) {
    console.log(
      JSON.stringify({
        simulated: true,
        seed: set.seed,
        pairs: opts.pairs,
        exchanges: set.exchanges.map((e) => ({
          name: e.name,
          url: e.url,
          priceUrl: `${e.url}/price?pair={pair}`,
          offset: e.offset,
          fault: describeFault(e.fault),
        })),
      }),
    )
    return
  }
  console.log(
    `SIMULATED exchanges: made-up prices for ${Object.keys(opts.pairs).join(', ')} (seed ${set.seed}; --seed ${set.seed} reproduces them)`,
  )
  for (const e of set.exchanges) {
    const offset = `${e.offset >= 0 ? '+' : ''}${(e.offset * 100).toFixed(3)} %`
    console.log(
      `  ${e.name.padEnd(16)} ${e.url}/price?pair=<PAIR>   offset ${offset.padEnd(9)} fault ${describeFault(e.fault)}`,
    )
  }
  if (opts.priceConfig) console.log(`price adapter config written to ${opts.priceConfig}`)
}
