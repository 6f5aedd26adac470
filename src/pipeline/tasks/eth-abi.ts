/**
 * Shared ABI helpers of the `ethabi*`, `ethcall` and `ethtx` tasks: Chainlink's ABI strings
 * parsed into viem ABI items, and pipeline values converted to and from ABI values.
 *
 * ABI strings, as Chainlink writes them:
 * - an event signature without the `event` keyword (the keyword is accepted too):
 *   `OracleRequest(bytes32 indexed specId, address requester, ...)`;
 * - a function signature `fulfill(bytes32 requestId, bytes calldata data)` — the data
 *   locations `calldata`, `memory` and `storage` are dropped, `address payable` is `address`;
 * - a parameter list, in parentheses `(bytes32 requestId, uint256 value)` or bare
 *   `bytes32 requestId, uint256 value`.
 * Tuples are written `(uint256 a, bool b) name` or `tuple(uint256 a, bool b) name`, arrays
 * `uint256[]`, `bytes32[3]`; `uint`/`int` mean `uint256`/`int256`. Fixed-point and
 * function types are not supported; duplicate argument names are rejected.
 *
 * Value conversion (`toAbiValue`), strict on purpose — a value that does not fit is an error,
 * never silently truncated or padded:
 * - `uintN`/`intN`: Decimal, bigint, number, a decimal string or a `0x` hex string; integral and
 *   in range for the type.
 * - `address`: `0x` + 40 hex digits in any letter case (the EIP-55 checksum is not enforced) or
 *   20 bytes; the result is checksummed.
 * - `bool`: true/false or the strings "true"/"false".
 * - `bytesN`: a `0x` hex string or a Uint8Array of exactly N bytes, or (as Chainlink does) a
 *   non-hex string whose UTF-8 is exactly N bytes, such as a 32-character job id for bytes32.
 *   Shorter values are NOT zero-padded.
 * - `bytes`: a `0x` hex string, a Uint8Array, or any other string as its UTF-8.
 * - `string`: a string (or UTF-8 bytes).
 * - arrays from arrays (fixed sizes must match); tuples from an object or Map keyed by the
 *   component names, or from an array in component order.
 */
import {
  type AbiEvent,
  type AbiFunction,
  type AbiParameter,
  bytesToHex,
  decodeAbiParameters,
  encodeAbiParameters,
  getAddress,
  type Hex,
  hexToBytes,
} from 'viem'
import { BaseError } from '../../errors.ts'
import { Decimal, parseDecimal } from '../decimal.ts'
import { describe } from '../params.ts'
import { TaskError } from '../task.ts'

/** A malformed ABI string, or a value that does not fit its ABI type. */
export class EthAbiError extends BaseError {
  override name = 'EthAbiError'
}

/** An event parameter: an ABI parameter that may be indexed. */
export type EventParameter = AbiParameter & { indexed?: boolean }

// ---------------------------------------------------------------------------------------------
// Parsing ABI strings

const DATA_LOCATIONS = new Set(['calldata', 'memory', 'storage'])
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*/

/** The canonical name of an elementary type, or undefined when `word` is not one. */
function elementaryType(word: string): string | undefined {
  if (word === 'uint') return 'uint256'
  if (word === 'int') return 'int256'
  if (word === 'address' || word === 'bool' || word === 'string' || word === 'bytes') return word
  const int = /^u?int([1-9]\d*)$/.exec(word)
  if (int) {
    const bits = Number(int[1])
    return bits >= 8 && bits <= 256 && bits % 8 === 0 ? word : undefined
  }
  const bytes = /^bytes([1-9]\d*)$/.exec(word)
  if (bytes) return Number(bytes[1]) <= 32 ? word : undefined
  return undefined
}

function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text)
}

class SignatureParser {
  readonly text: string
  pos = 0

  constructor(text: string) {
    this.text = text
  }

