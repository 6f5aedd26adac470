import { type Abi, type Address, type ContractConstructorArgs, getAddress, type Hex } from 'viem'
import {
  CommitRevealAggregatorAbi,
  CommitRevealAggregatorBytecode,
  LinkTokenAbi,
  LinkTokenBytecode,
  MedianAggregationAbi,
  MedianAggregationBytecode,
  OperatorAbi,
  OperatorBytecode,
} from '../../artifacts/abis.ts'
import { BaseError } from '../errors.ts'
import type { ChainClient } from './client.ts'
import type { CommitRevealConfig } from './commit-reveal.ts'

export class DeployError extends BaseError {
  override name = 'DeployError'
}

export type DeployContractParameters<abi extends Abi> = {
  name: string
  abi: abi
  bytecode: Hex
  args: ContractConstructorArgs<abi>
}

/** Deploys one contract, waits for its receipt, and returns its address. */
export async function deployContract<const abi extends Abi>(
  client: ChainClient,
  params: DeployContractParameters<abi>,
): Promise<Address> {
  let hash: Hex
  try {
    hash = await client.deployContract({
      abi: params.abi,
      bytecode: params.bytecode,
      args: params.args,
    } as Parameters<ChainClient['deployContract']>[0])
  } catch (cause) {
    throw new DeployError(`deploying ${params.name} failed`, { cause })
  }
  const receipt = await client.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success' || !receipt.contractAddress) {
    throw new DeployError(`deploying ${params.name} reverted`, { details: `transaction ${hash}` })
  }
  return getAddress(receipt.contractAddress)
}

export type CoreDeployment = {
  chainId: number
  linkToken: Address
  operator: Address
  owner: Address
  authorizedSenders: Address[]
}

/** Deploys a LinkToken (ERC-677); the client's account holds the whole supply. */
export function deployLinkToken(client: ChainClient): Promise<Address> {
  return deployContract(client, {
    name: 'LinkToken',
    abi: LinkTokenAbi,
    bytecode: LinkTokenBytecode,
    args: [],
  })
}

/**
 * Deploys LinkToken and an Operator owned by the client's account, and authorizes
 * `authorizedSenders` (the node keys that will fulfil) when given.
 */
export async function deployCore(
  client: ChainClient,
  params: { authorizedSenders?: Address[] } = {},
): Promise<CoreDeployment> {
  const owner = client.account.address
  const linkToken = await deployLinkToken(client)
  const operator = await deployContract(client, {
    name: 'Operator',
    abi: OperatorAbi,
    bytecode: OperatorBytecode,
    args: [linkToken, owner],
  })
  const authorizedSenders = params.authorizedSenders ?? []
  if (authorizedSenders.length > 0) {
    const hash = await client.writeContract({
      address: operator,
      abi: OperatorAbi,
      functionName: 'setAuthorizedSenders',
      args: [authorizedSenders],
    })
    const receipt = await client.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') {
      throw new DeployError('authorizing the node keys on the Operator reverted', {
        details: `transaction ${hash}`,
      })
    }
  }
  return { chainId: client.chain.id, linkToken, operator, owner, authorizedSenders }
}

export type DeployCommitRevealParameters = {
  link: Address
  /** Feed decimals and description (AggregatorV3Interface). */
  decimals: number
  description: string
  /** The committee; without `aggregation`, a MedianAggregation(minReveals) is deployed. */
  config: Omit<CommitRevealConfig, 'aggregation'> & { aggregation?: Address }
  /** LINK (smallest units) to add to the feed's funds, from the client's account. */
  feedFunds?: bigint
}

/**
 * Deploys a CommitRevealAggregator owned by the client's account, configures its committee and
 * funds its feed. Returns the aggregator, the aggregation function and the configuration set.
 */
export async function deployCommitRevealAggregator(
  client: ChainClient,
  params: DeployCommitRevealParameters,
): Promise<{ aggregator: Address; aggregation: Address; config: CommitRevealConfig }> {
  const aggregation =
    params.config.aggregation ??
    (await deployContract(client, {
      name: 'MedianAggregation',
      abi: MedianAggregationAbi,
      bytecode: MedianAggregationBytecode,
      args: [BigInt(params.config.minReveals)],
    }))
  const aggregator = await deployContract(client, {
    name: 'CommitRevealAggregator',
    abi: CommitRevealAggregatorAbi,
    bytecode: CommitRevealAggregatorBytecode,
    args: [params.link, client.account.address, params.decimals, params.description],
  })
  const config: CommitRevealConfig = { ...params.config, aggregation }
  const confirm = async (what: string, hash: Hex) => {
    const receipt = await client.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') {
      throw new DeployError(`${what} reverted`, { details: `transaction ${hash}` })
    }
  }
  await confirm(
    'configuring the committee',
    await client.writeContract({
      address: aggregator,
      abi: CommitRevealAggregatorAbi,
      functionName: 'setConfig',
      args: [config],
    } as Parameters<ChainClient['writeContract']>[0]),
  )
  if (params.feedFunds) {
    await confirm(
      'funding the feed',
      await client.writeContract({
        address: params.link,
        abi: LinkTokenAbi,
        functionName: 'transferAndCall',
        args: [aggregator, params.feedFunds, '0x'],
      } as Parameters<ChainClient['writeContract']>[0]),
    )
  }
  return { aggregator, aggregation, config }
}
