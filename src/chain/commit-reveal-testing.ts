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
import {
  CommitRevealAggregatorAbi,
  CommitRevealAggregatorBytecode,
  LinkTokenAbi,
  LinkTokenBytecode,
  MedianAggregationAbi,
  MedianAggregationBytecode,
} from '../../artifacts/abis.ts'
import type { ChainClient } from './client.ts'
import { commitmentOf } from './commit-reveal.ts'
import { deployContract } from './deploy.ts'
import { allErrorsAbi, LINK, send, type TestChain } from './testing.ts'

export type CommitteeConfig = {
  oracles: Address[]
  f: number
  minReveals: number
  commitWindow: number
  revealWindow: number
  paymentPerAnswer: bigint
  minAnswer: bigint
  maxAnswer: bigint
  aggregation: Address
  callbackGasLimit: number
  agreementBps: number
}

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
  const link =
    params.link ??
    (await deployContract(owner, {
      name: 'LinkToken',
      abi: LinkTokenAbi,
      bytecode: LinkTokenBytecode,
      args: [],
    }))
  const minReveals = params.minReveals ?? 2 * params.f + 1
  const aggregation = await deployContract(owner, {
    name: 'MedianAggregation',
    abi: MedianAggregationAbi,
    bytecode: MedianAggregationBytecode,
    args: [BigInt(minReveals)],
  })
  const aggregator = await deployContract(owner, {
    name: 'CommitRevealAggregator',
    abi: CommitRevealAggregatorAbi,
    bytecode: CommitRevealAggregatorBytecode,
    args: [link, owner.account.address, 8, 'ETH / USD'],
  })
  const oracles = await fundedSigners(chain, params.n, params.oracleKeys)
  const config: CommitteeConfig = {
    oracles: oracles.map((o) => o.address),
    f: params.f,
    minReveals,
    commitWindow: params.commitWindow ?? 600,
    revealWindow: params.revealWindow ?? 600,
    paymentPerAnswer: params.paymentPerAnswer ?? LINK / 100n,
    minAnswer: params.minAnswer ?? 1n,
    maxAnswer: params.maxAnswer ?? 10n ** 30n,
    aggregation,
    callbackGasLimit: params.callbackGasLimit ?? 200_000,
    agreementBps: params.agreementBps ?? 100,
  }
  await send(owner, {
    address: aggregator,
    abi: CommitRevealAggregatorAbi,
    functionName: 'setConfig',
    args: [config],
  })
  if (params.feedFunds) {
    await send(owner, {
      address: link,
      abi: LinkTokenAbi,
      functionName: 'transferAndCall',
      args: [aggregator, params.feedFunds, '0x'],
    })
  }
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
        const data = revertData(err)
        if (!data) throw err
        return decodeErrorResult({ abi, data }).errorName
      }
    },
  }
  return committee
}

function revertData(err: unknown): Hex | undefined {
  let e: unknown = err
  while (e && typeof e === 'object') {
    const data = (e as { data?: unknown }).data
    if (typeof data === 'string' && data.startsWith('0x')) return data as Hex
    if (data && typeof data === 'object' && typeof (data as { data?: unknown }).data === 'string') {
      return (data as { data: Hex }).data
    }
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

/** A random 32-byte salt. */
export function randomSalt(): Hex {
  return toHex(crypto.getRandomValues(new Uint8Array(32)))
}
