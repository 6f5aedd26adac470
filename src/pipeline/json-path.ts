import { BaseError } from '../errors.ts'

export class JsonPathError extends BaseError {
  override name = 'JsonPathError'
}

/** Splits a Chainlink-style path (`"data,price"` or `"data.0.price"` with `separator "."`). */
export function splitPath(path: string | readonly string[], separator = ','): string[] {
  if (Array.isArray(path)) return [...path]
  const text = path as string
  return text === '' ? [] : text.split(separator)
}

/**
 * Follows `path` into a parsed JSON value. Array elements are addressed by index (negative
 * counts from the end). A missing key is an error naming the path walked so far.
 */
export function getPath(value: unknown, path: readonly string[]): unknown {
  let current = value
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!
    const walked = path.slice(0, i + 1).join('.')
    if (Array.isArray(current)) {
      if (!/^-?\d+$/.test(key))
        throw new JsonPathError(`"${walked}": "${key}" is not an array index`)
      let index = Number(key)
      if (index < 0) index += current.length
      if (index < 0 || index >= current.length) {
        throw new JsonPathError(
          `"${walked}": index ${key} is out of range (length ${current.length})`,
        )
      }
      current = current[index]
    } else if (current !== null && typeof current === 'object') {
      if (!Object.hasOwn(current, key)) throw new JsonPathError(`"${walked}": no such key`)
      current = (current as Record<string, unknown>)[key]
    } else {
      throw new JsonPathError(
        `"${walked}": cannot index into ${current === null ? 'null' : typeof current}`,
      )
    }
  }
  return current
}
