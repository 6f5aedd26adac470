import { type Abi, type Address, type ContractConstructorArgs, getAddress, type Hex } from 'viem'
import {
  LinkTokenAbi,
  LinkTokenBytecode,
  OperatorAbi,
  OperatorBytecode,
} from '../../artifacts/abis.ts'
import { BaseError } from '../errors.ts'
import type { ChainClient } from './client.ts'

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

/**
 * Deploys LinkToken and an Operator owned by the client's account, and authorizes
 * `authorizedSenders` (the node keys that will fulfil) when given.
 */
export async function deployCore(
  client: ChainClient,
  params: { authorizedSenders?: Address[] } = {},
): Promise<CoreDeployment> {
  const owner = client.account.address
  const linkToken = await deployContract(client, {
    name: 'LinkToken',
    abi: LinkTokenAbi,
    bytecode: LinkTokenBytecode,
    args: [],
  })
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
