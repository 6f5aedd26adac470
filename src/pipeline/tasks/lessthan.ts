/**
 * `lessthan`: whether `left < right`, compared exactly.
 *
 * Parameters: `left` (default: the single upstream input) and `right` (required), numeric by
 * `multiply`'s rules (NaN, ±Infinity, |x| ≥ 10^400 rejected, naming the parameter).
 * Result: a boolean.
 */
import { compare } from '../decimal.ts'
import { defineTask, paramOrInput } from '../params.ts'
import { ok } from '../task.ts'
import { paramBoundedDecimal, toBoundedDecimal } from './multiply.ts'

export const lessthanTask = defineTask({
  type: 'lessthan',
  params: ['left', 'right'],
  run(ctx) {
    const right = paramBoundedDecimal(ctx, 'right')
    const left = toBoundedDecimal('left', paramOrInput(ctx, 'left'))
    return ok(compare(left, right) < 0)
  },
})
