/**
 * A commit–reveal committee on a real anvil, for the contract's tests and the benchmarks:
 * LinkToken, a CommitRevealAggregator, an aggregation function, and n oracle accounts that
 * send their own signed transactions (explicit nonce and gas, so a round of n oracles costs n
 * round trips, not 3n). Nothing is mocked.
 */
import {
  type Abi,
  type Address,
  decodeErrorResult,
  encodeFunctionData,
  type Hex,
  type TransactionReceipt,
  toHex,
} from 'viem'
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { CommitRevealAggregatorAbi } from '../../artifacts/abis.ts'
import type { ChainClient } from './client.ts'
import { type CommitRevealConfig, commitmentOf } from './commit-reveal.ts'

export { randomSalt } from './commit-reveal.ts'

import { deployCommitRevealAggregator, deployLinkToken } from './deploy.ts'
import { revertDataOf } from './revert.ts'
import { allErrorsAbi, LINK, type TestChain } from './testing.ts'

export type CommitteeConfig = CommitRevealConfig

/** A key that signs its own transactions with a locally tracked nonce. */
export type Signer = {
  account: PrivateKeyAccount
  address: Address
  /** Sends `data` to `to` and returns the mined receipt (reverted or not). */
  send(to: Address, data: Hex, gas?: bigint): Promise<TransactionReceipt>
}

const MAX_FEE = 100n * 10n ** 9n

export function createSigner(client: ChainClient, account: PrivateKeyAccount): Signer {
  let nonce: number | undefined
  return {
    account,
    address: account.address,
    async send(to, data, gas = 3_000_000n) {
      nonce ??= await client.getTransactionCount({ address: account.address, blockTag: 'pending' })
      const raw = await account.signTransaction({
        type: 'eip1559',
        chainId: client.chain.id,
        nonce,
        to,
        data,
        gas,
        maxFeePerGas: MAX_FEE,
        maxPriorityFeePerGas: 1n,
      })
      let hash: Hex
      try {
        hash = (await client.request({
          method: 'eth_sendRawTransaction',
          params: [raw],
        } as never)) as Hex
      } catch (err) {
        nonce = undefined
        throw err
      }
      nonce += 1
      return client.waitForTransactionReceipt({ hash, pollingInterval: 5 })
    },
  }
}

/** Funded accounts (anvil_setBalance) for `keys`, or for `count` new keys. */
export async function fundedSigners(
  chain: TestChain,
  count: number,
  keys: Hex[] = [],
): Promise<Signer[]> {
  const signers: Signer[] = []
  for (let i = 0; i < count; i++) {
    const account = privateKeyToAccount(keys[i] ?? generatePrivateKey())
    await chain.owner.request({
      method: 'anvil_setBalance',
      params: [account.address, toHex(10n ** 21n)],
    } as never)
    signers.push(createSigner(chain.owner, account))
  }
  return signers
}

export type Committee = {
  chain: TestChain
  chainId: number
  link: Address
  aggregator: Address
  aggregation: Address
  oracles: Signer[]
  config: CommitteeConfig
  configVersion: number
  /** Calls `functionName` on the aggregator from `signer`; the receipt may be a revert. */
  call(
    signer: Signer,
    functionName: string,
    args: readonly unknown[],
    gas?: bigint,
  ): Promise<TransactionReceipt>
  /** The commitment `oracle` sends for (roundId, value, salt) under the current config. */
  commitment(oracle: Address, roundId: bigint, value: bigint, salt: Hex): Hex
  read<T>(functionName: string, args?: readonly unknown[]): Promise<T>
  /** The custom error a call would revert with (undefined when it would succeed). */
  revertOf(
    signer: Signer,
    functionName: string,
    args: readonly unknown[],
  ): Promise<string | undefined>
}

export type DeployCommitteeParameters = {
  n: number
  f: number
  minReveals?: number
  commitWindow?: number
  revealWindow?: number
  paymentPerAnswer?: bigint
  minAnswer?: bigint
  maxAnswer?: bigint
  callbackGasLimit?: number
  agreementBps?: number
  /** Existing LinkToken; a new one by default. */
  link?: Address
  /** Feed funds to add (LINK smallest units). */
  feedFunds?: bigint
  /** The members' private keys (e.g. the keys of real nodes); new ones by default. */
  oracleKeys?: Hex[]
}

/** Deploys LinkToken (unless given), MedianAggregation(minReveals) and a configured aggregator. */
export async function deployCommittee(
  chain: TestChain,
  params: DeployCommitteeParameters,
): Promise<Committee> {
  const owner = chain.owner
  const link = params.link ?? (await deployLinkToken(owner))
  const oracles = await fundedSigners(chain, params.n, params.oracleKeys)
  const { aggregator, aggregation, config } = await deployCommitRevealAggregator(owner, {
    link,
    decimals: 8,
    description: 'ETH / USD',
    config: {
      oracles: oracles.map((o) => o.address),
      f: params.f,
      minReveals: params.minReveals ?? 2 * params.f + 1,
      commitWindow: params.commitWindow ?? 600,
      revealWindow: params.revealWindow ?? 600,
      paymentPerAnswer: params.paymentPerAnswer ?? LINK / 100n,
      minAnswer: params.minAnswer ?? 1n,
      maxAnswer: params.maxAnswer ?? 10n ** 30n,
      callbackGasLimit: params.callbackGasLimit ?? 200_000,
      agreementBps: params.agreementBps ?? 100,
    },
    ...(params.feedFunds ? { feedFunds: params.feedFunds } : {}),
  })
  const abi = [...CommitRevealAggregatorAbi, ...allErrorsAbi] as Abi
  const committee: Committee = {
    chain,
    chainId: chain.owner.chain.id,
    link,
    aggregator,
    aggregation,
    oracles,
    config,
    configVersion: 1,
    call: (signer, functionName, args, gas) =>
      signer.send(aggregator, encodeFunctionData({ abi, functionName, args }), gas),
    commitment: (oracle, roundId, value, salt) =>
      commitmentOf({
        chainId: committee.chainId,
        aggregator,
        configVersion: committee.configVersion,
        roundId,
        oracle,
        value,
        salt,
      }),
    read: (functionName, args = []) =>
      chain.owner.readContract({ address: aggregator, abi, functionName, args }) as never,
    async revertOf(signer, functionName, args) {
      try {
        await chain.owner.call({
          account: signer.address,
          to: aggregator,
          data: encodeFunctionData({ abi, functionName, args }),
        })
        return undefined
      } catch (err) {
        const data = revertDataOf(err)
        if (!data) throw err
        return decodeErrorResult({ abi, data }).errorName
      }
    },
  }
  return committee
}
