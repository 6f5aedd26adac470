import {
  type Abi,
  ContractFunctionRevertedError,
  decodeErrorResult,
  type Hex,
  isHex,
  stringify,
  BaseError as ViemBaseError,
} from 'viem'
import { contractErrorsAbi } from './errors-abi.ts'

/** Revert data: finding it in a client's error, and saying what it means. */

/** What Solidity's Panic(uint256) codes mean. */
export const PANIC_CODES: Record<number, string> = {
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

/** The name of the custom error a contract read reverted with, if it did (viem's error chain). */
export function revertErrorName(err: unknown): string | undefined {
  if (!(err instanceof ViemBaseError)) return undefined
  const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError) as
    | ContractFunctionRevertedError
    | undefined
  return reverted?.data?.errorName
}
