/**
 * Helpers for tests and benchmarks that run against a real anvil. Nothing here mocks the
 * chain: every helper sends real transactions and reads real receipts.
 */
import assert from 'node:assert/strict'
import {
  type Abi,
  type Address,
  ContractFunctionRevertedError,
  type Hex,
  type TransactionReceipt,
  BaseError as ViemBaseError,
} from 'viem'
import * as abis from '../../artifacts/abis.ts'
import { ANVIL_PRIVATE_KEYS, type Anvil, startAnvil } from './anvil.ts'
import { type ChainClient, createChainClient } from './client.ts'
import { type CoreDeployment, deployCore } from './deploy.ts'
import { contractErrorsAbi } from './errors-abi.ts'

/** Every custom error declared by any contract (see src/chain/errors-abi.ts). */
export const allErrorsAbi = contractErrorsAbi

export type TestChain = {
  anvil: Anvil
  /** Deployer and Operator owner (anvil account 0). */
  owner: ChainClient
  /** An authorized node key (anvil account 1). */
  node: ChainClient
  /** An account with no role (anvil account 2). */
  stranger: ChainClient
  /** A second node key, not authorized (anvil account 3). */
  outsider: ChainClient
  stop(): Promise<void>
}

/** Starts anvil and makes clients for its first accounts. */
export async function startTestChain(): Promise<TestChain> {
  const anvil = await startAnvil()
  try {
    const clients = await Promise.all(
      ANVIL_PRIVATE_KEYS.slice(0, 4).map((privateKey) =>
        createChainClient({ rpcUrl: anvil.rpcUrl, privateKey, pollingInterval: 20 }),
      ),
    )
    const [owner, node, stranger, outsider] = clients as [
      ChainClient,
      ChainClient,
      ChainClient,
      ChainClient,
    ]
    return { anvil, owner, node, stranger, outsider, stop: () => anvil.stop() }
  } catch (err) {
    await anvil.stop()
    throw err
  }
}

/** LinkToken + Operator with `chain.node` authorized. */
export function deployTestCore(chain: TestChain): Promise<CoreDeployment> {
  return deployCore(chain.owner, { authorizedSenders: [chain.node.account.address] })
}

type WriteParameters = {
  address: Address
  abi: Abi
  functionName: string
  args?: readonly unknown[]
  gas?: bigint
  value?: bigint
}

/** Sends a transaction, waits for it, and fails unless it succeeded. */
export async function send(
  client: ChainClient,
  params: WriteParameters,
): Promise<TransactionReceipt> {
  const hash = await client.writeContract({
    ...params,
    abi: [...params.abi, ...allErrorsAbi],
  } as Parameters<ChainClient['writeContract']>[0])
  const receipt = await client.waitForTransactionReceipt({ hash })
  assert.equal(receipt.status, 'success', `${params.functionName} reverted (${hash})`)
  return receipt
}

/** Sends a transaction with a fixed gas limit, skipping estimation, and returns its receipt. */
export async function sendRaw(client: ChainClient, params: WriteParameters & { gas: bigint }) {
  const hash = await client.writeContract({
    ...params,
    abi: [...params.abi, ...allErrorsAbi],
  } as Parameters<ChainClient['writeContract']>[0])
  return client.waitForTransactionReceipt({ hash })
}

/** Sends calldata as is (for malformed payloads). */
export async function sendData(client: ChainClient, to: Address, data: Hex, gas?: bigint) {
  const hash = await client.sendTransaction({ to, data, ...(gas ? { gas } : {}) })
  return client.waitForTransactionReceipt({ hash })
}

/**
 * Asserts that the transaction reverts with the custom error `errorName` (and `args`, when
 * given), as decoded by the node during gas estimation.
 */
export async function expectRevert(
  client: ChainClient,
  params: WriteParameters,
  errorName: string,
  args?: readonly unknown[],
): Promise<void> {
  let caught: unknown
  try {
    await client.simulateContract({
      ...params,
      abi: [...params.abi, ...allErrorsAbi],
      account: client.account,
    } as Parameters<ChainClient['simulateContract']>[0])
  } catch (err) {
    caught = err
  }
  assert.ok(caught, `${params.functionName} did not revert; expected ${errorName}`)
  const reverted =
    caught instanceof ViemBaseError
      ? (caught.walk((e) => e instanceof ContractFunctionRevertedError) as
          | ContractFunctionRevertedError
          | undefined)
      : undefined
  assert.ok(reverted, `expected revert ${errorName}, got: ${String(caught)}`)
  assert.equal(reverted.data?.errorName, errorName, `expected ${errorName}: ${reverted.message}`)
  if (args) assert.deepEqual(reverted.data?.args, args)
}

/** Moves anvil's clock forward and mines a block. */
export async function increaseTime(chain: TestChain, seconds: number): Promise<void> {
  await chain.owner.request({ method: 'evm_increaseTime', params: [seconds] } as never)
  await chain.owner.request({ method: 'evm_mine', params: [] } as never)
}

/** Deploys a contract from the test chain's owner and returns its address. */
export { deployContract, deployLinkToken } from './deploy.ts'

import { deployContract as deployContractFrom } from './deploy.ts'

/** One LINK in its smallest unit. */
export const LINK = 10n ** 18n

/** Sends `amount` LINK from the owner (who holds the supply) to `to`. */
export async function fundLink(chain: TestChain, link: Address, to: Address, amount: bigint) {
  await send(chain.owner, {
    address: link,
    abi: abis.LinkTokenAbi,
    functionName: 'transfer',
    args: [to, amount],
  })
}

/** LINK balance of `account`. */
export function linkBalance(chain: TestChain, link: Address, account: Address): Promise<bigint> {
  return chain.owner.readContract({
    address: link,
    abi: abis.LinkTokenAbi,
    functionName: 'balanceOf',
    args: [account],
  })
}

/** Deploys the example PriceConsumer asking `oracle` (an Operator or an aggregator) and gives it `funds` LINK. */
export async function deployPriceConsumer(
  chain: TestChain,
  link: Address,
  oracle: Address,
  funds: bigint,
): Promise<Address> {
  const consumer = await deployContractFrom(chain.owner, {
    name: 'PriceConsumer',
    abi: abis.PriceConsumerAbi,
    bytecode: abis.PriceConsumerBytecode,
    args: [link, oracle],
  })
  await fundLink(chain, link, consumer, funds)
  return consumer
}
