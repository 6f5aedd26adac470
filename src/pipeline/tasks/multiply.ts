/**
 * `multiply`: `input × times`, exact (Decimal arithmetic, never floating point).
 *
 * Parameters:
 * - `input`: the multiplicand; default: the single upstream input.
 * - `times`: the multiplier (required).
 *
 * Both may be numbers, bigints, Decimals or decimal strings (`"1.5e3"`). Booleans, null,
 * non-numeric text, NaN, ±Infinity and magnitudes of 10^400 or more (`"1e400"`, see
 * `checkMagnitude`) are errors naming the parameter; so is a product of 10^400 or more.
 * Result: a Decimal without trailing fractional zeros.
 *
 * Also exports the numeric helpers the other arithmetic tasks share.
 */
import { checkMagnitude, type Decimal, DecimalError, multiply, normalize } from '../decimal.ts'
import { defineTask, paramDecimal, paramOrInput, toDecimal } from '../params.ts'
import { ok, type TaskContext, TaskError } from '../task.ts'

/** A Decimal within the pipeline's bound (|x| < 10^400); errors name `name` as the parameter. */
export function toBoundedDecimal(name: string, value: unknown): Decimal {
  const d = toDecimal(name, value)
  try {
    return checkMagnitude(d, name)
  } catch (err) {
    if (!(err instanceof DecimalError)) throw err
    throw new TaskError(err.shortMessage, { param: name, cause: err })
  }
}

/** Required parameter `name` as a bounded Decimal. */
export function paramBoundedDecimal(ctx: TaskContext, name: string): Decimal {
  return toBoundedDecimal(name, paramDecimal(ctx, name))
}

/** A task's numeric result: normalized, and an error (not a parameter's) when out of range. */
export function boundedResult(d: Decimal): Decimal {
  try {
    checkMagnitude(d, 'the result')
  } catch (err) {
    if (!(err instanceof DecimalError)) throw err
    throw new TaskError(err.shortMessage, { cause: err })
  }
  return normalize(d)
}

export const multiplyTask = defineTask({
  type: 'multiply',
  params: ['input', 'times'],
  run(ctx) {
    const times = paramBoundedDecimal(ctx, 'times')
    const input = toBoundedDecimal('input', paramOrInput(ctx, 'input'))
    return ok(boundedResult(multiply(input, times)))
  },
})
