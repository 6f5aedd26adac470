import { hexToBytes, isHex } from 'viem'
import { BaseError } from '../errors.ts'
import { type Decimal, parseDecimal } from './decimal.ts'
import { interpolate, interpolateJson } from './interpolate.ts'
import { parseJson } from './json.ts'
import { type TaskContext, type TaskDefinition, TaskError, type TaskResult } from './task.ts'

/**
 * Typed task parameters. Each reads the raw DOT attribute, resolves `$(...)` references and
 * converts the result, throwing a `TaskError` that names the parameter when anything is wrong.
 * `defineTask` turns such throws into `{error}` results, so tasks never throw.
 */

function wrap(name: string, fn: () => unknown): unknown {
  try {
    return fn()
  } catch (err) {
    if (err instanceof TaskError) throw err
    throw new TaskError(err instanceof BaseError ? err.shortMessage : String(err), {
      param: name,
      cause: err,
    })
  }
}

/** The interpolated value of `name`, or undefined when the attribute is absent. */
export function rawParam(ctx: TaskContext, name: string): unknown {
  const raw = ctx.params[name]
  if (raw === undefined) return undefined
  return wrap(name, () => interpolate(raw, ctx.vars))
}

function required<T>(ctx: TaskContext, name: string, value: T | undefined, fallback?: T): T {
  if (value !== undefined) return value
  if (fallback !== undefined) return fallback
  throw new TaskError('is required', { param: name, details: `task ${ctx.id} (${ctx.type})` })
}

export function toText(name: string, value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value)
  if (value instanceof Uint8Array) return new TextDecoder().decode(value)
  throw new TaskError(`expected a string, got ${describe(value)}`, { param: name })
}

export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value instanceof Uint8Array) return `bytes (${value.length})`
  if (Array.isArray(value)) return `an array (${value.length})`
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value
}

export function paramString(ctx: TaskContext, name: string, fallback?: string): string {
  return toText(name, required(ctx, name, rawParam(ctx, name), fallback))
}

export function paramOptionalString(ctx: TaskContext, name: string): string | undefined {
  const v = rawParam(ctx, name)
  return v === undefined ? undefined : toText(name, v)
}

export function toDecimal(name: string, value: unknown): Decimal {
  if (typeof value === 'boolean' || value === null || value === undefined) {
    throw new TaskError(`expected a number, got ${describe(value)}`, { param: name })
  }
  return wrap(name, () => parseDecimal(value, name)) as Decimal
}

export function paramDecimal(ctx: TaskContext, name: string, fallback?: Decimal): Decimal {
  return toDecimal(name, required(ctx, name, rawParam(ctx, name) ?? fallback))
}

export function toInteger(name: string, value: unknown): bigint {
  const d = toDecimal(name, value)
  const factor = 10n ** BigInt(d.scale)
  if (d.digits % factor !== 0n)
    throw new TaskError(`expected an integer, got ${d}`, { param: name })
  return d.digits / factor
}

export function paramInteger(ctx: TaskContext, name: string, fallback?: bigint): bigint {
  return toInteger(name, required(ctx, name, rawParam(ctx, name) ?? fallback))
}

/** An optional integer parameter within [min, max]; undefined when absent or empty. */
export function paramOptionalIntegerInRange(
  ctx: TaskContext,
  name: string,
  min: bigint,
  max: bigint,
): bigint | undefined {
  const raw = rawParam(ctx, name)
  if (raw === undefined || raw === '') return undefined
  const n = toInteger(name, raw)
  if (n < min || n > max)
    throw new TaskError(`${n} is out of range [${min}, ${max}]`, { param: name })
  return n
}

export function toBool(name: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value
  if (value === 'true') return true
  if (value === 'false') return false
  throw new TaskError(`expected true or false, got ${describe(value)}`, { param: name })
}

export function paramBool(ctx: TaskContext, name: string, fallback?: boolean): boolean {
  return toBool(name, required(ctx, name, rawParam(ctx, name) ?? fallback))
}

