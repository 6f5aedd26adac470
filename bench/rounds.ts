/**
 * Commit–reveal round latency with real nodes: anvil (one block per transaction), a
 * CommitRevealAggregator whose committee is n in-process Orakel nodes (PGlite each, or the
 * Postgres server at DATABASE_URL — one database per node is not needed: each node gets its own
 * PGlite folder), each running the same `commitreveal` request job against a local price
 * source. A consumer sends requests one after another; a round's latency is from the request's
 * block to the consumer's answer (seen by polling every 10 ms). Prints one JSON line per n.
 *
 *   npm run bench:rounds                      n = 4 and n = 7, 20 rounds each
 *   BENCH_ROUNDS=50 npm run bench:rounds
 */

import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type Hex, parseEventLogs } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { PriceConsumerAbi } from '../artifacts/abis.ts'
import { deployCommittee } from '../src/chain/commit-reveal-testing.ts'
import {
  deployPriceConsumer,
  LINK,
  send,
  startTestChain,
  type TestChain,
} from '../src/chain/testing.ts'
import { specIdOf } from '../src/node/directrequest.ts'
import { type LocalNode, startLocalNode } from '../src/node/local.ts'
import { percentile } from './stats.ts'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20)
const SIZES = (process.env.BENCH_SIZES ?? '4,7').split(',').map(Number)
const PAY = 10n ** 15n
const SPEC = join(import.meta.dirname, '..', 'test', 'fixtures', 'commitreveal-request.toml')

async function measure(chain: TestChain, n: number, sourceUrl: string) {
  const f = Math.floor((n - 1) / 3)
  const keys: Hex[] = Array.from({ length: n }, () => generatePrivateKey())
  const committee = await deployCommittee(chain, {
    n,
    f,
    oracleKeys: keys,
    paymentPerAnswer: PAY,
    commitWindow: 60,
    revealWindow: 60,
  })
  const consumer = await deployPriceConsumer(
    chain,
    committee.link,
    committee.aggregator,
    1000n * LINK,
  )

  const externalJobID = randomUUID()
  const toml = readFileSync(SPEC, 'utf8')
    .replace(/externalJobID = ".*"/, `externalJobID = "${externalJobID}"`)
    .replace(/contractAddress = ".*"/, `contractAddress = "${committee.aggregator}"`)
  const nodes: LocalNode[] = []
  try {
    for (const privateKey of keys) {
      const local = await startLocalNode({
        rpcUrl: chain.anvil.rpcUrl,
        chainId: chain.anvil.chainId,
        privateKey,
        databaseUrl: undefined,
        pollIntervalMs: 20,
      })
      nodes.push(local)
      await local.post('/v2/jobs', 'application/toml', toml)
    }
    const latencies: number[] = []
    let failures = 0
    for (let r = 0; r < ROUNDS; r++) {
      const receipt = await send(chain.owner, {
        address: consumer,
        abi: PriceConsumerAbi,
        functionName: 'requestValue',
        args: [specIdOf(externalJobID), BigInt(n) * PAY, sourceUrl, 'price', 100n, false],
      })
      const started = performance.now()
      const deadline = started + 30_000
      for (;;) {
        const logs = await chain.owner.getLogs({
          address: consumer,
          fromBlock: receipt.blockNumber,
        })
        if (parseEventLogs({ abi: PriceConsumerAbi, logs, eventName: 'AnswerReceived' }).length) {
          latencies.push(performance.now() - started)
          break
        }
        if (performance.now() > deadline) {
          failures += 1
          break
        }
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    latencies.sort((a, b) => a - b)
    return {
      bench: 'rounds',
      n,
      f,
      rounds: ROUNDS,
      answered: latencies.length,
      failures,
      round_p50_ms: percentile(latencies, 50),
      round_p99_ms: percentile(latencies, 99),
      round_max_ms: percentile(latencies, 100),
    }
  } finally {
    for (const node of nodes) await node.stop().catch(() => {})
  }
}

async function main() {
  const source = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ price: 3000 + Math.random() }))
  })
  await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve))
  const sourceUrl = `http://127.0.0.1:${(source.address() as AddressInfo).port}/price`
  const chain = await startTestChain()
  try {
    for (const n of SIZES) console.log(JSON.stringify(await measure(chain, n, sourceUrl)))
  } finally {
    await chain.stop()
    source.close()
  }
}

await main()