  fail(problem: string): never {
    throw new EthAbiError(`invalid ABI ${quote(this.text)}: ${problem}`, {
      details: `at character ${Math.min(this.pos, this.text.length) + 1}`,
    })
  }

  here(): string {
    const rest = this.text.slice(this.pos)
    return rest
      ? `at ${JSON.stringify(rest.length > 24 ? `${rest.slice(0, 24)}…` : rest)}`
      : 'at the end'
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++
  }

  atEnd(): boolean {
    this.skipSpace()
    return this.pos >= this.text.length
  }

  peek(): string | undefined {
    this.skipSpace()
    return this.text[this.pos]
  }

  eat(ch: string): boolean {
    if (this.peek() !== ch) return false
    this.pos++
    return true
  }

  word(): string | undefined {
    this.skipSpace()
    const m = IDENTIFIER.exec(this.text.slice(this.pos))
    if (!m) return undefined
    this.pos += m[0].length
    return m[0]
  }

  end(): void {
    if (!this.atEnd()) this.fail(`unexpected text ${this.here()}`)
  }

  /**
   * Parameters separated by commas: up to and including `)` when `closed` (the `(` is already
   * consumed), otherwise up to the end of the text.
   */
  params(allowIndexed: boolean, closed: boolean): EventParameter[] {
    const out: EventParameter[] = []
    if (closed ? this.eat(')') : this.atEnd()) return out
    for (;;) {
      out.push(this.param(allowIndexed))
      if (this.eat(',')) continue
      if (closed) {
        if (!this.eat(')')) this.fail(`expected "," or ")" ${this.here()}`)
      } else if (!this.atEnd()) {
        this.fail(`expected "," ${this.here()}`)
      }
      break
    }
    const seen = new Set<string>()
    for (const p of out) {
      if (!p.name) continue
      if (seen.has(p.name)) this.fail(`duplicate argument name "${p.name}"`)
      seen.add(p.name)
    }
    return out
  }

  param(allowIndexed: boolean): EventParameter {
    let type: string
    let components: EventParameter[] | undefined
    if (this.eat('(')) {
      components = this.params(false, true)
      type = 'tuple'
    } else {
      const word = this.word()
      if (word === undefined) this.fail(`expected a type ${this.here()}`)
      if (word === 'tuple' && this.peek() === '(') {
        this.pos++
        components = this.params(false, true)
        type = 'tuple'
      } else {
        const elementary = elementaryType(word)
        if (elementary === undefined) {
          if (word === 'fixed' || word === 'ufixed' || /^u?fixed\d/.test(word)) {
            this.fail(`fixed-point type "${word}" is not supported`)
          }
          this.fail(`unknown type "${word}"`)
        }
        type = elementary
      }
    }
    while (this.eat('[')) {
      const m = /^\s*(\d*)\s*\]/.exec(this.text.slice(this.pos))
      if (!m) this.fail(`expected "]" or an array size ${this.here()}`)
      const size = m[1]!
      if (size !== '' && !/^[1-9]\d*$/.test(size)) this.fail(`invalid array size "${size}"`)
      type += `[${size}]`
      this.pos += m[0].length
    }
    let indexed = false
    let name: string | undefined
    for (;;) {
      const save = this.pos
      const word = this.word()
      if (word === undefined) break
      if (word === 'indexed') {
        if (!allowIndexed) {
          this.pos = save
          this.fail('"indexed" is only allowed on event parameters')
        }
        if (indexed || name !== undefined) {
          this.pos = save
          this.fail(`misplaced "indexed" ${this.here()}`)
        }
        indexed = true
      } else if (DATA_LOCATIONS.has(word) || (word === 'payable' && type === 'address')) {
        if (name !== undefined) {
          this.pos = save
          this.fail(`misplaced "${word}" ${this.here()}`)
        }
      } else if (name === undefined) {
        name = word
      } else {
        this.pos = save
        this.fail(`unexpected "${word}" after the argument name "${name}"`)
      }
    }
    const p: EventParameter = { type }
    if (name !== undefined) p.name = name
    if (components) (p as { components?: AbiParameter[] }).components = components
    if (allowIndexed) p.indexed = indexed
    return p
  }
}

