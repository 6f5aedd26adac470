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

/** The aggregator's latest round, 0 before its first (`latestRoundData` reverts NoDataPresent). */
export async function readLatestRound(client: Reader, aggregator: Address): Promise<number> {
  try {
    const [roundId] = await client.readContract({
      address: aggregator,
      abi: ThresholdAggregatorAbi,
      functionName: 'latestRoundData',
    })
    return Number(roundId)
  } catch (err) {
    if (revertErrorName(err) === 'NoDataPresent') return 0
    throw err
  }
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
