/**
 * CBOR decoder (RFC 8949) for oracle request parameters.
 *
 * Chainlink-compatible requests carry their parameters as "diet" CBOR: the entries of a map written
 * one after another without the map header (key, value, key, value, ...). `decodeDietCbor` reads
 * that form, `decodeCbor` reads one standard data item. Both are strict: truncated input, trailing
 * bytes, reserved encodings, invalid UTF-8, duplicate keys and unsupported simple values are errors,
 * and lengths, nesting depth and item counts are checked before anything is allocated.
 */
import { BaseError, type BaseErrorParameters } from '../errors.ts'

export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | undefined
  | Uint8Array
  | CborValue[]
  | { [key: string]: CborValue }

/** A malformed or unsupported CBOR input. `offset` is the byte offset where the problem starts. */
export class CborError extends BaseError {
  override name = 'CborError'
  readonly offset: number
  constructor(problem: string, offset: number, params: BaseErrorParameters = {}) {
    super(`${problem} at offset ${offset}`, params)
    this.offset = offset
  }
}

export type DecodeOptions = {
  /** Deepest allowed nesting of arrays, maps and tags. Default 64. */
  maxDepth?: number
  /** Most data items (heads, including keys, chunks and tags) in one input. Default 100 000. */
  maxItems?: number
}

const DEFAULT_MAX_DEPTH = 64
const DEFAULT_MAX_ITEMS = 100_000
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const BREAK = 0xff

const MAJOR_NAMES = [
  'unsigned integer',
  'negative integer',
  'byte string',
  'text string',
  'array',
  'map',
  'tag',
  'simple value or float',
] as const

type Head = {
  major: number
  info: number
  /** The argument: a count, length, tag number, integer or raw float bits. */
  arg: number | bigint
  /** Offset of the initial byte. */
  offset: number
}

type Chunk = { bytes: Uint8Array; offset: number }

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function toSafe(value: bigint): number | bigint {
  return value <= MAX_SAFE && value >= -MAX_SAFE ? Number(value) : value
}

function checkLimit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new BaseError(`Invalid CBOR decode option ${name}`, {
      details: `${name} must be a non-negative number, got ${String(value)}`,
    })
  }
  return value
}

function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >> 10) & 0x1f
  const mantissa = bits & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN
  return sign * (mantissa + 1024) * 2 ** (exponent - 25)
}

const HEX_DIGITS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

function bytesToBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n
  let hex = '0x'
  for (const byte of bytes) hex += HEX_DIGITS[byte]
  return BigInt(hex)
}

function describeHead(head: Head): string {
  if (head.major === 7 && head.info === 31) return 'break'
  return MAJOR_NAMES[head.major] ?? 'unknown'
}

class Decoder {
  readonly bytes: Uint8Array
  readonly view: DataView
  readonly maxDepth: number
  readonly maxItems: number
  pos = 0
  depth = 0
  items = 0

  constructor(bytes: Uint8Array, options: DecodeOptions) {
    if (!(bytes instanceof Uint8Array)) {
      throw new BaseError('CBOR input must be a Uint8Array', {
        details: `got ${typeof bytes}`,
      })
    }
    this.bytes = bytes
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.maxDepth = checkLimit('maxDepth', options.maxDepth, DEFAULT_MAX_DEPTH)
    this.maxItems = checkLimit('maxItems', options.maxItems, DEFAULT_MAX_ITEMS)
  }

  get remaining(): number {
    return this.bytes.length - this.pos
  }

  /** Throws unless `n` more bytes are available after `pos`; `offset` is where the item began. */
  need(n: number, offset: number, what: string): void {
    if (n > this.remaining) {
      throw new CborError('unexpected end of input', offset, {
        details: `${what} needs ${n} more byte(s) at offset ${this.pos}, but ${this.remaining} remain`,
      })
    }
  }

  enter(offset: number): void {
    this.depth++
    if (this.depth > this.maxDepth) {
      throw new CborError(`nesting depth exceeds the limit of ${this.maxDepth}`, offset)
    }
  }

  leave(): void {
    this.depth--
  }

  readHead(): Head {
    const offset = this.pos
    this.need(1, offset, 'a data item')
    const initial = this.bytes[this.pos++]!
    const major = initial >> 5
    const info = initial & 0x1f
    let arg: number | bigint
    if (info < 24) {
      arg = info
    } else if (info === 24) {
      this.need(1, offset, 'a 1-byte argument')
      arg = this.bytes[this.pos]!
      this.pos += 1
    } else if (info === 25) {
      this.need(2, offset, 'a 2-byte argument')
      arg = this.view.getUint16(this.pos)
      this.pos += 2
    } else if (info === 26) {
      this.need(4, offset, 'a 4-byte argument')
      arg = this.view.getUint32(this.pos)
      this.pos += 4
    } else if (info === 27) {
      this.need(8, offset, 'an 8-byte argument')
      arg = toSafe(this.view.getBigUint64(this.pos))
      this.pos += 8
    } else if (info === 31) {
      arg = 0
    } else {
      throw new CborError(
        `reserved additional information ${info} in ${MAJOR_NAMES[major]} header`,
        offset,
      )
    }
    this.items++
    if (this.items > this.maxItems) {
      throw new CborError(`too many data items (limit ${this.maxItems})`, offset)
    }
    return { major, info, arg, offset }
  }

