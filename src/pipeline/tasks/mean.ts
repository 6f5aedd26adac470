/**
 * `mean`: the arithmetic mean of `values`, exact.
 *
 * `values` and `allowedFaults` follow the aggregate rules in `sum.ts` (default allowedFaults:
 * N-1). `precision` follows `divide`: 0 to 1000 places rounding half away from zero; default
 * exact when the mean terminates, else 18 places. Result: a Decimal.
 */
import { add, Decimal } from '../decimal.ts'
import { defineTask } from '../params.ts'
import { ok } from '../task.ts'
import { paramPrecision, quotient } from './divide.ts'
import { boundedResult } from './multiply.ts'
import { collectDecimals } from './sum.ts'

export const meanTask = defineTask({
  type: 'mean',
  params: ['values', 'allowedFaults', 'precision'],
  run(ctx) {
    const precision = paramPrecision(ctx)
    const values = collectDecimals(ctx)
    const total = values.reduce(add)
    return ok(boundedResult(quotient(total, new Decimal(BigInt(values.length)), precision)))
  },
})
