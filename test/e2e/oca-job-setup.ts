import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Address, parseEventLogs } from 'viem'
import { privateKeyToAddress } from 'viem/accounts'
import {
  OracleRegistryAbi,
  OracleRegistryBytecode,
  ThresholdAggregatorAbi,
} from '../../artifacts/abis.ts'
import { ANVIL_PRIVATE_KEYS } from '../../src/chain/anvil.ts'
import { agreedGroupKey, deployThresholdAggregator } from '../../src/chain/oca-deploy.ts'
import { deployContract, startTestChain, type TestChain } from '../../src/chain/testing.ts'
import { createLogger } from '../../src/common.ts'
import type { NodeConfig } from '../../src/config/config.ts'
import { type OracleNode, startNode } from '../../src/node/node.ts'
import type { OcaJobEvent, OcaJobStatus } from '../../src/node/offchainaggregation.ts'
import { startCommitteeSource } from './commitreveal-setup.ts'
import { prepareTestNode, waitFor } from './node-setup.ts'

/**
 * Real nodes for offchainaggregation job tests: anvil, an OracleRegistry, a price source with one
 * price per node, and `n` in-process nodes (anvil accounts 1..n) on databases of their own
 * (PGlite in a temporary folder, or a schema of the Postgres server named by DATABASE_URL).
 * Nothing is mocked.
 */

export const OCA_FIXTURE = readFileSync(
  join(import.meta.dirname, '../fixtures/offchainaggregation-feed.toml'),
  'utf8',
)

export type OcaTestNode = {
  index: number
  address: Address
  config: NodeConfig
  events: OcaJobEvent[]
  node?: OracleNode
}

type JobJson = { job: { id: string; status: OcaJobStatus } }

export async function startOcaWorld(params: { prefix: string; n: number; prices: string[] }) {
  const cleanup: (() => Promise<void>)[] = []
  const close = async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => {})
  }
  const chain: TestChain = await startTestChain()
  cleanup.push(() => chain.stop())
  try {
    const registry = await deployContract(chain.owner, {
      name: 'OracleRegistry',
      abi: OracleRegistryAbi,
      bytecode: OracleRegistryBytecode,
      args: [],
    })
    const source = await startCommitteeSource(params.prices)
    cleanup.push(() => source.stop())
    const nodes: OcaTestNode[] = []
    for (const [index, key] of ANVIL_PRIVATE_KEYS.slice(1, 1 + params.n).entries()) {
      const config = await prepareTestNode({
        chain,
        privateKey: key,
        prefix: `${params.prefix}${index}-`,
        cleanup,
      })
      const t: OcaTestNode = { index, address: privateKeyToAddress(key), config, events: [] }
      nodes.push(t)
      cleanup.push(async () => {
        await t.node?.stop()
      })
    }

    const start = async (t: OcaTestNode) => {
      t.node = await startNode({
        config: t.config,
        logger: createLogger({ silent: true }),
        onOcaEvent: (e) => t.events.push(e),
        scryptN: 2 ** 12,
      })
    }
    await Promise.all(nodes.map(start))

    const api = async (t: OcaTestNode, method: string, path: string, body?: string) => {
      const res = await fetch(`${t.node!.apiUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${t.node!.apiToken}`,
          'content-type': 'application/toml',
        },
        ...(body === undefined ? {} : { body }),
      })
      return { status: res.status, json: (await res.json()) as JobJson }
    }
    const status = async (t: OcaTestNode, jobId: string): Promise<OcaJobStatus> =>
      (await api(t, 'GET', `/v2/jobs/${jobId}`)).json.job.status

    return {
      chain,
      registry,
      source,
      nodes,
      start,
      api,
      status,
      /** The fixture for node `i` on `aggregator`, fast timing, `extra` lines appended to the settings. */
      specFor(
        i: number,
        p: { aggregator: Address; registry?: Address; oracles?: Address[]; extra?: string },
      ) {
        let toml = OCA_FIXTURE.replace(
          /^contractAddress = .*$/m,
          `contractAddress = "${p.aggregator}"`,
        )
          .replace(/^registryAddress = .*$/m, `registryAddress = "${p.registry ?? registry}"`)
          .replace(
            /^pollPeriod = .*$/m,
            `pollPeriod = "300ms"\nviewTimeout = "3s"\ntransmitStep = "1s"\ndkgPhaseTimeout = "15s"\nroundsPerBatch = 4${p.extra ? `\n${p.extra}` : ''}`,
          )
          .replace(/url="[^"]*"/, `url="${source.url}?node=${i}"`)
        if (p.oracles)
          toml = toml.replace(
            /^oracles = \[[^\]]*\]/m,
            `oracles = [${p.oracles.map((o) => `"${o}"`).join(', ')}]`,
          )
        return toml
      },
      /** Creates `spec(t)` on each node; returns the job ids (in `members` order). */
      async createJobs(
        members: OcaTestNode[],
        spec: (t: OcaTestNode) => string,
      ): Promise<string[]> {
        const ids: string[] = []
        for (const t of members) {
          const res = await api(t, 'POST', '/v2/jobs', spec(t))
          if (res.status !== 201)
            throw new Error(`job creation answered ${res.status}: ${JSON.stringify(res.json)}`)
          ids.push(String(res.json.job.id))
        }
        return ids
      },
      /** Waits until n − f of the members report the same group key, and deploys the aggregator with it. */
      async deployWhenKeyed(
        members: OcaTestNode[],
        jobIds: string[],
        p: { aggregator: Address; oracles: Address[]; f: number; epoch?: number },
      ) {
        const key = await waitFor(
          'the group key from n − f nodes',
          async () => {
            const reports = await Promise.all(
              members.map(async (t, i) => ({
                node: String(t.index),
                ...(await status(t, jobIds[i]!)),
              })),
            )
            for (const r of reports)
              if (r.state === 'failed') throw new Error(`node ${r.node}'s job failed: ${r.error}`)
            return agreedGroupKey(reports, p.oracles.length - p.f)
          },
          60_000,
        )
        await deployThresholdAggregator(chain.owner, {
          groupKey: key,
          oracles: p.oracles,
          f: p.f,
          epoch: p.epoch ?? 1,
          minAnswer: 1n,
          maxAnswer: 10n ** 30n,
          decimals: 8,
          description: 'ETH / USD (OCA job test)',
          expectedAddress: p.aggregator,
        })
        return key
      },
      /** The AnswerUpdated logs of `aggregator`. */
      async roundsOn(aggregator: Address) {
        return parseEventLogs({
          abi: ThresholdAggregatorAbi,
          logs: await chain.owner.getLogs({ address: aggregator, fromBlock: 0n }),
          eventName: 'AnswerUpdated',
        })
      },
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}

export type OcaWorld = Awaited<ReturnType<typeof startOcaWorld>>

/** Whether `answer` lies between the two middle prices (a median of at least 2f+1 of four). */
export function inMiddle(answer: bigint, prices: string[]): boolean {
  const sorted = prices
    .map((p) => BigInt(p.replace('.', '')) * 1_000_000n)
    .sort((a, b) => (a < b ? -1 : 1))
  return answer >= sorted[1]! && answer <= sorted[sorted.length - 2]!
}