  /** Length or count of a definite-length item, as a safe integer. */
  length(head: Head): number {
    if (typeof head.arg === 'bigint') {
      throw new CborError(
        `${MAJOR_NAMES[head.major]} length ${head.arg} exceeds the maximum safe integer`,
        head.offset,
      )
    }
    return head.arg
  }

  /** Rejects a container count that cannot fit in the input or would exceed maxItems. */
  checkCount(head: Head, count: number, itemsPerEntry: number, what: string): void {
    const needed = count * itemsPerEntry
    if (needed > this.remaining) {
      throw new CborError('unexpected end of input', head.offset, {
        details: `${what} of ${count} entries needs at least ${needed} more byte(s), but ${this.remaining} remain`,
      })
    }
    if (this.items + needed > this.maxItems) {
      throw new CborError(
        `too many data items (limit ${this.maxItems}): ${what} declares ${count} entries`,
        head.offset,
      )
    }
  }

  /** True (and consumes it) when the next byte is a break; throws when the input ends first. */
  atBreak(start: Head): boolean {
    if (this.pos >= this.bytes.length) {
      throw new CborError('unexpected end of input', start.offset, {
        details: `indefinite-length ${MAJOR_NAMES[start.major]} has no break byte`,
      })
    }
    if (this.bytes[this.pos] === BREAK) {
      this.pos++
      return true
    }
    return false
  }

  decodeItem(): CborValue {
    const head = this.readHead()
    switch (head.major) {
      case 0:
      case 1:
        return this.integer(head)
      case 2:
        return this.byteString(head)
      case 3:
        return this.textString(head)
      case 4:
        return this.array(head)
      case 5:
        return this.map(head)
      case 6:
        return this.tag(head)
      default:
        return this.simple(head)
    }
  }

  integer(head: Head): number | bigint {
    if (head.info === 31) {
      throw new CborError(
        `indefinite length is not allowed for ${MAJOR_NAMES[head.major]}`,
        head.offset,
      )
    }
    if (head.major === 0) return head.arg
    if (typeof head.arg === 'number' && head.arg < Number.MAX_SAFE_INTEGER) return -1 - head.arg
    return -1n - BigInt(head.arg)
  }

