import { BaseError, type BaseErrorParameters } from '../errors.ts'

/** One place where a value breaks a JSON Schema: a path such as `data.sources[2].url`. */
export type SchemaViolation = { path: string; message: string }

/**
 * An error an adapter answers with: the HTTP status it replies with and, optionally, fields
 * added to the reply's `error` object (e.g. the price adapter's per-source audit).
 */
export class AdapterError extends BaseError {
  override name = 'AdapterError'
  readonly statusCode: number
  readonly extra: Record<string, unknown> | undefined
  constructor(
    shortMessage: string,
    params: BaseErrorParameters & { statusCode?: number; extra?: Record<string, unknown> } = {},
  ) {
    super(shortMessage, params)
    this.statusCode = params.statusCode ?? 500
    this.extra = params.extra
  }
}

/** The request's `data` breaks the adapter's input schema (HTTP 400). */
export class InputValidationError extends AdapterError {
  override name = 'InputValidationError'
  readonly violations: SchemaViolation[]
  constructor(adapter: string, violations: SchemaViolation[]) {
    super(`invalid input for adapter "${adapter}": ${formatViolations(violations)}`, {
      statusCode: 400,
      extra: { violations },
    })
    this.violations = violations
  }
}

/** The adapter produced `data` its own output schema forbids (HTTP 500): a bug in the adapter. */
export class OutputValidationError extends AdapterError {
  override name = 'OutputValidationError'
  readonly violations: SchemaViolation[]
  constructor(adapter: string, violations: SchemaViolation[]) {
    super(
      `adapter "${adapter}" refused to return output its own schema forbids: ${formatViolations(violations)}`,
      { statusCode: 500, extra: { violations } },
    )
    this.violations = violations
  }
}

/** A JSON Schema that cannot be compiled (an adapter definition or a fetched `GET /schema`). */
export class SchemaError extends BaseError {
  override name = 'SchemaError'
}

/** `path: message; path: message` (at most five, then a count of the rest). */
export function formatViolations(violations: readonly SchemaViolation[]): string {
  const shown = violations.slice(0, 5).map((v) => `${v.path}: ${v.message}`)
  if (violations.length > 5) shown.push(`and ${violations.length - 5} more`)
  return shown.join('; ')
}
