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

/**
 * Sanity bounds. Exact arithmetic on bigints has no overflow, so without limits a job spec could
 * make the node allocate (and multiply) numbers with millions of digits.
 *
 * - `parseDecimal` is the generic parser: it rejects more than `MAX_PARSE_DIGITS` significant
 *   digits in the literal and exponents that move the point more than `MAX_SCALE` places (so
 *   `1e1000` still parses, `1e1001` does not). A literal therefore never exceeds ~2000 digits.
 * - Arithmetic on pipeline values is bounded tighter by `checkMagnitude`: |value| < 10^400, i.e.
 *   at most `MAX_INTEGER_DIGITS` (400) digits before the point. That is far beyond any on-chain
 *   quantity (uint256 has 78 digits) even after scaling by 10^18 a few times, yet rejects
 *   overflow-style inputs such as `"1e400"` (the string; the JS number `1e400` is Infinity and
 *   fails as not finite). The pipeline's numeric tasks check their operands and their results.
 */
export const MAX_SCALE = 1000
export const MAX_PARSE_DIGITS = 1000
export const MAX_INTEGER_DIGITS = 400
const MAGNITUDE_LIMIT = 10n ** BigInt(MAX_INTEGER_DIGITS)

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
  if ((m[2] ?? '').replace(/^0+/, '').length + fraction.length > MAX_PARSE_DIGITS) {
    throw new DecimalError(`${name} has too many digits (more than ${MAX_PARSE_DIGITS})`)
  }
  let digits = BigInt(`${m[2] ?? '0'}${fraction}`)
  let scale = fraction.length - Number(m[4] ?? 0)
  if (Math.abs(scale) > MAX_SCALE) throw new DecimalError(`${name} has an exponent out of range`)
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

const pow10 = (n: number): bigint => 10n ** BigInt(n)
const absBig = (n: bigint): bigint => (n < 0n ? -n : n)

/** `a` and `b` with a common scale: `[aDigits, bDigits, scale]`. */
function align(a: Decimal, b: Decimal): [bigint, bigint, number] {
  if (a.scale === b.scale) return [a.digits, b.digits, a.scale]
  if (a.scale > b.scale) return [a.digits, b.digits * pow10(a.scale - b.scale), a.scale]
  return [a.digits * pow10(b.scale - a.scale), b.digits, b.scale]
}

export function add(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = align(a, b)
  return new Decimal(x + y, scale)
}

export function subtract(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = align(a, b)
  return new Decimal(x - y, scale)
}