  definiteBytes(head: Head): Uint8Array {
    const n = this.length(head)
    this.need(n, head.offset, `${MAJOR_NAMES[head.major]} of length ${n}`)
    const out = this.bytes.slice(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  /** Chunks of an indefinite-length string; each must be a definite string of the same major type. */
  chunks(head: Head): Chunk[] {
    const parts: Chunk[] = []
    while (!this.atBreak(head)) {
      const chunk = this.readHead()
      if (chunk.major !== head.major || chunk.info === 31) {
        const got =
          chunk.info === 31 ? `indefinite-length ${describeHead(chunk)}` : describeHead(chunk)
        throw new CborError(
          `indefinite-length ${MAJOR_NAMES[head.major]} chunk must be a definite-length ${MAJOR_NAMES[head.major]}, got ${got}`,
          chunk.offset,
        )
      }
      parts.push({ bytes: this.definiteBytes(chunk), offset: chunk.offset })
    }
    return parts
  }

  byteString(head: Head): Uint8Array {
    if (head.info !== 31) return this.definiteBytes(head)
    const parts = this.chunks(head)
    let total = 0
    for (const part of parts) total += part.bytes.length
    const out = new Uint8Array(total)
    let at = 0
    for (const part of parts) {
      out.set(part.bytes, at)
      at += part.bytes.length
    }
    return out
  }

  utf8(bytes: Uint8Array, offset: number): string {
    try {
      return utf8.decode(bytes)
    } catch (cause) {
      throw new CborError('invalid UTF-8 in text string', offset, { cause })
    }
  }

  textString(head: Head): string {
    if (head.info !== 31) return this.utf8(this.definiteBytes(head), head.offset)
    let text = ''
    for (const part of this.chunks(head)) text += this.utf8(part.bytes, part.offset)
    return text
  }

  array(head: Head): CborValue[] {
    this.enter(head.offset)
    const out: CborValue[] = []
    if (head.info === 31) {
      while (!this.atBreak(head)) out.push(this.decodeItem())
    } else {
      const count = this.length(head)
      this.checkCount(head, count, 1, 'array')
      for (let i = 0; i < count; i++) out.push(this.decodeItem())
    }
    this.leave()
    return out
  }

  /** Reads a map key: text strings as-is, integers via String(); anything else is an error. */
  key(): { key: string; offset: number } {
    const head = this.readHead()
    let key: string
    if (head.major === 3) key = this.textString(head)
    else if (head.major === 0 || head.major === 1) key = String(this.integer(head))
    else if (head.major === 7 && head.info === 31)
      throw new CborError('unexpected break', head.offset)
    else {
      throw new CborError(
        `map key must be a text string or integer, got ${describeHead(head)}`,
        head.offset,
      )
    }
    return { key, offset: head.offset }
  }

  /** Reads one key/value entry into `target`, rejecting duplicate keys. */
  entry(target: Record<string, CborValue>): void {
    const { key, offset } = this.key()
    if (Object.hasOwn(target, key)) {
      throw new CborError(`duplicate map key ${JSON.stringify(key)}`, offset)
    }
    if (this.pos >= this.bytes.length) {
      throw new CborError('unexpected end of input', offset, {
        details: `map key ${JSON.stringify(key)} has no value`,
      })
    }
    // defineProperty so that a "__proto__" key becomes an own property, not a prototype change.
    Object.defineProperty(target, key, {
      value: this.decodeItem(),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }

  map(head: Head): Record<string, CborValue> {
    this.enter(head.offset)
    const out: Record<string, CborValue> = {}
    if (head.info === 31) {
      while (!this.atBreak(head)) this.entry(out)
    } else {
      const count = this.length(head)
      this.checkCount(head, count, 2, 'map')
      for (let i = 0; i < count; i++) this.entry(out)
    }
    this.leave()
    return out
  }

  tag(head: Head): CborValue {
    if (head.info === 31) {
      throw new CborError('indefinite length is not allowed for tag', head.offset)
    }
    this.enter(head.offset)
    const contentOffset = this.pos
    const isBignum = head.arg === 2 || head.arg === 3
    if (isBignum && this.pos < this.bytes.length && this.bytes[this.pos]! >> 5 !== 2) {
      throw new CborError(
        `bignum tag ${head.arg} must enclose a byte string, got ${MAJOR_NAMES[this.bytes[this.pos]! >> 5]}`,
        contentOffset,
      )
    }
    const content = this.decodeItem()
    this.leave()
    if (!isBignum) return content
    const magnitude = bytesToBigInt(content as Uint8Array)
    return toSafe(head.arg === 2 ? magnitude : -1n - magnitude)
  }

  simple(head: Head): CborValue {
    switch (head.info) {
      case 20:
        return false
      case 21:
        return true
      case 22:
        return null
      case 23:
        return undefined
      case 25:
        return halfToNumber(head.arg as number)
      case 26:
        return this.view.getFloat32(head.offset + 1)
      case 27:
        return this.view.getFloat64(head.offset + 1)
      case 31:
        throw new CborError('unexpected break', head.offset)
      default:
        throw new CborError(`unsupported simple value ${head.arg}`, head.offset)
    }
  }
}

/** Runs `fn`, turning a call-stack overflow (absurd maxDepth) into a CborError. */
function guarded<T>(decoder: Decoder, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof RangeError) {
      throw new CborError('input nested too deeply for the call stack', decoder.pos, { cause: err })
    }
    throw err
  }
}

/** Decodes exactly one CBOR data item; trailing bytes are an error. */
export function decodeCbor(bytes: Uint8Array, options: DecodeOptions = {}): CborValue {
  const decoder = new Decoder(bytes, options)
  return guarded(decoder, () => {
    const value = decoder.decodeItem()
    if (decoder.pos !== bytes.length) {
      throw new CborError(
        `${bytes.length - decoder.pos} trailing byte(s) after the data item`,
        decoder.pos,
      )
    }
    return value
  })
}

/**
 * Decodes "diet" CBOR: map entries (key, value, ...) without the map header, up to the end of the
 * input. Keys follow the same rules as in `decodeCbor` maps. Empty input gives `{}`. The implicit
 * map counts as one nesting level, so the result equals decoding the entries wrapped in 0xbf...0xff.
 */
export function decodeDietCbor(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): Record<string, CborValue> {
  const decoder = new Decoder(bytes, options)
  return guarded(decoder, () => {
    const out: Record<string, CborValue> = {}
    decoder.enter(0)
    while (decoder.pos < bytes.length) decoder.entry(out)
    decoder.leave()
    return out
  })
}

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48 // 0-9
  if (code >= 97 && code <= 102) return code - 87 // a-f
  if (code >= 65 && code <= 70) return code - 55 // A-F
  return -1
}

/**
 * Parses hex (optional 0x prefix) into bytes. Errors are CborErrors whose offset is the character
 * index in `hex` (0 for an odd number of digits).
 */
export function hexToBytes(hex: string): Uint8Array {
  const start = hex.startsWith('0x') || hex.startsWith('0X') ? 2 : 0
  const digits = hex.length - start
  if (digits % 2 !== 0) {
    throw new CborError(`hex string has an odd number of digits (${digits})`, 0)
  }
  const out = new Uint8Array(digits / 2)
  for (let i = 0; i < out.length; i++) {
    const at = start + 2 * i
    const hi = hexDigit(hex.charCodeAt(at))
    const lo = hexDigit(hex.charCodeAt(at + 1))
    if (hi < 0 || lo < 0) {
      const bad = hi < 0 ? at : at + 1
      throw new CborError(`invalid hex character ${JSON.stringify(hex[bad])}`, bad)
    }
    out[i] = (hi << 4) | lo
  }
  return out
}
