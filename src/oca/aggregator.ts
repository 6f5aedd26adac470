import type { Address, Hex, PublicClient, WalletClient } from 'viem'
import { ThresholdAggregatorAbi } from '../../artifacts/abis.ts'
import { revertErrorName } from '../chain/revert.ts'
import type { SchnorrSignature } from '../crypto/schnorr.ts'
import { BaseError } from '../errors.ts'
import type { Report } from './report.ts'

/**
 * The OCA member's two reads and writes of a ThresholdAggregator: its latest round (fallback
 * transmitters stand down once the round is there) and `transmit`. The node sends through its
 * transaction manager; `sendTransmit` is the plain viem path (tests, tools).
 */

export class TransmitError extends BaseError {
  override name = 'TransmitError'
}

type Reader = Pick<PublicClient, 'readContract'>

/** The aggregator's latest round and answer; round 0 and no answer before its first. */
export type FeedState = {
  round: number
  answer: bigint | undefined
  updatedAt: bigint | undefined
}

/** `latestRoundData`, with its NoDataPresent revert (no round yet) read as round 0. */
export async function readFeed(client: Reader, aggregator: Address): Promise<FeedState> {
  try {
    const [roundId, answer, , updatedAt] = await client.readContract({
      address: aggregator,
      abi: ThresholdAggregatorAbi,
      functionName: 'latestRoundData',
    })
    return { round: Number(roundId), answer, updatedAt }
  } catch (err) {
    if (revertErrorName(err) === 'NoDataPresent')
      return { round: 0, answer: undefined, updatedAt: undefined }
    throw err
  }
}

/** The aggregator's latest round, 0 before its first. */
export async function readLatestRound(client: Reader, aggregator: Address): Promise<number> {
  return (await readFeed(client, aggregator)).round
}

/** `transmit(round, answer, observationsHash, s, nonceAddress)` arguments of a signed report. */
export function transmitArgs(report: Report, signature: SchnorrSignature) {
  return [
    report.round,
    report.answer,
    report.observationsHash,
    signature.s,
    signature.nonceAddress,
  ] as const
}

/** Sends `transmit` from a wallet client and waits for it; throws `TransmitError` if it reverted. */
export async function sendTransmit(
  client: WalletClient & Pick<PublicClient, 'waitForTransactionReceipt'>,
  aggregator: Address,
  report: Report,
  signature: SchnorrSignature,
  options: { gas?: bigint } = {},
): Promise<Hex> {
  const hash = await client.writeContract({
    address: aggregator,
    abi: ThresholdAggregatorAbi,
    functionName: 'transmit',
    args: transmitArgs(report, signature),
    gas: options.gas ?? 100_000n,
    account: client.account!,
    chain: client.chain,
  })
  const receipt = await client.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success')
    throw new TransmitError(`transmit of round ${report.round} reverted`, {
      details: `transaction ${hash}`,
    })
  return hash
}
