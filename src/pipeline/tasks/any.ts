/**
 * `any`: the value of one upstream input chosen at random among those that succeeded.
 *
 * No parameters. No inputs, or every input failed, is an error.
 */
import { randomInt } from 'node:crypto'
import { defineTask } from '../params.ts'
import { ok, TaskError } from '../task.ts'

export const anyTask = defineTask({
  type: 'any',
  params: [],
  run(ctx) {
    if (ctx.inputs.length === 0) {
      throw new TaskError('expects at least one input, got 0', { details: `task ${ctx.id} (any)` })
    }
    const good = ctx.inputs.filter((input) => input.error === undefined)
    if (good.length === 0) {
      const first = ctx.inputs[0]!.error!
      throw new TaskError(`all ${ctx.inputs.length} inputs failed`, {
        cause: first,
        details: first.shortMessage,
      })
    }
    return ok(good[randomInt(good.length)]!.value)
  },
})
