import { type Abi, type Address, type Hex, numberToHex } from 'viem'
import { contractErrorsAbi } from '../chain/errors-abi.ts'
import { decodeRevertData, revertDataOf } from '../chain/revert.ts'
import type { TxmClient } from './rpc.ts'

export { decodeRevertData, revertDataOf } from '../chain/revert.ts'
export { contractErrorsAbi }

export type RevertReasonParameters = {
  from: Address
  to: Address
  data: Hex
  value: bigint
  gasLimit: bigint
  /** The block of the reverted receipt. */
  blockNumber: bigint
  abi?: Abi | undefined
}

/**
 * Re-runs a reverted transaction with `eth_call` at its receipt's block (then at the block
 * before, whose state the transaction started from) and decodes the revert. `null` when
 * neither call reverts or the node gives no revert data.
 */
export async function revertReason(
  client: TxmClient,
  params: RevertReasonParameters,
): Promise<string | null> {
  const call = {
    from: params.from,
    to: params.to,
    data: params.data,
    value: numberToHex(params.value),
    gas: numberToHex(params.gasLimit),
  }
  const blocks = [params.blockNumber, params.blockNumber - 1n].filter((b) => b >= 0n)
  for (const block of blocks) {
    try {
      await client.request({ method: 'eth_call', params: [call, numberToHex(block)] })
    } catch (err) {
      const data = revertDataOf(err)
      if (data !== undefined) return decodeRevertData(data, params.abi)
      const text = String((err as { details?: unknown })?.details ?? '')
      if (/revert/i.test(text)) return text.slice(0, 300)
    }
  }
  return null
}