/** Bytes from a Uint8Array, a `0x` hex string, or (any other string) its UTF-8. */
export function toBytes(name: string, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value
  if (typeof value === 'string') {
    if (value.startsWith('0x')) {
      if (!isHex(value) || value.length % 2 !== 0)
        throw new TaskError('is not valid hex', { param: name })
      return hexToBytes(value)
    }
    return new TextEncoder().encode(value)
  }
  throw new TaskError(`expected bytes, got ${describe(value)}`, { param: name })
}

export function paramBytes(ctx: TaskContext, name: string, fallback?: Uint8Array): Uint8Array {
  return toBytes(name, required(ctx, name, rawParam(ctx, name) ?? fallback))
}

/** A JSON template (`{"a": $(x)}`) resolved to a value, or an already-typed variable. */
export function paramJson(ctx: TaskContext, name: string, fallback?: unknown): unknown {
  const raw = ctx.params[name]
  if (raw === undefined) return required(ctx, name, undefined, fallback)
  return wrap(name, () => {
    const trimmed = raw.trim()
    if (/^\$\([^)]*\)$/.test(trimmed)) {
      const value = interpolate(trimmed, ctx.vars)
      return typeof value === 'string' ? parseJson(value) : value
    }
    return interpolateJson(raw, ctx.vars)
  })
}

/** A list of strings: an array value, a JSON array, or text split by `separator`. */
export function paramStringList(
  ctx: TaskContext,
  name: string,
  separator = ',',
): string[] | undefined {
  const value = rawParam(ctx, name)
  if (value === undefined) return undefined
  if (Array.isArray(value)) return value.map((v, i) => toText(`${name}[${i}]`, v))
  const text = toText(name, value)
  if (text.trim().startsWith('[')) {
    const parsed = wrap(name, () => parseJson(text))
    if (!Array.isArray(parsed)) throw new TaskError('expected a list', { param: name })
    return parsed.map((v, i) => toText(`${name}[${i}]`, v))
  }
  return text === '' ? [] : text.split(separator)
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
}

/** Milliseconds of a Go-style duration (`500ms`, `10s`, `1m30s`). */
export function parseDuration(text: string, name = 'duration'): number {
  let rest = text.trim()
  if (rest === '0') return 0
  let total = 0
  if (rest === '') throw new TaskError('is an empty duration', { param: name })
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest)
    if (!m)
      throw new TaskError(`"${text}" is not a duration like 500ms, 10s or 1m30s`, { param: name })
    total += Number(m[1]) * UNIT_MS[m[2]!]!
    rest = rest.slice(m[0].length)
  }
  return total
}

export function paramDuration(
  ctx: TaskContext,
  name: string,
  fallbackMs?: number,
): number | undefined {
  const value = rawParam(ctx, name)
  if (value === undefined) return fallbackMs
  if (typeof value === 'number' || typeof value === 'bigint') return Number(value)
  return parseDuration(toText(name, value), name)
}

/** The values of all inputs; an error if any input failed. */
export function inputValues(ctx: TaskContext): unknown[] {
  return ctx.inputs.map((input, i) => {
    if (input.error)
      throw new TaskError(`input ${i} failed: ${input.error.shortMessage}`, { cause: input.error })
    return input.value
  })
}

/** The one input's value; an error unless there is exactly one input and it succeeded. */
export function singleInput(ctx: TaskContext): unknown {
  if (ctx.inputs.length !== 1) {
    throw new TaskError(`expects exactly one input, got ${ctx.inputs.length}`, {
      details: `task ${ctx.id} (${ctx.type})`,
    })
  }
  return inputValues(ctx)[0]
}

/** Parameter `name` when given, else the single input. */
export function paramOrInput(ctx: TaskContext, name: string): unknown {
  const value = rawParam(ctx, name)
  return value === undefined ? singleInput(ctx) : value
}

/** Wraps a task's `run` so a throw becomes an `{error}` result naming the task. */
export function defineTask(def: TaskDefinition): TaskDefinition {
  return {
    ...def,
    async run(ctx: TaskContext): Promise<TaskResult> {
      try {
        return await def.run(ctx)
      } catch (err) {
        const error =
          err instanceof TaskError
            ? err
            : new TaskError(err instanceof BaseError ? err.shortMessage : String(err), {
                cause: err,
              })
        return { error }
      }
    },
  }
}
