import { type Address, encodeFunctionData, type Hex, type PublicClient } from 'viem'
import { AggregatorV3InterfaceAbi, ICommitRevealAggregatorAbi } from '../../../artifacts/abis.ts'
import {
  type CommitRevealConfig,
  ROUND_STATUS,
  type RoundStatusName,
} from '../../chain/commit-reveal.ts'
import { decodeRevertData, revertDataOf, revertErrorName } from '../../chain/revert.ts'

/**
 * What a commitreveal job reads from a CommitRevealAggregator
 * (`contracts/interfaces/ICommitRevealAggregator.sol`, `AggregatorV3Interface.sol`) and the
 * calldata it sends to it. Reads go to the node's current healthy RPC endpoint.
 */

export const AGGREGATOR_ABI = [...ICommitRevealAggregatorAbi, ...AggregatorV3InterfaceAbi] as const

export type AggregatorConfig = CommitRevealConfig & { version: number }

export type AggregatorRound = {
  status: RoundStatusName
  isFeed: boolean
  configVersion: number
  startedAt: bigint
  commitDeadline: bigint
  revealDeadline: bigint
  commitBitmap: number
  revealBitmap: number
  revealsOpen: boolean
  answer: bigint
  updatedAt: bigint
}

export type AggregatorReader = {
  latestConfig(aggregator: Address): Promise<AggregatorConfig>
  getRound(aggregator: Address, roundId: bigint): Promise<AggregatorRound>
  /** The feed's latest answer; undefined before the first (`NoDataPresent`). */
  latestAnswer(
    aggregator: Address,
  ): Promise<{ roundId: bigint; answer: bigint; updatedAt: bigint } | undefined>
  latestFeedRoundId(aggregator: Address): Promise<bigint>
  /** The latest block's timestamp: the contract's clock. */
  now(): Promise<bigint>
  /**
   * Runs `data` as an `eth_call` from `from`: undefined when it would succeed, else the revert
   * in words (e.g. `FeedRoundInProgress(3)`).
   */
  wouldRevert(aggregator: Address, from: Address, data: Hex): Promise<string | undefined>
}

export function createAggregatorReader(
  client: () => PublicClient | Promise<PublicClient>,
): AggregatorReader {
  const read = async <T>(aggregator: Address, functionName: string, args: unknown[] = []) =>
    (await (
      await client()
    ).readContract({
      address: aggregator,
      abi: AGGREGATOR_ABI,
      functionName,
      args,
    } as never)) as T

  return {
    async latestConfig(aggregator) {
      // viem returns uint8–uint32 as numbers and wider integers as bigints: the fields are
      // CommitRevealConfig's already.
      const [version, c] = await read<
        [number, Omit<CommitRevealConfig, 'oracles'> & { oracles: readonly Address[] }]
      >(aggregator, 'latestConfig')
      return { ...c, version, oracles: [...c.oracles] }
    },
    async getRound(aggregator, roundId) {
      const r = await read<{
        status: number
        isFeed: boolean
        configVersion: number
        startedAt: number
        commitDeadline: number
        revealDeadline: number
        commitBitmap: number
        revealBitmap: number
        revealsOpen: boolean
        answer: bigint
        updatedAt: number
      }>(aggregator, 'getRound', [roundId])
      return {
        status: ROUND_STATUS[r.status] ?? 'None',
        isFeed: r.isFeed,
        configVersion: Number(r.configVersion),
        startedAt: BigInt(r.startedAt),
        commitDeadline: BigInt(r.commitDeadline),
        revealDeadline: BigInt(r.revealDeadline),
        commitBitmap: Number(r.commitBitmap),
        revealBitmap: Number(r.revealBitmap),
        revealsOpen: r.revealsOpen,
        answer: r.answer,
        updatedAt: BigInt(r.updatedAt),
      }
    },
    async latestAnswer(aggregator) {
      try {
        const [roundId, answer, , updatedAt] = await read<[bigint, bigint, bigint, bigint, bigint]>(
          aggregator,
          'latestRoundData',
        )
        return { roundId, answer, updatedAt }
      } catch (err) {
        if (revertErrorName(err) === 'NoDataPresent') return undefined
        throw err
      }
    },
    latestFeedRoundId: (aggregator) => read<bigint>(aggregator, 'latestFeedRoundId'),
    async now() {
      const block = await (await client()).getBlock({ blockTag: 'latest' })
      return block.timestamp
    },
    async wouldRevert(aggregator, from, data) {
      try {
        await (await client()).call({ account: from, to: aggregator, data })
        return undefined
      } catch (err) {
        const revert = revertDataOf(err)
        if (revert === undefined) throw err
        return decodeRevertData(revert)
      }
    },
  }
}

export const encodeCommit = (roundId: bigint, commitment: Hex): Hex =>
  encodeFunctionData({ abi: AGGREGATOR_ABI, functionName: 'commit', args: [roundId, commitment] })

export const encodeReveal = (roundId: bigint, value: bigint, salt: Hex): Hex =>
  encodeFunctionData({ abi: AGGREGATOR_ABI, functionName: 'reveal', args: [roundId, value, salt] })

export const encodeSettle = (roundId: bigint): Hex =>
  encodeFunctionData({ abi: AGGREGATOR_ABI, functionName: 'settle', args: [roundId] })

export const encodeStartFeedRound = (): Hex =>
  encodeFunctionData({ abi: AGGREGATOR_ABI, functionName: 'startFeedRound' })
