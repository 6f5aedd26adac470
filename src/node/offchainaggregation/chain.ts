import { type Address, encodeFunctionData, getAddress, type Hex, type PublicClient } from 'viem'
import { IOracleRegistryAbi, ThresholdAggregatorAbi } from '../../../artifacts/abis.ts'
import type { SchnorrSignature } from '../../crypto/schnorr.ts'
import { BaseError } from '../../errors.ts'
import { transmitArgs } from '../../oca/aggregator.ts'
import type { Report } from '../../oca/report.ts'
import type { Txm } from '../../txm/index.ts'

/**
 * What an offchainaggregation job reads from and sends to the chain: the aggregator's state,
 * the registry entry of the node's oracle, and transactions through the transaction manager
 * (each with an idempotency key, waited for until it confirms or reverts).
 */

export class OcaJobError extends BaseError {
  override name = 'OcaJobError'
}

type Reader = Pick<PublicClient, 'readContract' | 'getCode' | 'getBlock'>

/** The deployed aggregator's configuration, or undefined while nothing is deployed there. */
export async function readAggregator(
  client: Reader,
  aggregator: Address,
): Promise<
  | {
      configDigest: Hex
      groupKey: { x: bigint; parity: number }
      bounds: { min: bigint; max: bigint }
    }
  | undefined
> {
  const code = await client.getCode({ address: aggregator })
  if (!code || code === '0x') return undefined
  const [configDigest, [x, parity], [min, max]] = await Promise.all([
    client.readContract({
      address: aggregator,
      abi: ThresholdAggregatorAbi,
      functionName: 'configDigest',
    }),
    client.readContract({
      address: aggregator,
      abi: ThresholdAggregatorAbi,
      functionName: 'groupKey',
    }),
    client.readContract({
      address: aggregator,
      abi: ThresholdAggregatorAbi,
      functionName: 'bounds',
    }),
  ])
  return { configDigest, groupKey: { x, parity }, bounds: { min, max } }
}

/** The chain's clock: the latest block's timestamp (seconds). */
export async function chainNow(client: Reader): Promise<bigint> {
  return (await client.getBlock({ blockTag: 'latest' })).timestamp
}

export async function registeredPeer(
  client: Reader,
  registry: Address,
  oracle: Address,
): Promise<{ peerId: string; addrs: string[] }> {
  const [peerId, addrs] = await client.readContract({
    address: registry,
    abi: IOracleRegistryAbi,
    functionName: 'peerOf',
    args: [oracle],
  })
  return { peerId, addrs: [...addrs] }
}

export const encodeRegister = (peerId: string, addrs: readonly string[]): Hex =>
  encodeFunctionData({ abi: IOracleRegistryAbi, functionName: 'register', args: [peerId, addrs] })

export const encodeTransmit = (report: Report, signature: SchnorrSignature): Hex =>
  encodeFunctionData({
    abi: ThresholdAggregatorAbi,
    functionName: 'transmit',
    args: transmitArgs(report, signature),
  })

/** Gas limits of the job's transactions (a transmit uses about 35k, a registration ~100k). */
export const TRANSMIT_GAS = 120_000n
export const REGISTER_GAS = 400_000n

/**
 * Sends through the transaction manager and waits until the transaction confirms (resolves with
 * its hash) or ends otherwise (throws `OcaJobError` with the revert reason or error).
 */
export async function sendAndWait(
  txm: Pick<Txm, 'enqueue' | 'get'>,
  req: { from: Address; to: Address; data: Hex; gasLimit: bigint; idempotencyKey: string },
  options: { timeoutMs: number; pollMs?: number; signal?: AbortSignal },
): Promise<Hex> {
  const { id } = await txm.enqueue({ ...req, from: getAddress(req.from) })
  const deadline = Date.now() + options.timeoutMs
  for (;;) {
    const tx = await txm.get(id)
    if (tx?.state === 'confirmed' && tx.receipt) return tx.receipt.transactionHash
    if (tx && (tx.state === 'reverted' || tx.state === 'fatal_error')) {
      throw new OcaJobError(`transaction ${req.idempotencyKey} ${tx.state.replace('_', ' ')}`, {
        details: tx.revertReason ?? tx.error ?? `transaction ${id}`,
      })
    }
    if (options.signal?.aborted)
      throw new OcaJobError('the job stopped', { details: req.idempotencyKey })
    if (Date.now() > deadline) {
      throw new OcaJobError(`transaction ${req.idempotencyKey} not confirmed in time`, {
        details: `transaction ${id} is ${tx?.state ?? 'unknown'} after ${options.timeoutMs} ms`,
      })
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 100))
  }
}
