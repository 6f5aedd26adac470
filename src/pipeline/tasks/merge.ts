/**
 * `merge`: the keys of `left` and `right` in one map; `right` wins on a common key.
 *
 * Parameters (JSON templates, `{"a": $(x)}`, or variables holding maps):
 * - `left`: default: the single upstream input.
 * - `right`: required.
 * Each must be a map: an object, a `Map`, or JSON text (string or bytes) of an object; null
 * counts as the empty map (as in Chainlink). Lists and other values are errors naming the
 * parameter. Result: a new plain object (the inputs are not modified).
 */
import { Decimal } from '../decimal.ts'
import { parseJson } from '../json.ts'
import { defineTask, describe, paramJson, singleInput } from '../params.ts'
import { ok, TaskError } from '../task.ts'

const isPlainMap = (v: unknown): v is Record<string, unknown> =>
  v !== null &&
  typeof v === 'object' &&
  !Array.isArray(v) &&
  !(v instanceof Uint8Array) &&
  !(v instanceof Decimal) &&
  !(v instanceof Map) &&
  !(v instanceof Error)

function setKey(out: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty, not assignment: a "__proto__" key stays an ordinary key.
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
}

/** `value` as a fresh plain object (see the header for what counts as a map). */
export function toMap(name: string, value: unknown): Record<string, unknown> {
  let v = value
  if (typeof v === 'string' || v instanceof Uint8Array) {
    const text = typeof v === 'string' ? v : new TextDecoder().decode(v)
    try {
      v = parseJson(text)
    } catch (err) {
      throw new TaskError(`expected a map, got ${describe(value)} that is not JSON`, {
        param: name,
        cause: err,
      })
    }
  }
  const out: Record<string, unknown> = {}
  if (v === null || v === undefined) return out
  if (v instanceof Map) {
    for (const [k, item] of v) setKey(out, String(k), item)
    return out
  }
  if (!isPlainMap(v)) throw new TaskError(`expected a map, got ${describe(v)}`, { param: name })
  for (const [k, item] of Object.entries(v)) setKey(out, k, item)
  return out
}

export const mergeTask = defineTask({
  type: 'merge',
  params: ['left', 'right'],
  run(ctx) {
    const right = toMap('right', paramJson(ctx, 'right'))
    const left = toMap(
      'left',
      ctx.params.left === undefined ? singleInput(ctx) : paramJson(ctx, 'left'),
    )
    for (const [k, v] of Object.entries(right)) setKey(left, k, v)
    return ok(left)
  },
})
