/**
 * `sum`: the exact sum of `values`.
 *
 * Shared rules of the aggregate tasks (`sum`, `mean`, `median`, `mode`), as in Chainlink:
 * - `values`: a JSON list template (`<[ $(a), $(b), 3 ]>`) or a variable holding a list (or
 *   holding JSON text of one). Default: the values of all upstream inputs, in `index` order.
 * - A failed input (or an Error inside the list) is a fault. `allowedFaults` is how many faults
 *   are tolerated; default N-1 for N values (Chainlink's default: one good value suffices). More
 *   faults than allowed is an error, as is an empty list.
 * - A value that succeeded but is not a number (or is NaN, ±Infinity, |x| ≥ 10^400) is not a
 *   fault but an error naming it, `values[i]` (the i-th list item or input).
 *
 * Result: a Decimal without trailing fractional zeros; a sum of 10^400 or more is an error.
 */
import { add, type Decimal } from '../decimal.ts'
import { defineTask, describe, paramInteger, paramJson } from '../params.ts'
import { ok, type TaskContext, TaskError } from '../task.ts'
import { boundedResult, toBoundedDecimal } from './multiply.ts'

export type NamedValue = { name: string; value: unknown }

/** The successful values of an aggregate task, after checking faults against `allowedFaults`. */
export function collectValues(ctx: TaskContext): NamedValue[] {
  const items: (
    | { name: string; value: unknown; error?: undefined }
    | { name: string; error: unknown }
  )[] = []
  if (ctx.params.values !== undefined) {
    const list = paramJson(ctx, 'values')
    if (!Array.isArray(list)) {
      throw new TaskError(`expected a list, got ${describe(list)}`, { param: 'values' })
    }
    list.forEach((value, i) => {
      const name = `values[${i}]`
      items.push(value instanceof Error ? { name, error: value } : { name, value })
    })
  } else {
    ctx.inputs.forEach((result, i) => {
      const name = `values[${i}]`
      items.push(result.error ? { name, error: result.error } : { name, value: result.value })
    })
  }
  if (items.length === 0) {
    throw new TaskError('no values: expected a non-empty list or at least one input', {
      param: 'values',
    })
  }
  let allowed = BigInt(items.length - 1)
  if (ctx.params.allowedFaults !== undefined) {
    allowed = paramInteger(ctx, 'allowedFaults')
    if (allowed < 0n)
      throw new TaskError(`must not be negative, got ${allowed}`, { param: 'allowedFaults' })
  }
  const failed = items.filter((item) => item.error !== undefined)
  if (BigInt(failed.length) > allowed) {
    const first = failed[0]!.error
    throw new TaskError(
      `${failed.length} of ${items.length} values failed, more than allowedFaults (${allowed})`,
      {
        cause: first,
        details: `${failed[0]!.name}: ${first instanceof Error ? first.message : String(first)}`,
      },
    )
  }
  const values = items.filter((item) => item.error === undefined) as NamedValue[]
  if (values.length === 0)
    throw new TaskError(`all ${items.length} values failed`, { cause: failed[0]!.error })
  return values
}

/** The successful values as bounded Decimals. */
export function collectDecimals(ctx: TaskContext): Decimal[] {
  return collectValues(ctx).map(({ name, value }) => toBoundedDecimal(name, value))
}

export const sumTask = defineTask({
  type: 'sum',
  params: ['values', 'allowedFaults'],
  run(ctx) {
    const values = collectDecimals(ctx)
    return ok(boundedResult(values.reduce(add)))
  },
})