function parseSafely<T>(text: unknown, fn: (parser: SignatureParser) => T): T {
  if (typeof text !== 'string')
    throw new EthAbiError(`expected an ABI string, got ${describe(text)}`)
  const parser = new SignatureParser(text)
  if (parser.atEnd()) throw new EthAbiError('the ABI string is empty')
  return fn(parser)
}

/**
 * An event signature such as `OracleRequest(bytes32 indexed specId, address requester)`, with
 * or without the `event` keyword. Anonymous events are not supported (the first topic must be
 * the signature hash); at most three parameters may be indexed.
 */
export function parseEventAbi(text: string): AbiEvent {
  return parseSafely(text, (p) => {
    let name = p.word()
    if (name === 'event' && p.peek() !== '(') name = p.word()
    if (name === undefined || p.peek() !== '(') {
      p.fail('expected an event signature such as "Transfer(address indexed from, uint256 value)"')
    }
    p.pos++
    const inputs = p.params(true, true)
    const afterParams = p.pos
    if (p.word() === 'anonymous') p.fail('anonymous events are not supported')
    p.pos = afterParams
    p.end()
    const indexed = inputs.filter((i) => i.indexed).length
    if (indexed > 3) p.fail(`an event has at most 3 indexed parameters, this one has ${indexed}`)
    return { type: 'event', name, inputs, anonymous: false } as AbiEvent
  })
}

/** What `ethabiencode` encodes: a function call (selector + arguments) or bare arguments. */
export type EncodeAbi =
  | { kind: 'function'; item: AbiFunction; inputs: readonly AbiParameter[] }
  | { kind: 'tuple'; inputs: readonly AbiParameter[] }

/**
 * A function signature `name(type name, ...)` (optionally after the `function` keyword), or a
 * parameter list `(type name, ...)` / `type name, ...` whose values are encoded without a
 * selector.
 */
export function parseEncodeAbi(text: string): EncodeAbi {
  return parseSafely(text, (p) => {
    if (p.peek() !== '(') {
      const start = p.pos
      let name = p.word()
      if (name === 'function' && p.peek() !== '(') name = p.word()
      if (name !== undefined && p.eat('(')) {
        const inputs = p.params(false, true)
        p.end()
        const item = { type: 'function', name, inputs, outputs: [], stateMutability: 'nonpayable' }
        return { kind: 'function', item: item as AbiFunction, inputs }
      }
      p.pos = start
    }
    return { kind: 'tuple', inputs: paramList(p) }
  })
}

/** A parameter list, `(type name, ...)` or bare `type name, ...` (what `ethabidecode` reads). */
export function parseParamsAbi(text: string): AbiParameter[] {
  return parseSafely(text, paramList)
}

function paramList(p: SignatureParser): AbiParameter[] {
  const start = p.pos
  if (p.eat('(')) {
    const params = p.params(false, true)
    if (p.atEnd()) return params
    // `(uint256 a, bool b) pair, ...`: the parentheses were a tuple type, not the list.
    p.pos = start
  }
  return p.params(false, false)
}

// ---------------------------------------------------------------------------------------------
// Pipeline values → ABI values

function fail(path: string, problem: string): never {
  throw new EthAbiError(`${path}: ${problem}`)
}

const HEX = /^0x(?:[0-9a-fA-F]{2})*$/

/** Bytes of a `0x` hex string or Uint8Array; undefined for other values. */
function hexOrBytes(value: unknown, path: string): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value
  if (typeof value === 'string' && /^0[xX]/.test(value)) {
    if (!HEX.test(`0x${value.slice(2)}`)) fail(path, `${describe(value)} is not valid hex`)
    return hexToBytes(`0x${value.slice(2)}`)
  }
  return undefined
}

