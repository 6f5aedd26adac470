/**
 * `median`: the median of `values`, exact.
 *
 * `values` and `allowedFaults` follow the aggregate rules in `sum.ts` (default allowedFaults:
 * N-1). With an even count the result is the exact mean of the two middle values (always a
 * terminating decimal). Result: a Decimal.
 */
import { median } from '../decimal.ts'
import { defineTask } from '../params.ts'
import { ok } from '../task.ts'
import { boundedResult } from './multiply.ts'
import { collectDecimals } from './sum.ts'

export const medianTask = defineTask({
  type: 'median',
  params: ['values', 'allowedFaults'],
  run(ctx) {
    return ok(boundedResult(median(collectDecimals(ctx))))
  },
})
