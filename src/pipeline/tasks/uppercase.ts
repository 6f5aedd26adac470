/**
 * `uppercase`: `input` (default: the single upstream input) in upper case.
 *
 * `input` must be a string (or bytes, read as UTF-8); anything else is an error naming it.
 * Result: a string.
 */
import { defineTask, paramOrInput } from '../params.ts'
import { ok } from '../task.ts'
import { stringInput } from './lowercase.ts'

export const uppercaseTask = defineTask({
  type: 'uppercase',
  params: ['input'],
  run(ctx) {
    return ok(stringInput(paramOrInput(ctx, 'input')).toUpperCase())
  },
})
