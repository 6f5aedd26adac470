import { BaseError } from '../errors.ts'

export class DecimalError extends BaseError {
  override name = 'DecimalError'
}

/** An exact decimal: `digits × 10^-scale` (scale ≥ 0). */
export class Decimal {
  readonly digits: bigint
  readonly scale: number
  constructor(digits: bigint, scale = 0) {
    this.digits = digits
    this.scale = scale
  }
  toString(): string {
    return formatDecimal(this)
  }
  toJSON(): string {
    return formatDecimal(this)
  }
}

const DECIMAL = /^([+-]?)(\d+)?(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/

/** Parses a decimal number exactly (no floating point); accepts numbers, bigints, strings. */
export function parseDecimal(value: unknown, name = 'value'): Decimal {
  if (value instanceof Decimal) return value
  if (typeof value === 'bigint') return new Decimal(value, 0)
  let text: string
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new DecimalError(`${name} is not a finite number: ${value}`)
    text = String(value)
  } else if (typeof value === 'string') {
    text = value.trim()
  } else {
    throw new DecimalError(`${name} must be a number or a numeric string, got ${typeof value}`)
  }
  const m = DECIMAL.exec(text)
  if (!m || (m[2] === undefined && m[3] === undefined)) {
    throw new DecimalError(`${name} is not a decimal number: ${JSON.stringify(text.slice(0, 64))}`)
  }
  const fraction = m[3] ?? ''
  let digits = BigInt(`${m[2] ?? '0'}${fraction}`)
  let scale = fraction.length - Number(m[4] ?? 0)
  if (Math.abs(scale) > 1000) throw new DecimalError(`${name} has an exponent out of range`)
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale)
    scale = 0
  }
  if (m[1] === '-') digits = -digits
  return new Decimal(digits, scale)
}

export function multiply(a: Decimal, b: Decimal): Decimal {
  return new Decimal(a.digits * b.digits, a.scale + b.scale)
}

/** The integer part, truncated toward zero. */
export function truncate(d: Decimal): bigint {
  return d.digits / 10n ** BigInt(d.scale)
}

export function formatDecimal(d: Decimal): string {
  const negative = d.digits < 0n
  const abs = (negative ? -d.digits : d.digits).toString().padStart(d.scale + 1, '0')
  const int = abs.slice(0, abs.length - d.scale)
  const frac = d.scale > 0 ? abs.slice(abs.length - d.scale).replace(/0+$/, '') : ''
  return `${negative ? '-' : ''}${int}${frac ? `.${frac}` : ''}`
}
