import { type Address, getAddress, getContractAddress, type Hex } from 'viem'
import { ThresholdAggregatorAbi, ThresholdAggregatorBytecode } from '../../artifacts/abis.ts'
import type { ChainClient } from './client.ts'
import { DeployError, deployContract } from './deploy.ts'

/**
 * Deploying an off-chain aggregation feed (docs/protocol/oca.md, "The node's job"): the
 * committee's nodes make the group key by DKG before the ThresholdAggregator exists, bound to
 * the address it will have — the deployer's next CREATE address — so the deployer
 *
 * 1. predicts the address (`nextContractAddress`) and puts it in the members' job specs;
 * 2. reads the group key the nodes report (`agreedGroupKey`: at least n−f of them must report
 *    the same key, so f faulty nodes can neither forge nor block it);
 * 3. deploys the aggregator with that key (`deployThresholdAggregator`) from the same account,
 *    with no other transaction in between.
 */

/** The address the account's next contract creation gets. */
export async function nextContractAddress(client: ChainClient): Promise<Address> {
  const nonce = await client.getTransactionCount({
    address: client.account.address,
    blockTag: 'pending',
  })
  return getContractAddress({ from: client.account.address, nonce: BigInt(nonce) })
}

export type GroupKeyReport = {
  /** Who reported it (a node's API URL, for the error message). */
  node: string
  groupKeyX: string | undefined
  groupKeyParity: number | undefined
}

/** The group key at least `quorum` reports agree on, or undefined when none has that many yet. */
export function agreedGroupKey(
  reports: readonly GroupKeyReport[],
  quorum: number,
): { x: bigint; parity: number } | undefined {
  const counts = new Map<string, number>()
  for (const r of reports) {
    if (r.groupKeyX === undefined || r.groupKeyParity === undefined) continue
    const key = `${BigInt(r.groupKeyX)}/${r.groupKeyParity}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  for (const [key, count] of counts) {
    if (count < quorum) continue
    const [x, parity] = key.split('/')
    return { x: BigInt(x!), parity: Number(parity) }
  }
  return undefined
}

export type DeployThresholdAggregatorParameters = {
  groupKey: { x: bigint; parity: number }
  oracles: readonly Address[]
  f: number
  epoch: number
  minAnswer: bigint
  maxAnswer: bigint
  decimals: number
  description: string
  /** Where the nodes expect it; deploying elsewhere is an error (their DKG is bound to it). */
  expectedAddress?: Address
}

export async function deployThresholdAggregator(
  client: ChainClient,
  params: DeployThresholdAggregatorParameters,
): Promise<Address> {
  if (params.expectedAddress) {
    const next = await nextContractAddress(client)
    if (getAddress(next) !== getAddress(params.expectedAddress)) {
      throw new DeployError('the aggregator would not land where the committee expects it', {
        details: `next address ${next}, expected ${params.expectedAddress}: the deployer sent another transaction in between`,
      })
    }
  }
  const address = await deployContract(client, {
    name: 'ThresholdAggregator',
    abi: ThresholdAggregatorAbi,
    bytecode: ThresholdAggregatorBytecode,
    args: [
      params.groupKey.x,
      params.groupKey.parity,
      [...params.oracles],
      params.f,
      params.epoch,
      params.minAnswer,
      params.maxAnswer,
      params.decimals,
      params.description,
    ],
  })
  return address
}

/** `Hex` of a uint256 x coordinate, as nodes report it. */
export const groupKeyHex = (x: bigint): Hex => `0x${x.toString(16).padStart(64, '0')}`
