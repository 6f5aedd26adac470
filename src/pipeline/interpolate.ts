import { bytesToHex } from 'viem'
import { BaseError } from '../errors.ts'
import { Decimal } from './decimal.ts'
import { JsonError, parseJson, stringifyJson } from './json.ts'
import type { Vars } from './vars.ts'

export class InterpolationError extends BaseError {
  override name = 'InterpolationError'
}

const VAR = /\$\(\s*([A-Za-z0-9_.-]+)\s*\)/g
const WHOLE_VAR = /^\$\(\s*([A-Za-z0-9_.-]+)\s*\)$/

/** Text of a value when it is spliced into a string. */
export function valueToString(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean')
    return String(value)
  if (value instanceof Decimal) return value.toString()
  if (value instanceof Uint8Array) return bytesToHex(value)
  if (value === null || value === undefined) return ''
  return stringifyJson(value)
}

/** The variable names referenced in a template. */
export function referencedVars(text: string): string[] {
  return [...text.matchAll(VAR)].map((m) => m[1]!)
}

/**
 * Resolves `$(path)` references. A template that is exactly one reference yields the
 * variable's value unchanged (a number stays a number, bytes stay bytes); otherwise each
 * reference is replaced by its text.
 */
export function interpolate(text: string, vars: Vars): unknown {
  const whole = WHOLE_VAR.exec(text)
  if (whole) return vars.get(whole[1]!)
  if (!text.includes('$(')) return text
  return text.replace(VAR, (_m, path: string) => valueToString(vars.get(path)))
}

/**
 * Resolves a JSON template such as `{"id": $(decode_log.requestId), "url": "$(url)"}`:
 * references outside strings, or making up a whole string, are replaced by their values with
 * their types; references inside a longer string are spliced in as text.
 */
export function interpolateJson(text: string, vars: Vars): unknown {
  const values: unknown[] = []
  let out = ''
  let i = 0
  while (i < text.length) {
    const ch = text[i]!
    if (ch === '"') {
      // Copy a JSON string, resolving references inside it.
      let j = i + 1
      let raw = ''
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\') {
          raw += text.slice(j, j + 2)
          j += 2
        } else {
          raw += text[j]
          j++
        }
      }
      if (j >= text.length) throw new InterpolationError('unterminated string in JSON template')
      const whole = WHOLE_VAR.exec(raw)
      if (whole) {
        values.push(vars.get(whole[1]!))
        out += `"\\u0000${values.length - 1}"`
      } else if (raw.includes('$(')) {
        const spliced = raw.replace(VAR, (_m, path: string) =>
          JSON.stringify(valueToString(vars.get(path))).slice(1, -1),
        )
        out += `"${spliced}"`
      } else {
        out += `"${raw}"`
      }
      i = j + 1
    } else if (ch === '$' && text[i + 1] === '(') {
      const m = /^\$\(\s*([A-Za-z0-9_.-]+)\s*\)/.exec(text.slice(i))
      if (!m)
        throw new InterpolationError(
          `malformed variable reference at offset ${i} of the JSON template`,
        )
      values.push(vars.get(m[1]!))
      out += `"\\u0000${values.length - 1}"`
      i += m[0].length
    } else {
      out += ch
      i++
    }
  }
  let parsed: unknown
  try {
    parsed = parseJson(out)
  } catch (cause) {
    throw new InterpolationError('the JSON template is not valid JSON', {
      cause,
      details: cause instanceof JsonError ? cause.details : undefined,
    })
  }
  return substitute(parsed, values)
}

function substitute(value: unknown, values: unknown[]): unknown {
  if (typeof value === 'string' && value.startsWith('\u0000')) return values[Number(value.slice(1))]
  if (Array.isArray(value)) return value.map((v) => substitute(v, values))
  if (value !== null && typeof value === 'object' && !(value instanceof Decimal)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, {
        value: substitute(v, values),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return out
  }
  return value
}
