/**
 * `lookup`: the value under `key` in the map of the single upstream input.
 *
 * The input is a map as `merge` reads it (object, `Map`, JSON text of an object; null is empty).
 * `key` (required) is one key, not a path: `"a.b"` is the key `a.b`. A missing key gives null,
 * as in Chainlink. Only own keys count (`"toString"` is missing).
 */
import { defineTask, paramString, singleInput } from '../params.ts'
import { ok } from '../task.ts'
import { toMap } from './merge.ts'

export const lookupTask = defineTask({
  type: 'lookup',
  params: ['key'],
  run(ctx) {
    const key = paramString(ctx, 'key')
    const map = toMap('input', singleInput(ctx))
    return ok(Object.hasOwn(map, key) ? map[key] : null)
  },
})
