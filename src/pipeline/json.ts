import { bytesToHex } from 'viem'
import { BaseError } from '../errors.ts'
import { Decimal, parseDecimal } from './decimal.ts'

export class JsonError extends BaseError {
  override name = 'JsonError'
}

/** A number literal a float may not hold exactly: an exponent, or 16+ digits. */
const LOSSY_NUMBER = /\d[eE]|[\d.]{16,}/

type Reviver = (
  this: unknown,
  key: string,
  value: unknown,
  context?: { source?: string },
) => unknown

/**
 * Parses JSON without losing precision: integers beyond 2^53 become bigints, and a decimal
 * literal that a float cannot hold exactly (e.g. `0.1000000000000000055`) becomes a Decimal.
 * Other numbers stay numbers.
 */
export function parseJson(text: string): unknown {
  const reviver: Reviver = (_key, value, context) => {
    if (typeof value !== 'number' || context?.source === undefined) return value
    const source = context.source
    if (/^-?\d+$/.test(source)) return Number.isSafeInteger(value) ? value : BigInt(source)
    if (Number.isFinite(value) && String(value) === canonical(source)) return value
    return parseDecimal(source)
  }
  try {
    // Fast path: with no exponent and no number of 16 or more digits, every number literal
    // is held exactly by a float (as its shortest form), so no reviver is needed.
    if (!LOSSY_NUMBER.test(text)) return JSON.parse(text)
    return JSON.parse(text, reviver as Parameters<typeof JSON.parse>[1])
  } catch (cause) {
    throw new JsonError('invalid JSON', {
      cause,
      details: cause instanceof Error ? cause.message : undefined,
    })
  }
}

/** The shortest form of a numeric literal, to compare with `String(number)`. */
function canonical(source: string): string {
  try {
    return parseDecimal(source).toString()
  } catch {
    return source
  }
}

/** `JSON.rawJSON` (Node ≥ 21): lets an exact number through `JSON.stringify` unquoted. */
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON

/**
 * JSON text of a pipeline value: bigints and Decimals as exact JSON numbers, bytes as `0x`
 * hex strings, Maps as objects.
 */
export function stringifyJson(value: unknown): string {
  return JSON.stringify(toJsonable(value)) ?? 'null'
}

function toJsonable(value: unknown): unknown {
  if (typeof value === 'bigint' || value instanceof Decimal) return rawJSON(value.toString())
  if (value instanceof Uint8Array) return bytesToHex(value)
  if (value instanceof Map) {
    return Object.fromEntries([...value].map(([k, v]) => [String(k), toJsonable(v)]))
  }
  if (Array.isArray(value)) return value.map(toJsonable)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonable(v)]))
  }
  return value
}
