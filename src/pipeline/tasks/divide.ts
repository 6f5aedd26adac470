/**
 * `divide`: `input ÷ divisor`, exact Decimal arithmetic.
 *
 * Parameters:
 * - `input`: the dividend; default: the single upstream input.
 * - `divisor`: required; zero is an error naming `divisor`.
 * - `precision`: decimal places of the result, 0 to 1000, rounding half away from zero.
 *   Default: the exact quotient when its decimal expansion terminates (within 1000 places:
 *   `1/8` → 0.125, `1e-20/2` → 5e-21), otherwise rounded to 18 places (`1/3` →
 *   0.333333333333333333), the usual token precision. (Chainlink itself falls back to a fixed
 *   division precision; this never loses digits a terminating quotient has.)
 *
 * Operands follow `multiply`'s rules (NaN, ±Infinity, |x| ≥ 10^400 rejected, naming the
 * parameter), as does the result. Result: a Decimal without trailing fractional zeros.
 */
import { type Decimal, DecimalError, divide, divideExact, MAX_SCALE } from '../decimal.ts'
import { defineTask, paramInteger, paramOrInput } from '../params.ts'
import { ok, type TaskContext, TaskError } from '../task.ts'
import { boundedResult, paramBoundedDecimal, toBoundedDecimal } from './multiply.ts'

/** Places used when no precision is given and the quotient does not terminate. */
export const DEFAULT_DIVISION_PRECISION = 18

/** The optional `precision` parameter (0 to MAX_SCALE), or undefined when absent. */
export function paramPrecision(ctx: TaskContext, name = 'precision'): number | undefined {
  if (ctx.params[name] === undefined) return undefined
  const p = paramInteger(ctx, name)
  if (p < 0n || p > BigInt(MAX_SCALE)) {
    throw new TaskError(`must be between 0 and ${MAX_SCALE}, got ${p}`, { param: name })
  }
  return Number(p)
}

/**
 * `a / b` at `precision` places, or by the default rule (exact if terminating, else 18 places).
 * Division by zero is a TaskError naming `divisorName`.
 */
export function quotient(
  a: Decimal,
  b: Decimal,
  precision: number | undefined,
  divisorName = 'divisor',
): Decimal {
  try {
    if (precision !== undefined) return divide(a, b, precision)
    return divideExact(a, b) ?? divide(a, b, DEFAULT_DIVISION_PRECISION)
  } catch (err) {
    if (!(err instanceof DecimalError)) throw err
    throw new TaskError(err.shortMessage, { param: divisorName, cause: err })
  }
}

export const divideTask = defineTask({
  type: 'divide',
  params: ['input', 'divisor', 'precision'],
  run(ctx) {
    const divisor = paramBoundedDecimal(ctx, 'divisor')
    const precision = paramPrecision(ctx)
    const input = toBoundedDecimal('input', paramOrInput(ctx, 'input'))
    return ok(boundedResult(quotient(input, divisor, precision)))
  },
})
