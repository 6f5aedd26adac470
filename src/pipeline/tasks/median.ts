/**
 * `median`: the median of `values`, exact.
 *
 * `values` and `allowedFaults` follow the aggregate rules in `sum.ts` (default allowedFaults:
 * N-1). With an even count the result is the exact mean of the two middle values (always a
 * terminating decimal). Result: a Decimal.
 */
import { add, compare, Decimal, divide } from '../decimal.ts'
import { defineTask } from '../params.ts'
import { ok } from '../task.ts'
import { boundedResult } from './multiply.ts'
import { collectDecimals } from './sum.ts'

export const medianTask = defineTask({
  type: 'median',
  params: ['values', 'allowedFaults'],
  run(ctx) {
    const values = collectDecimals(ctx).sort(compare)
    const k = Math.floor(values.length / 2)
    if (values.length % 2 === 1) return ok(boundedResult(values[k]!))
    const twice = add(values[k - 1]!, values[k]!)
    // Halving adds at most one decimal place, so this is exact.
    return ok(boundedResult(divide(twice, new Decimal(2n), twice.scale + 1)))
  },
})