/** An integer of `value` (Decimal, bigint, number, decimal or `0x` hex string). */
function toBigInt(value: unknown, type: string, path: string): bigint {
  if (typeof value === 'bigint') return value
  if (typeof value === 'string' && /^0[xX]/.test(value.trim())) {
    const hex = value.trim().slice(2)
    if (!/^[0-9a-fA-F]+$/.test(hex)) fail(path, `${describe(value)} is not a valid ${type}`)
    return BigInt(`0x${hex}`)
  }
  if (typeof value !== 'number' && typeof value !== 'string' && !(value instanceof Decimal)) {
    fail(path, `expected an integer for ${type}, got ${describe(value)}`)
  }
  let d: Decimal
  try {
    d = parseDecimal(value, path)
  } catch {
    fail(path, `${describe(value)} is not a valid ${type}`)
  }
  const factor = 10n ** BigInt(d.scale)
  if (d.digits % factor !== 0n) fail(path, `${d} is not an integer (${type})`)
  return d.digits / factor
}

function toInt(type: string, value: unknown, path: string): bigint {
  const n = toBigInt(value, type, path)
  const bits = BigInt(type.replace(/^u?int/, ''))
  const signed = !type.startsWith('u')
  const min = signed ? -(1n << (bits - 1n)) : 0n
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n
  if (n < min || n > max) fail(path, `${n} does not fit ${type}`)
  return n
}

function toAddress(value: unknown, path: string): Hex {
  if (value instanceof Uint8Array) {
    if (value.length !== 20) fail(path, `expected a 20-byte address, got ${value.length} bytes`)
    return getAddress(bytesToHex(value))
  }
  if (typeof value !== 'string' || !/^0[xX][0-9a-fA-F]{40}$/.test(value)) {
    fail(path, `expected a 20-byte hex address, got ${describe(value)}`)
  }
  return getAddress(`0x${value.slice(2).toLowerCase()}`)
}

function toBool(value: unknown, path: string): boolean {
  if (typeof value === 'boolean') return value
  if (value === 'true') return true
  if (value === 'false') return false
  return fail(path, `expected true or false for bool, got ${describe(value)}`)
}

function toFixedBytes(type: string, value: unknown, path: string): Hex {
  const size = Number(type.slice(5))
  let bytes = hexOrBytes(value, path)
  if (bytes === undefined) {
    if (typeof value !== 'string')
      fail(path, `expected ${size} bytes for ${type}, got ${describe(value)}`)
    bytes = new TextEncoder().encode(value)
  }
  if (bytes.length !== size)
    fail(path, `expected exactly ${size} bytes for ${type}, got ${bytes.length}`)
  return bytesToHex(bytes)
}

function toDynamicBytes(value: unknown, path: string): Hex {
  const bytes = hexOrBytes(value, path)
  if (bytes) return bytesToHex(bytes)
  if (typeof value === 'string') return bytesToHex(new TextEncoder().encode(value))
  return fail(path, `expected bytes (hex string or Uint8Array), got ${describe(value)}`)
}

function toStringValue(value: unknown, path: string): string {
  if (typeof value === 'string') return value
  if (value instanceof Uint8Array) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(value)
    } catch {
      fail(path, 'the bytes are not valid UTF-8')
    }
  }
  return fail(path, `expected a string, got ${describe(value)}`)
}

/** The field `key` of an object or Map; `has` is false when it is absent. */
function field(data: unknown, key: string): { has: boolean; value: unknown } {
  if (data instanceof Map) return { has: data.has(key), value: data.get(key) }
  if (data !== null && typeof data === 'object' && Object.hasOwn(data, key)) {
    return { has: true, value: (data as Record<string, unknown>)[key] }
  }
  return { has: false, value: undefined }
}

function isRecord(value: unknown): boolean {
  return (
    value instanceof Map ||
    (value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      !(value instanceof Uint8Array) &&
      !(value instanceof Decimal))
  )
}

