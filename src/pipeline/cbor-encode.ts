/**
 * A small CBOR writer for the values a request carries (text, bytes, integers of any size,
 * string arrays), producing the same bytes as the Solidity `CBOR` library: shortest heads,
 * bignums as tag 2/3 over 32 bytes, indefinite-length string arrays. Used by tools, tests and
 * benchmarks that play the part of a requesting contract.
 */
export type DietValue = string | number | bigint | Uint8Array | readonly string[]

const MAX_UINT64 = 2n ** 64n - 1n

function head(out: number[], major: number, value: bigint): void {
  const m = major << 5
  if (value < 24n) out.push(m | Number(value))
  else if (value <= 0xffn) out.push(m | 24, Number(value))
  else if (value <= 0xffffn) out.push(m | 25, ...bytesOf(value, 2))
  else if (value <= 0xffffffffn) out.push(m | 26, ...bytesOf(value, 4))
  else out.push(m | 27, ...bytesOf(value, 8))
}

function bytesOf(value: bigint, size: number): number[] {
  const out: number[] = []
  for (let i = size - 1; i >= 0; i--) out.push(Number((value >> BigInt(i * 8)) & 0xffn))
  return out
}

function integer(out: number[], value: bigint): void {
  if (value >= 0n) {
    if (value <= MAX_UINT64) head(out, 0, value)
    else out.push(0xc2, 0x58, 0x20, ...bytesOf(value, 32))
  } else {
    const magnitude = -1n - value
    if (magnitude <= MAX_UINT64) head(out, 1, magnitude)
    else out.push(0xc3, 0x58, 0x20, ...bytesOf(magnitude, 32))
  }
}

function text(out: number[], value: string): void {
  const bytes = new TextEncoder().encode(value)
  head(out, 3, BigInt(bytes.length))
  out.push(...bytes)
}

/** Diet CBOR (map entries without the map header) for `entries`, in their order. */
export function encodeDietCbor(entries: Record<string, DietValue>): Uint8Array {
  const out: number[] = []
  for (const [key, value] of Object.entries(entries)) {
    text(out, key)
    if (typeof value === 'string') text(out, value)
    else if (typeof value === 'number' || typeof value === 'bigint') integer(out, BigInt(value))
    else if (value instanceof Uint8Array) {
      head(out, 2, BigInt(value.length))
      out.push(...value)
    } else {
      out.push(0x9f)
      for (const s of value) text(out, s)
      out.push(0xff)
    }
  }
  return Uint8Array.from(out)
}
