import { BaseError } from '../errors.ts'

export class VarsError extends BaseError {
  override name = 'VarsError'
}

/**
 * The variables of one run: `jobSpec.*`, `jobRun.*` and one entry per finished task (its
 * value), addressed by dotted paths such as `decode_log.requestId` or `parse.0.price`.
 */
export class Vars {
  readonly #root: Map<string, unknown>
  /** Tasks that finished with an error: a reference to one says so, not just "not defined". */
  readonly #failed = new Map<string, string>()

  constructor(initial: Record<string, unknown> = {}) {
    this.#root = new Map(Object.entries(initial))
  }

  /** Records that task `key` failed with `reason`. */
  fail(key: string, reason: string): void {
    this.#failed.set(key, reason)
  }

  set(key: string, value: unknown): void {
    if (key.includes('.')) throw new VarsError(`variable names cannot contain ".": ${key}`)
    this.#root.set(key, value)
  }

  has(key: string): boolean {
    return this.#root.has(key)
  }

  /** The value at a dotted path; throws `VarsError` naming the first missing segment. */
  get(path: string): unknown {
    const parts = path.split('.')
    const head = parts[0]!
    if (!this.#root.has(head)) {
      const failed = this.#failed.get(head)
      if (failed !== undefined) {
        throw new VarsError(`task "${head}" failed: ${failed}`, { details: `in $(${path})` })
      }
      throw new VarsError(`variable "${head}" is not defined`, { details: `in $(${path})` })
    }
    let current = this.#root.get(head)
    for (let i = 1; i < parts.length; i++) {
      const key = parts[i]!
      const walked = parts.slice(0, i + 1).join('.')
      if (Array.isArray(current) && /^\d+$/.test(key)) {
        if (Number(key) >= current.length)
          throw new VarsError(`variable "${walked}" is out of range`)
        current = current[Number(key)]
      } else if (current instanceof Map) {
        if (!current.has(key)) throw new VarsError(`variable "${walked}" is not defined`)
        current = current.get(key)
      } else if (
        current !== null &&
        typeof current === 'object' &&
        !(current instanceof Uint8Array)
      ) {
        if (!Object.hasOwn(current, key)) throw new VarsError(`variable "${walked}" is not defined`)
        current = (current as Record<string, unknown>)[key]
      } else {
        throw new VarsError(`variable "${walked}" is not defined`, {
          details: `"${parts.slice(0, i).join('.')}" is ${current === null ? 'null' : typeof current}`,
        })
      }
    }
    return current
  }

  /** A shallow copy: the same values, separate bindings. */
  copy(): Vars {
    const copy = new Vars(Object.fromEntries(this.#root))
    for (const [key, reason] of this.#failed) copy.fail(key, reason)
    return copy
  }
}