/**
 * The values for `params`, in order, from an object or Map keyed by parameter name, or from
 * an array in parameter order. Each error names its path under `root` (`data.value`). Extra
 * keys are ignored, as Chainlink does.
 */
export function toAbiValues(
  params: readonly AbiParameter[],
  data: unknown,
  root: string,
): unknown[] {
  if (Array.isArray(data)) {
    if (data.length !== params.length) {
      fail(root, `expected ${params.length} values, got an array of ${data.length}`)
    }
    return params.map((p, i) => toAbiValue(p, data[i], `${root}[${i}]`))
  }
  if (!isRecord(data)) fail(root, `expected an object of arguments, got ${describe(data)}`)
  return params.map((p, i) => {
    if (!p.name)
      fail(root, `argument ${i} (${p.type}) has no name in the ABI, so it cannot be looked up`)
    const path = `${root}.${p.name}`
    const { has, value } = field(data, p.name)
    if (!has || value === undefined) fail(path, `is missing (${p.type})`)
    return toAbiValue(p, value, path)
  })
}

/** A pipeline value converted to what viem encodes for `param`; errors name `path`. */
export function toAbiValue(param: AbiParameter, value: unknown, path: string): unknown {
  const type = param.type
  const array = /^(.*)\[(\d*)\]$/.exec(type)
  if (array) {
    const inner = { ...param, type: array[1]! }
    if (!Array.isArray(value)) fail(path, `expected an array for ${type}, got ${describe(value)}`)
    if (array[2] !== '' && value.length !== Number(array[2])) {
      fail(path, `expected ${array[2]} elements for ${type}, got ${value.length}`)
    }
    return value.map((v, i) => toAbiValue(inner, v, `${path}[${i}]`))
  }
  if (type === 'tuple') {
    const components = (param as { components?: readonly AbiParameter[] }).components ?? []
    return toAbiValues(components, value, path)
  }
  if (value === null || value === undefined)
    fail(path, `expected a value for ${type}, got ${describe(value)}`)
  if (/^u?int\d+$/.test(type)) return toInt(type, value, path)
  if (type === 'address') return toAddress(value, path)
  if (type === 'bool') return toBool(value, path)
  if (type === 'bytes') return toDynamicBytes(value, path)
  if (type === 'string') return toStringValue(value, path)
  if (/^bytes\d+$/.test(type)) return toFixedBytes(type, value, path)
  return fail(path, `unsupported ABI type ${type}`)
}

// ---------------------------------------------------------------------------------------------
// ABI values → pipeline values

/**
 * A decoded viem value as a pipeline value: integers as bigint (viem gives small ones as
 * numbers), addresses checksummed, bytes as lowercase hex, tuples as objects keyed by
 * component name (arrays when a component is unnamed). viem does not check that a decoded
 * integer fits its type (it decodes the word 256 as a uint8 of 256); this does, naming `path`.
 */
export function fromAbiValue(param: AbiParameter, value: unknown, path = 'value'): unknown {
  const array = /^(.*)\[(\d*)\]$/.exec(param.type)
  if (array) {
    const inner = { ...param, type: array[1]! }
    return (value as readonly unknown[]).map((v, i) => fromAbiValue(inner, v, `${path}[${i}]`))
  }
  if (param.type === 'tuple') {
    const components = (param as { components?: readonly AbiParameter[] }).components ?? []
    const values = components.map((c, i) =>
      fromAbiValue(
        c,
        Array.isArray(value) ? value[i] : (value as Record<string, unknown>)[c.name!],
        `${path}.${c.name || i}`,
      ),
    )
    if (components.some((c) => !c.name)) return values
    return Object.fromEntries(components.map((c, i) => [c.name!, values[i]]))
  }
  if (/^u?int\d+$/.test(param.type))
    return toInt(param.type, BigInt(value as number | bigint), path)
  if (param.type === 'address') return getAddress(value as string)
  if (typeof value === 'string' && param.type.startsWith('bytes')) return value.toLowerCase()
  return value
}