/** -1, 0 or 1 as `a` is less than, equal to or greater than `b` (by value, whatever the scales). */
export function compare(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const [x, y] = align(a, b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** `n / d` rounded half away from zero (`d` ≠ 0). */
function divRound(n: bigint, d: bigint): bigint {
  const q = n / d
  const r = n % d
  if (r === 0n || 2n * absBig(r) < absBig(d)) return q
  return n < 0n === d < 0n ? q + 1n : q - 1n
}

function checkPlaces(places: number, what: string): void {
  if (!Number.isSafeInteger(places) || Math.abs(places) > MAX_SCALE) {
    throw new DecimalError(
      `${what} must be an integer between -${MAX_SCALE} and ${MAX_SCALE}, got ${places}`,
    )
  }
}

/**
 * `a / b` rounded half away from zero to `precision` decimal places (a negative precision rounds
 * to tens, hundreds, ...). Division by zero is a DecimalError.
 */
export function divide(a: Decimal, b: Decimal, precision: number): Decimal {
  if (b.digits === 0n) throw new DecimalError('division by zero')
  checkPlaces(precision, 'precision')
  // a/b = (a.digits · 10^b.scale) / (b.digits · 10^a.scale); scale the quotient by 10^precision.
  if (precision >= 0) {
    const n = a.digits * pow10(b.scale + precision)
    const d = b.digits * pow10(a.scale)
    return new Decimal(divRound(n, d), precision)
  }
  const n = a.digits * pow10(b.scale)
  const d = b.digits * pow10(a.scale - precision)
  return new Decimal(divRound(n, d) * pow10(-precision), 0)
}

function gcd(a: bigint, b: bigint): bigint {
  let x = absBig(a)
  let y = absBig(b)
  while (y !== 0n) [x, y] = [y, x % y]
  return x
}

/**
 * The exact quotient `a / b` when its decimal expansion terminates within `maxScale` places (the
 * reduced denominator has no prime factors but 2 and 5), else undefined. Division by zero is a
 * DecimalError.
 */
export function divideExact(a: Decimal, b: Decimal, maxScale = MAX_SCALE): Decimal | undefined {
  if (b.digits === 0n) throw new DecimalError('division by zero')
  const n = a.digits * pow10(b.scale)
  let d = b.digits * pow10(a.scale)
  d = absBig(d / gcd(n, d))
  let twos = 0
  let fives = 0
  while (d % 2n === 0n) {
    d /= 2n
    twos++
  }
  while (d % 5n === 0n) {
    d /= 5n
    fives++
  }
  const scale = Math.max(twos, fives)
  if (d !== 1n || scale > maxScale) return undefined
  return normalize(divide(a, b, scale))
}

/** `d` rounded half away from zero to `places` decimal places (negative: to tens, hundreds, ...). */
export function round(d: Decimal, places: number): Decimal {
  checkPlaces(places, 'places')
  if (d.scale <= places) return d
  if (places >= 0) return new Decimal(divRound(d.digits, pow10(d.scale - places)), places)
  return new Decimal(divRound(d.digits, pow10(d.scale - places)) * pow10(-places), 0)
}

/** The same value with trailing fractional zeros stripped (zero becomes `0`, scale 0). */
export function normalize(d: Decimal): Decimal {
  if (d.digits === 0n) return d.scale === 0 ? d : new Decimal(0n, 0)
  let digits = d.digits
  let scale = d.scale
  while (scale > 0 && digits % 10n === 0n) {
    digits /= 10n
    scale--
  }
  return scale === d.scale ? d : new Decimal(digits, scale)
}

export function isInteger(d: Decimal): boolean {
  return d.scale === 0 || d.digits % pow10(d.scale) === 0n
}

/**
 * The exact value of a finite JS number, i.e. of its binary double: `fromNumberExact(0.1)` is
 * 0.1000000000000000055511151231257827021181583404541015625. (`parseDecimal(0.1)` instead reads
 * the shortest decimal that round-trips, `0.1`.) NaN and ±Infinity are DecimalErrors.
 */
export function fromNumberExact(n: number, name = 'value'): Decimal {
  if (!Number.isFinite(n)) throw new DecimalError(`${name} is not a finite number: ${n}`)
  // Doubling a double is exact (no overflow: a non-integer double is below 2^53), and at most
  // 1074 doublings make any finite double an integer.
  let m = n
  let k = 0
  while (!Number.isInteger(m)) {
    m *= 2
    k++
  }
  // m / 2^k = m · 5^k / 10^k
  return normalize(new Decimal(BigInt(m) * 5n ** BigInt(k), k))
}

/** Throws a DecimalError naming `name` unless |d| < 10^MAX_INTEGER_DIGITS; returns `d`. */
export function checkMagnitude(d: Decimal, name = 'value'): Decimal {
  const integer = absBig(d.digits) / pow10(d.scale)
  if (integer >= MAGNITUDE_LIMIT) {
    throw new DecimalError(
      `${name} is out of range (more than ${MAX_INTEGER_DIGITS} integer digits)`,
    )
  }
  return d
}

/**
 * The exact median of a non-empty list: the middle value, or with an even count the mean of the
 * two middle values (halving adds at most one decimal place, so it is exact).
 */
export function median(values: readonly Decimal[]): Decimal {
  if (values.length === 0) throw new DecimalError('the median of no values is undefined')
  const sorted = [...values].sort(compare)
  const k = Math.floor(sorted.length / 2)
  if (sorted.length % 2 === 1) return sorted[k]!
  const twice = add(sorted[k - 1]!, sorted[k]!)
  return divide(twice, new Decimal(2n), twice.scale + 1)
}

/** |d| */
export function abs(d: Decimal): Decimal {
  return d.digits < 0n ? new Decimal(-d.digits, d.scale) : d
}
