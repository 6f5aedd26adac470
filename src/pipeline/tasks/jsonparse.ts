/**
 * `jsonparse`: the value at `path` in a JSON document.
 *
 * Parameters:
 * - `data`: JSON text (a string, or bytes of UTF-8), or an already-parsed value (object, list,
 *   number, ...); default: the single upstream input. Invalid JSON is an error naming `data`.
 *   Numbers stay exact: big integers become bigints, inexact decimals Decimals.
 * - `path`: keys separated by `separator` (`"data,price"`; list indices like `"0"`, negative
 *   from the end), or a JSON list of keys, or a variable holding a list. Default: empty (the
 *   whole document).
 * - `separator`: default `,`; must not be empty.
 * - `lax`: `true` makes a path that does not resolve (missing key, index out of range, indexing
 *   into a scalar) give null instead of an error naming `path`. Default false.
 */
import { JsonError, parseJson } from '../json.ts'
import { getPath, JsonPathError } from '../json-path.ts'
import { defineTask, paramBool, paramOrInput, paramString, paramStringList } from '../params.ts'
import { ok, TaskError } from '../task.ts'

function parseData(data: unknown): unknown {
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) return data
  try {
    const text =
      typeof data === 'string' ? data : new TextDecoder('utf-8', { fatal: true }).decode(data)
    return parseJson(text)
  } catch (err) {
    const reason =
      err instanceof JsonError ? (err.details ? `: ${err.details}` : '') : ': invalid UTF-8'
    throw new TaskError(`is not valid JSON${reason}`, { param: 'data', cause: err })
  }
}

export const jsonparseTask = defineTask({
  type: 'jsonparse',
  params: ['data', 'path', 'separator', 'lax'],
  run(ctx) {
    const separator = paramString(ctx, 'separator', ',')
    if (separator === '') throw new TaskError('must not be empty', { param: 'separator' })
    const path = paramStringList(ctx, 'path', separator) ?? []
    const lax = paramBool(ctx, 'lax', false)
    const doc = parseData(paramOrInput(ctx, 'data'))
    try {
      return ok(getPath(doc, path))
    } catch (err) {
      if (!(err instanceof JsonPathError)) throw err
      if (lax) return ok(null)
      throw new TaskError(err.shortMessage, { param: 'path', cause: err })
    }
  },
})
