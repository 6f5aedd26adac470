import { type Address, encodeFunctionData, type Hex, parseEventLogs } from 'viem'
import { privateKeyToAddress } from 'viem/accounts'
import { LinkTokenAbi, OrderMatchingAbi } from '../../artifacts/abis.ts'
import { fundedSigners, type Signer } from '../../src/chain/commit-reveal-testing.ts'
import { deployMarket, proposeData, type SlaProposal } from '../../src/chain/market.ts'
import {
  deployLinkToken,
  fundLink,
  LINK,
  startTestChain,
  type TestChain,
} from '../../src/chain/testing.ts'
import { createLogger } from '../../src/common.ts'
import type { BidderEvent } from '../../src/node/bidder.ts'
import type { CommitRevealEvent } from '../../src/node/commitreveal.ts'
import { specIdOf } from '../../src/node/directrequest.ts'
import { type OracleNode, startNode } from '../../src/node/node.ts'
import type { OcaJobEvent } from '../../src/node/offchainaggregation.ts'
import { parseJobSpec } from '../../src/pipeline/job-spec.ts'
import { TASKS } from '../../src/pipeline/tasks/index.ts'
import { REQUEST_SPEC, startCommitteeSource } from './commitreveal-setup.ts'
import { prepareTestNode } from './node-setup.ts'

/**
 * A market on anvil with real nodes, for the bidder job's tests: LinkToken, an OrderMatching
 * market with `aggregators` pool CommitRevealAggregators, a funded purchaser, a price source with
 * one price per node, and one in-process node per key (each on a database of its own), every
 * node's key holding 100 LINK for deposits. Nothing is mocked.
 */

const TEMPLATE_ADDRESS = '0x613a38AC1659769640aaE063C651F48E0250454C'
/** The spec the SLAs ask for: the commitreveal request fixture's external job id. */
export const REQUEST_JOB_ID = parseJobSpec(REQUEST_SPEC, TASKS).spec.externalJobID!
export const SPEC_ID = specIdOf(REQUEST_JOB_ID)

export type MarketNode = {
  index: number
  address: Address
  node: OracleNode
  bidder: BidderEvent[]
  rounds: CommitRevealEvent[]
  oca: OcaJobEvent[]
  api(method: string, path: string, body?: string): Promise<{ status: number; json: unknown }>
}

export type SlaState = {
  status: number
  aggregator: Address
  roundId: bigint
  clearingPrice: bigint
}

export async function startMarketWorld(params: {
  prefix: string
  keys: readonly Hex[]
  prices: string[]
  aggregators: number
}) {
  const cleanup: (() => Promise<void>)[] = []
  const close = async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => {})
  }
  const chain: TestChain = await startTestChain()
  cleanup.push(() => chain.stop())
  try {
    const owner = chain.owner
    const link = await deployLinkToken(owner)
    const { market, aggregators } = await deployMarket(owner, {
      link,
      aggregators: params.aggregators,
    })
    const [purchaser] = (await fundedSigners(chain, 1)) as [Signer]
    await fundLink(chain, link, purchaser.address, 100n * LINK)
    const source = await startCommitteeSource(params.prices)
    cleanup.push(() => source.stop())

    const nodes: MarketNode[] = []
    await Promise.all(
      params.keys.map(async (key, index) => {
        const config = await prepareTestNode({
          chain,
          privateKey: key,
          prefix: `${params.prefix}${index}-`,
          cleanup,
        })
        const bidder: BidderEvent[] = []
        const rounds: CommitRevealEvent[] = []
        const oca: OcaJobEvent[] = []
        const node = await startNode({
          config,
          logger: createLogger({ silent: true }),
          onBidderEvent: (e) => bidder.push(e),
          onCommitRevealEvent: (e) => rounds.push(e),
          onOcaEvent: (e) => oca.push(e),
          scryptN: 2 ** 12,
        })
        cleanup.push(() => node.stop())
        nodes[index] = {
          index,
          address: privateKeyToAddress(key),
          node,
          bidder,
          rounds,
          oca,
          async api(method, path, body) {
            const res = await fetch(`${node.apiUrl}${path}`, {
              method,
              headers: {
                authorization: `Bearer ${node.apiToken}`,
                'content-type': 'application/toml',
              },
              body,
            })
            return { status: res.status, json: await res.json() }
          },
        }
      }),
    )
    for (const n of nodes) await fundLink(chain, link, n.address, 100n * LINK)

    return {
      chain,
      link,
      market,
      aggregators,
      purchaser,
      source,
      nodes,
      cleanup,
      close,
      /** The commitreveal request fixture on `aggregator` for node `i` (fetching its own price). */
      requestSpec: (aggregator: Address, i: number) =>
        REQUEST_SPEC.replaceAll(TEMPLATE_ADDRESS, aggregator)
          .replace(/^evmChainID = .*\n/m, '')
          .replace('url="$(decode_cbor.get)"', `url="$(decode_cbor.get)?node=${i}"`),
      linkBalance: (who: Address) =>
        chain.owner.readContract({
          address: link,
          abi: LinkTokenAbi,
          functionName: 'balanceOf',
          args: [who],
        }) as Promise<bigint>,
      /** The purchaser posts `proposal` with `escrow` LINK; returns the SLA id. */
      async propose(proposal: SlaProposal, escrow: bigint): Promise<bigint> {
        const receipt = await purchaser.send(
          link,
          encodeFunctionData({
            abi: LinkTokenAbi,
            functionName: 'transferAndCall',
            args: [market, escrow, proposeData(proposal)],
          }),
          1_000_000n,
        )
        if (receipt.status !== 'success') throw new Error('the proposal reverted')
        const [proposed] = parseEventLogs({
          abi: OrderMatchingAbi,
          logs: receipt.logs,
          eventName: 'SLAProposed',
        })
        return proposed!.args.slaId
      },
      sla: (slaId: bigint) =>
        chain.owner.readContract({
          address: market,
          abi: OrderMatchingAbi,
          functionName: 'getSLA',
          args: [slaId],
        }) as Promise<SlaState>,
    }
  } catch (err) {
    await close()
    throw err
  }
}

export type MarketWorld = Awaited<ReturnType<typeof startMarketWorld>>
