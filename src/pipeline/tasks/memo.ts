/**
 * `memo`: the value of `value` (required), a JSON template: `value="10"` gives the number 10,
 * `value=<{"a": $(x)}>` an object holding x's value, `value="$(x)"` x's value itself. Text that
 * is not JSON (`value="hello"`) is an error naming `value`; quote it (`value=<"hello">`).
 * Numbers stay exact (bigints, Decimals). Result: the value.
 */
import { defineTask, paramJson } from '../params.ts'
import { ok } from '../task.ts'

export const memoTask = defineTask({
  type: 'memo',
  params: ['value'],
  run(ctx) {
    return ok(paramJson(ctx, 'value'))
  },
})
