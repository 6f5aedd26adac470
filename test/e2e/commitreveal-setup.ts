import { readFileSync } from 'node:fs'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { Address } from 'viem'
import { privateKeyToAddress } from 'viem/accounts'
import { PriceConsumerAbi, PriceConsumerBytecode } from '../../artifacts/abis.ts'
import { ANVIL_PRIVATE_KEYS } from '../../src/chain/anvil.ts'
import { deployCommittee } from '../../src/chain/commit-reveal-testing.ts'
import {
  deployContract,
  fundLink,
  LINK,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'
import { createLogger } from '../../src/common.ts'
import type { NodeConfig } from '../../src/config/config.ts'
import type { CommitRevealEvent } from '../../src/node/commitreveal.ts'
import { type OracleNode, startNode } from '../../src/node/node.ts'
import { prepareTestNode } from './node-setup.ts'

/**
 * A commit–reveal committee on anvil: LinkToken, MedianAggregation(minReveals), a configured
 * CommitRevealAggregator with feed funds, a PriceConsumer that requests through it, a local
 * price source with one price (and one gate) per node, and n in-process oracle nodes (anvil
 * accounts 1..n), each on a database of its own (PGlite in a temporary folder, or a schema of
 * the Postgres server named by DATABASE_URL). Nothing is mocked.
 */

export const REQUEST_SPEC = readFileSync(
  join(import.meta.dirname, '../fixtures/commitreveal-request.toml'),
  'utf8',
)
export const FEED_SPEC = readFileSync(
  join(import.meta.dirname, '../fixtures/commitreveal-feed.toml'),
  'utf8',
)
const TEMPLATE_ADDRESS = '0x613a38AC1659769640aaE063C651F48E0250454C'

/**
 * A price source answering `{"price": …}` at `/price?node=<i>` (HTTP 503 while the price is
 * `down`); a gated node's requests wait until it is released.
 */
export async function startCommitteeSource(prices: string[]) {
  const gated = new Set<number>()
  const held = new Map<number, ServerResponse[]>()
  const reply = (res: ServerResponse, i: number) => {
    if (prices[i] === 'down') {
      res.writeHead(503).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(`{"price": ${prices[i]}}`)
  }
  const server = createServer((req, res) => {
    const i = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('node'))
    if (!(i >= 0 && i < prices.length)) {
      res.writeHead(404).end()
      return
    }
    if (gated.has(i)) held.set(i, [...(held.get(i) ?? []), res])
    else reply(res, i)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  return {
    /** Without `?node=`: the requests' `get` (each node's job adds its own node number). */
    url: `http://127.0.0.1:${port}/price`,
    prices,
    gate(i: number) {
      gated.add(i)
    },
    release(i: number) {
      gated.delete(i)
      for (const res of held.get(i)?.splice(0) ?? []) if (!res.destroyed) reply(res, i)
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export type CommitteeNode = {
  index: number
  address: Address
  config: NodeConfig
  events: CommitRevealEvent[]
  node(): OracleNode
  start(): Promise<OracleNode>
  stop(): Promise<void>
  api(
    method: string,
    path: string,
    body?: string,
  ): Promise<{ status: number; json: Record<string, unknown> }>
}

export type CommitteeWorld = {
  chain: TestChain
  link: Address
  aggregator: Address
  consumer: Address
  source: Awaited<ReturnType<typeof startCommitteeSource>>
  nodes: CommitteeNode[]
  /** The request fixture for node i (fetching its own price) on this aggregator. */
  requestSpec(i: number): string
  /** The feed fixture for node i with `settings` (`key = value` lines) replacing the fixture's. */
  feedSpec(i: number, settings: Record<string, string>): string
  close(): Promise<void>
}

export async function startCommitteeWorld(params: {
  prefix: string
  n: number
  f: number
  minReveals: number
  commitWindow: number
  revealWindow: number
  prices: string[]
}): Promise<CommitteeWorld> {
  const chain = await startTestChain()
  const cleanup: (() => Promise<void>)[] = [() => chain.stop()]
  const close = async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => {})
  }
  try {
    const owner = chain.owner
    const keys = ANVIL_PRIVATE_KEYS.slice(1, 1 + params.n)
    const { link, aggregator } = await deployCommittee(chain, {
      n: params.n,
      f: params.f,
      minReveals: params.minReveals,
      commitWindow: params.commitWindow,
      revealWindow: params.revealWindow,
      paymentPerAnswer: LINK / 100n,
      feedFunds: 10n * LINK,
      oracleKeys: [...keys],
    })
    const consumer = await deployContract(owner, {
      name: 'PriceConsumer',
      abi: PriceConsumerAbi,
      bytecode: PriceConsumerBytecode,
      args: [link, aggregator],
    })
    await fundLink(chain, link, consumer, 10n * LINK)
    const source = await startCommitteeSource(params.prices)
    cleanup.push(() => source.stop())

    const nodes: CommitteeNode[] = []
    for (const [index, key] of keys.entries()) {
      const config = await prepareTestNode({
        chain,
        privateKey: key,
        prefix: `${params.prefix}${index}-`,
        cleanup,
      })
      let node: OracleNode | undefined
      const current = () => {
        if (!node) throw new Error(`node ${index} is not started`)
        return node
      }
      const events: CommitRevealEvent[] = []
      const entry: CommitteeNode = {
        index,
        address: privateKeyToAddress(key),
        config,
        events,
        node: current,
        async start() {
          node = await startNode({
            config,
            logger: createLogger({ silent: true }),
            onCommitRevealEvent: (e) => events.push(e),
          })
          return node
        },
        async stop() {
          await node?.stop()
          node = undefined
        },
        async api(method, path, body) {
          const res = await fetch(`${current().apiUrl}${path}`, {
            method,
            headers: {
              authorization: `Bearer ${current().apiToken}`,
              'content-type': 'application/toml',
            },
            body,
          })
          return { status: res.status, json: (await res.json()) as Record<string, unknown> }
        },
      }
      cleanup.push(() => entry.stop())
      nodes.push(entry)
    }
    await Promise.all(nodes.map((n) => n.start()))

    const onAggregator = (toml: string) =>
      toml.replaceAll(TEMPLATE_ADDRESS, aggregator).replace(/^evmChainID = .*\n/m, '')
    return {
      chain,
      link,
      aggregator,
      consumer,
      source,
      nodes,
      requestSpec: (i) =>
        onAggregator(REQUEST_SPEC).replace(
          'url="$(decode_cbor.get)"',
          `url="$(decode_cbor.get)?node=${i}"`,
        ),
      feedSpec(i, settings) {
        let toml = onAggregator(FEED_SPEC).replace(/url="[^"]*"/, `url="${source.url}?node=${i}"`)
        for (const [key, value] of Object.entries(settings)) {
          toml = toml.replace(new RegExp(`^${key} = .*$`, 'm'), `${key} = ${value}`)
        }
        return toml
      },
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}