/** Decoded values as a map keyed by parameter name (by position for unnamed ones). */
export function toNamedMap(
  params: readonly AbiParameter[],
  values: readonly unknown[],
): Record<string, unknown> {
  return Object.fromEntries(params.map((p, i) => [p.name || String(i), values[i]]))
}

/** Canonical type list, `uint8,(address,bool)[]`, as in signatures. */
export function formatTypes(params: readonly AbiParameter[]): string {
  return params
    .map((p) =>
      p.type.startsWith('tuple')
        ? `(${formatTypes((p as { components?: readonly AbiParameter[] }).components ?? [])})${p.type.slice(5)}`
        : p.type,
    )
    .join(',')
}

/**
 * Decodes `data` as `params` into a map keyed by parameter name. Strict: integers must fit
 * their type, and the data must be the canonical encoding of what it decodes to (no dirty
 * padding in addresses, bytesN or integers; standard offsets). Trailing bytes are allowed.
 * Errors name their path under `root`.
 */
export function decodeToMap(
  params: readonly AbiParameter[],
  data: Hex,
  root = 'data',
): Record<string, unknown> {
  const types = formatTypes(params)
  let raw: readonly unknown[]
  try {
    raw = decodeAbiParameters(params, data) as readonly unknown[]
  } catch (cause) {
    throw new EthAbiError(`${root}: does not decode as (${types})`, {
      details: cause instanceof Error ? viemMessage(cause) : String(cause),
      cause,
    })
  }
  const values = params.map((p, i) => fromAbiValue(p, raw[i], `${root}.${p.name || i}`))
  let canonical: string | undefined
  try {
    canonical = encodeAbiParameters(params, raw)
  } catch {
    canonical = undefined
  }
  if (canonical === undefined || data.slice(0, canonical.length).toLowerCase() !== canonical) {
    throw new EthAbiError(`${root}: is not a canonical ABI encoding of (${types})`, {
      details: 'a value has non-zero padding bits, or the offsets are non-standard',
    })
  }
  return toNamedMap(params, values)
}

/** Whether an indexed event parameter of this type is stored in its topic as a hash. */
export function isHashedInTopic(type: string): boolean {
  return type === 'string' || type === 'bytes' || type === 'tuple' || type.endsWith(']')
}

// ---------------------------------------------------------------------------------------------
// Parameters shared by the tasks

/** `value` as lowercase `0x` hex: a hex string (even length) or a Uint8Array; "" is empty. */
export function toHexData(name: string, value: unknown): Hex {
  if (value instanceof Uint8Array) return bytesToHex(value)
  if (value === '') return '0x'
  if (typeof value === 'string' && HEX.test(value)) return value.toLowerCase() as Hex
  if (typeof value === 'string' && /^0X/.test(value) && HEX.test(`0x${value.slice(2)}`)) {
    return `0x${value.slice(2).toLowerCase()}`
  }
  throw new TaskError(`expected 0x-prefixed hex bytes, got ${describe(value)}`, { param: name })
}

/** A 20-byte address (any letter case) as a checksummed address. */
export function toAddressParam(name: string, value: unknown): Hex {
  try {
    return toAddress(value, name)
  } catch (err) {
    throw new TaskError((err as EthAbiError).shortMessage.replace(`${name}: `, ''), { param: name })
  }
}

/**
 * Runs `fn`, turning an `EthAbiError` into a TaskError: for `param` when given (ABI strings),
 * else as is (value errors already name their path, e.g. `data.value: 256 does not fit uint8`).
 */
export function withAbiErrors<T>(fn: () => T, param?: string): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof EthAbiError) {
      throw new TaskError(err.shortMessage, {
        ...(param ? { param } : {}),
        details: err.details,
        cause: err,
      })
    }
    throw err
  }
}

/** The first line of an error's short message (viem's errors carry long help texts). */
export function viemMessage(err: Error): string {
  const short = (err as { shortMessage?: string }).shortMessage
  return (short ?? err.message).split('\n')[0]!
}
