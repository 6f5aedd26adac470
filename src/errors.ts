/**
 * The one error base of Orakel. Every error the project throws extends it, so a caller can
 * show `shortMessage` to a person, log `details`, and follow `cause` to the root.
 */
export type BaseErrorParameters = {
  /** What went wrong in more detail than the short message: values, paths, limits. */
  details?: string | undefined
  /** The error that led to this one. */
  cause?: unknown
  /** Extra lines for a person reading the message (hints, context). */
  metaMessages?: string[] | undefined
  /** Whether trying the same operation again may succeed (RPC hiccup) or not (bad input). */
  retryable?: boolean | undefined
}

export class BaseError extends Error {
  override name = 'BaseError'
  readonly shortMessage: string
  readonly details: string | undefined
  readonly metaMessages: string[] | undefined
  readonly retryable: boolean

  constructor(shortMessage: string, params: BaseErrorParameters = {}) {
    const lines = [shortMessage]
    if (params.metaMessages?.length) lines.push('', ...params.metaMessages)
    if (params.details) lines.push('', `Details: ${params.details}`)
    super(lines.join('\n'), params.cause === undefined ? undefined : { cause: params.cause })
    this.shortMessage = shortMessage
    this.details = params.details
    this.metaMessages = params.metaMessages
    this.retryable = params.retryable ?? false
  }

  /** Walks the `cause` chain and returns the first error `fn` accepts. */
  walk(fn: (err: unknown) => boolean): unknown {
    let err: unknown = this
    const seen = new Set<unknown>()
    while (err && !seen.has(err)) {
      if (fn(err)) return err
      seen.add(err)
      err = (err as { cause?: unknown }).cause
    }
    return undefined
  }
}

/** Message of any thrown value, for places that must print one line. */
export function errorMessage(err: unknown): string {
  if (err instanceof BaseError) return err.shortMessage
  if (err instanceof Error) return err.message
  return String(err)
}
