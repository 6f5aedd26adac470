import {
  type Abi,
  type Address,
  decodeErrorResult,
  type Hex,
  isHex,
  numberToHex,
  stringify,
} from 'viem'
import * as abis from '../../artifacts/abis.ts'
import type { TxmClient } from './rpc.ts'

/** Every custom error of every Orakel contract, so reverts decode wherever they come from. */
export const contractErrorsAbi: Abi = (() => {
  const seen = new Set<string>()
  const out: Abi[number][] = []
  for (const [name, value] of Object.entries(abis)) {
    if (!name.endsWith('Abi')) continue
    for (const item of value as Abi) {
      if (item.type !== 'error') continue
      const key = `${item.name}(${item.inputs.map((i) => i.type).join(',')})`
      if (seen.has(key)) continue
      seen.add(key)
      out.push(item)
    }
  }
  return out
})()

const PANIC_CODES: Record<number, string> = {
  1: 'assertion failed',
  17: 'arithmetic underflow or overflow',
  18: 'division by zero',
  33: 'invalid enum value',
  34: 'invalid storage byte array',
  49: 'pop on an empty array',
  50: 'array index out of bounds',
  65: 'out of memory',
  81: 'call to a zero-initialised function',
}

/**
 * Revert data in words: `Error(string)` as its message, `Panic(uint256)` as `panic 0x11
 * (arithmetic underflow or overflow)`, a known custom error as `Name(arg, ...)`, anything else
 * as its hex.
 */
export function decodeRevertData(data: Hex, abi: Abi = contractErrorsAbi): string {
  if (data === '0x') return 'reverted without a reason'
  try {
    const decoded = decodeErrorResult({ abi, data })
    if (decoded.errorName === 'Error') return String(decoded.args?.[0] ?? '')
    if (decoded.errorName === 'Panic') {
      const code = Number(decoded.args?.[0] ?? 0)
      return `panic 0x${code.toString(16).padStart(2, '0')}${PANIC_CODES[code] ? ` (${PANIC_CODES[code]})` : ''}`
    }
    const args = (decoded.args ?? []).map((a) =>
      typeof a === 'string' ||
      typeof a === 'bigint' ||
      typeof a === 'number' ||
      typeof a === 'boolean'
        ? String(a)
        : stringify(a),
    )
    return `${decoded.errorName}(${args.join(', ')})`
  } catch {
    return data
  }
}

/** The revert data carried by an `eth_call` error, wherever the client put it. */
export function revertDataOf(err: unknown): Hex | undefined {
  const seen = new Set<unknown>()
  let e: unknown = err
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e)
    const o = e as { data?: unknown; cause?: unknown }
    if (typeof o.data === 'string' && isHex(o.data)) return o.data
    const inner = (o.data as { data?: unknown } | undefined)?.data
    if (typeof inner === 'string' && isHex(inner)) return inner
    e = o.cause
  }
  return undefined
}

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
