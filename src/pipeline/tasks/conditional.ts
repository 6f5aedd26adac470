/**
 * `conditional`: lets the run continue only when `data` is true.
 *
 * `data`: a boolean, or the text `true`/`false`; default: the single upstream input. Other
 * values are an error naming `data`. When `data` is false the task fails with "conditional was
 * false", so the tasks downstream of it do not run. Result: true.
 */
import { defineTask, paramOrInput, toBool } from '../params.ts'
import { ok, TaskError } from '../task.ts'

export const conditionalTask = defineTask({
  type: 'conditional',
  params: ['data'],
  run(ctx) {
    if (!toBool('data', paramOrInput(ctx, 'data'))) {
      throw new TaskError('conditional was false', { details: `task ${ctx.id}` })
    }
    return ok(true)
  },
})
