/**
 * `lowercase`: `input` (default: the single upstream input) in lower case.
 *
 * `input` must be a string (or bytes, read as UTF-8); anything else is an error naming it.
 * Result: a string.
 */
import { defineTask, describe, paramOrInput, toText } from '../params.ts'
import { ok, TaskError } from '../task.ts'

/** `input` as text: a string, or bytes read as UTF-8. */
export function stringInput(value: unknown, name = 'input'): string {
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
    throw new TaskError(`expected a string, got ${describe(value)}`, { param: name })
  }
  return toText(name, value)
}

export const lowercaseTask = defineTask({
  type: 'lowercase',
  params: ['input'],
  run(ctx) {
    return ok(stringInput(paramOrInput(ctx, 'input')).toLowerCase())
  },
})
