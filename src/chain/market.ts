/**
 * The order-matching market (contracts/market/OrderMatching.sol) and the reputation contract
 * from TypeScript: deployment, a pool aggregator handed to the market, and the `transferAndCall`
 * payloads that post an SLA and bid on one. See docs/protocol/market.md.
 */
import { type Address, encodeFunctionData, encodePacked, type Hex, keccak256 } from 'viem'
import {
  CommitRevealAggregatorAbi,
  CommitRevealAggregatorBytecode,
  OrderMatchingAbi,
  OrderMatchingBytecode,
  ReputationAbi,
  ReputationBytecode,
} from '../../artifacts/abis.ts'
import type { ChainClient } from './client.ts'
import { DeployError, deployContract } from './deploy.ts'

/** `IOrderMatching.AggregationMode`. */
export const AGGREGATION_MODE = { CommitReveal: 0, OffchainAggregation: 1 } as const
/** `IOrderMatching.SLAStatus`, by its numeric value. */
export const SLA_STATUS = ['None', 'Bidding', 'Serving', 'Settled', 'Cancelled'] as const
export type SlaStatusName = (typeof SLA_STATUS)[number]
/** `IOrderMatching.CancelReason`, by its numeric value. */
export const CANCEL_REASON = [
  'ByPurchaser',
  'TooFewBids',
  'NoAggregator',
  'DeadlinePassed',
  'AggregatorRejected',
] as const

/** `IOrderMatching.Proposal`: what a purchaser posts. */
export type SlaProposal = {
  specId: Hex
  /** Query parameters, CBOR (as a Chainlink request's data). */
  data: Hex
  n: number
  mode: number
  /** The IAggregationFunction the committee's reveals go through (zero in OCA mode). */
  aggregation: Address
  minReputation: number
  agreementBps: number
  paymentPerOracle: bigint
  minDeposit: bigint
  /** Unix seconds: bids are accepted before it. */
  biddingEnd: number
  /** Unix seconds: the round's reveals close at it. */
  responseDeadline: number
}

/** The `data` of `LINK.transferAndCall(market, escrow, data)` that posts `proposal`. */
export function proposeData(proposal: SlaProposal): Hex {
  return encodeFunctionData({ abi: OrderMatchingAbi, functionName: 'propose', args: [proposal] })
}

/** The `data` of `LINK.transferAndCall(market, deposit, data)` that bids `price` on `slaId`. */
export function bidData(slaId: bigint, price: bigint): Hex {
  return encodeFunctionData({ abi: OrderMatchingAbi, functionName: 'bid', args: [slaId, price] })
}

/** The request id of an SLA's round: the market asks with the SLA id as its nonce. */
export function slaRequestId(market: Address, slaId: bigint): Hex {
  return keccak256(encodePacked(['address', 'uint256'], [market, slaId]))
}

export type MarketDeployment = {
  reputation: Address
  market: Address
  /** The pool aggregators the market owns. */
  aggregators: Address[]
}

async function confirm(client: ChainClient, what: string, hash: Hex) {
  const receipt = await client.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') {
    throw new DeployError(`${what} reverted`, { details: `transaction ${hash}` })
  }
}

/**
 * Deploys a Reputation and an OrderMatching market, both owned by the client's account, makes
 * the market a reputation writer, and gives it `aggregators` pool aggregators (default 1).
 */
export async function deployMarket(
  client: ChainClient,
  params: { link: Address; aggregators?: number },
): Promise<MarketDeployment> {
  const owner = client.account.address
  const reputation = await deployContract(client, {
    name: 'Reputation',
    abi: ReputationAbi,
    bytecode: ReputationBytecode,
    args: [owner],
  })
  const market = await deployContract(client, {
    name: 'OrderMatching',
    abi: OrderMatchingAbi,
    bytecode: OrderMatchingBytecode,
    args: [params.link, reputation, owner],
  })
  await confirm(
    client,
    'making the market a reputation writer',
    await client.writeContract({
      address: reputation,
      abi: ReputationAbi,
      functionName: 'setWriter',
      args: [market, true],
    } as Parameters<ChainClient['writeContract']>[0]),
  )
  const aggregators: Address[] = []
  for (let i = 0; i < (params.aggregators ?? 1); i++) {
    aggregators.push(await addPoolAggregator(client, { link: params.link, market }))
  }
  return { reputation, market, aggregators }
}

/**
 * Deploys a CommitRevealAggregator, offers its ownership to the market and adds it to the
 * market's pool (the client's account must own the market). The market configures it for each
 * SLA it serves.
 */
export async function addPoolAggregator(
  client: ChainClient,
  params: { link: Address; market: Address; description?: string },
): Promise<Address> {
  const aggregator = await deployContract(client, {
    name: 'CommitRevealAggregator',
    abi: CommitRevealAggregatorAbi,
    bytecode: CommitRevealAggregatorBytecode,
    args: [params.link, client.account.address, 8, params.description ?? 'Orakel SLA pool'],
  })
  await confirm(
    client,
    'offering the aggregator to the market',
    await client.writeContract({
      address: aggregator,
      abi: CommitRevealAggregatorAbi,
      functionName: 'transferOwnership',
      args: [params.market],
    } as Parameters<ChainClient['writeContract']>[0]),
  )
  await confirm(
    client,
    'adding the aggregator to the pool',
    await client.writeContract({
      address: params.market,
      abi: OrderMatchingAbi,
      functionName: 'addAggregator',
      args: [aggregator],
    } as Parameters<ChainClient['writeContract']>[0]),
  )
  return aggregator
}
