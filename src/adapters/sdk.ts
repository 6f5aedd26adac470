import { BaseError } from '../errors.ts'
import { parseJson, stringifyJson } from '../pipeline/json.ts'
import {
  AdapterError,
  InputValidationError,
  OutputValidationError,
  type SchemaViolation,
} from './errors.ts'
import {
  type AdapterSchemaDocument,
  type CompiledSchema,
  compileSchema,
  type JsonSchema,
} from './schema.ts'

/**
 * The adapter SDK (whitepaper §2.2): an external adapter is a name, a JSON Schema for the
 * request's `data`, one for the reply's `data`, and a `run` function. `defineAdapter` wraps
 * `run` with the wire format of Chainlink's external adapters (DESIGN.md §4); `serveAdapter`
 * (server.ts) puts it on HTTP.
 *
 * Request: `{"id", "data", "meta"?, "responseURL"?}`. `data` is checked against the input
 * schema before `run` sees it.
 * Reply: `{"jobRunID", "data": {..., "result"}, "result", "statusCode": 200}`; `run` returns the
 *   reply's `data` (it must hold `result`), checked against the output schema: an adapter never
 *   sends what its own schema forbids.
 * Error: `{"jobRunID", "status": "errored", "error": {"name", "message", ...}, "statusCode"}`
 *   with the same HTTP status: 400 for a bad request or input, 500 for an adapter fault, or the
 *   status of an `AdapterError` thrown by `run`.
 * Pending: `run` may return `pending(promise)`. When the request carried a `responseURL`, the
 *   adapter answers `{"jobRunID", "pending": true, "statusCode": 200}` at once and later sends
 *   the final reply to `responseURL` (server.ts); without one it waits and answers normally.
 */

/** A JSON object. */
export type JsonObject = Record<string, unknown>

/** What `run` returns: the reply's `data`, which must hold `result`. */
export type AdapterOutput = { result: unknown } & JsonObject

export type AdapterContext = {
  /** The request's `id` (the node's run id), echoed as `jobRunID`. */
  id: AdapterRequest['id']
  /** The request's `meta`, when it sent one. */
  meta: unknown
  /** Aborted when the caller goes away (synchronous requests only). */
  signal: AbortSignal
}

/** An answer that comes later (see `pending`). */
export class Pending {
  readonly work: Promise<AdapterOutput>
  constructor(work: Promise<AdapterOutput>) {
    this.work = work
    // Settled through the callback path; never an unhandled rejection.
    work.catch(() => {})
  }
}

/** Marks `run`'s answer as asynchronous: the reply is sent to `responseURL` when `work` settles. */
export function pending(work: Promise<AdapterOutput>): Pending {
  return new Pending(work)
}

export type AdapterDefinition<Input = JsonObject> = {
  /** Letters, digits, `_` and `-`. */
  name: string
  description?: string
  /** JSON Schema of the request's `data`. */
  input: JsonSchema
  /** JSON Schema of the reply's `data` (including `result`). */
  output: JsonSchema
  run(input: Input, ctx: AdapterContext): Promise<AdapterOutput | Pending> | AdapterOutput | Pending
}

/** A parsed request. */
export type AdapterRequest = {
  id: string | number | bigint | null
  data: unknown
  meta: unknown
  responseURL: string | undefined
}

/** A reply: the HTTP status and the JSON body (bigints and Decimals as exact JSON numbers). */
export type AdapterReply = { status: number; body: JsonObject }

export type Execution =
  | { kind: 'reply'; reply: AdapterReply }
  | { kind: 'pending'; reply: AdapterReply; final: Promise<AdapterReply> }

export type Adapter = {
  readonly name: string
  readonly description: string | undefined
  /** What `GET /schema` serves. */
  readonly schema: AdapterSchemaDocument
  /**
   * Runs one parsed request: validation, `run`, output validation. Never throws: failures are
   * error replies. `pending` only when the request has a `responseURL` and `run` returned one.
   */
  execute(request: AdapterRequest, signal?: AbortSignal): Promise<Execution>
}

export function defineAdapter<Input = JsonObject>(def: AdapterDefinition<Input>): Adapter {
  if (!/^[A-Za-z0-9_-]+$/.test(def.name)) {
    throw new AdapterError(
      `adapter name ${JSON.stringify(def.name)} must be letters, digits, "_" and "-"`,
    )
  }
  const input = compileSchema(def.input, `adapter "${def.name}" input schema`)
  const output = compileSchema(def.output, `adapter "${def.name}" output schema`)

  async function execute(request: AdapterRequest, signal?: AbortSignal): Promise<Execution> {
    const id = request.id
    try {
      // The schema sees plain JSON; `run` gets exact numbers (bigints, Decimals).
      const violations = input.validate(JSON.parse(stringifyJson(request.data)))
      if (violations.length > 0) throw new InputValidationError(def.name, violations)
      const ctx: AdapterContext = {
        id,
        meta: request.meta,
        signal: signal ?? new AbortController().signal,
      }
      const answer = await def.run(request.data as Input, ctx)
      if (!(answer instanceof Pending)) return { kind: 'reply', reply: finish(id, answer) }
      const final = answer.work.then(
        (out) => finish(id, out),
        (err: unknown) => errorReply(id, err),
      )
      if (request.responseURL === undefined) return { kind: 'reply', reply: await final }
      return { kind: 'pending', reply: pendingReply(id), final }
    } catch (err) {
      return { kind: 'reply', reply: errorReply(id, err) }
    }
  }

  function finish(id: AdapterRequest['id'], out: unknown): AdapterReply {
    try {
      return successReply(id, checkOutput(def.name, output, out))
    } catch (err) {
      return errorReply(id, err)
    }
  }

  return {
    name: def.name,
    description: def.description,
    schema: { name: def.name, input: def.input, output: def.output },
    execute,
  }
}

/** `out` as it goes on the wire, or an OutputValidationError. */
function checkOutput(name: string, output: CompiledSchema, out: unknown): JsonObject {
  if (out === null || typeof out !== 'object' || Array.isArray(out)) {
    throw new OutputValidationError(name, [{ path: 'data', message: 'must be an object' }])
  }
  // Validate exactly what is sent: the JSON text parsed back.
  const wire = JSON.parse(stringifyJson(out)) as JsonObject
  const violations: SchemaViolation[] = []
  if (!Object.hasOwn(wire, 'result'))
    violations.push({ path: 'data.result', message: 'is required' })
  violations.push(...output.validate(wire))
  if (violations.length > 0) throw new OutputValidationError(name, violations)
  return out as JsonObject
}

export function successReply(id: AdapterRequest['id'], data: JsonObject): AdapterReply {
  return { status: 200, body: { jobRunID: id, data, result: data.result, statusCode: 200 } }
}

export function pendingReply(id: AdapterRequest['id']): AdapterReply {
  return { status: 200, body: { jobRunID: id, pending: true, data: {}, statusCode: 200 } }
}

/** The error reply for anything thrown: an AdapterError keeps its status and extra fields. */
export function errorReply(id: AdapterRequest['id'], err: unknown): AdapterReply {
  const status = err instanceof AdapterError ? err.statusCode : 500
  const error: JsonObject = {
    name: err instanceof Error ? err.name : 'Error',
    message:
      err instanceof BaseError
        ? err.shortMessage
        : err instanceof Error
          ? err.message
          : String(err),
  }
  if (err instanceof BaseError && err.details) error.details = err.details
  if (err instanceof AdapterError && err.extra) Object.assign(error, err.extra)
  return { status, body: { jobRunID: id, status: 'errored', error, statusCode: status } }
}

/**
 * Reads a request body (text): a JSON object with optional `id` (string or number), `data`
 * (an object; `{}` when absent), `meta` and `responseURL` (an http(s) URL). Anything else is an
 * AdapterError with status 400 naming the field.
 */
export function parseAdapterRequest(text: string): AdapterRequest {
  let body: unknown
  try {
    body = parseJson(text)
  } catch (cause) {
    const snippet = text.length > 60 ? `${text.slice(0, 60)}…` : text
    throw new AdapterError('the request body is not JSON', {
      statusCode: 400,
      cause,
      details: `${(cause as { details?: string }).details ?? String(cause)}; body: ${JSON.stringify(snippet)}`,
    })
  }
  if (!isJsonObject(body)) {
    throw new AdapterError(
      `the request body must be a JSON object {"id", "data", ...}, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : typeof body}`,
      { statusCode: 400 },
    )
  }
  const { id, data, meta, responseURL } = body as JsonObject
  if (id !== undefined && id !== null && !['string', 'number', 'bigint'].includes(typeof id)) {
    throw new AdapterError('"id" must be a string or a number', { statusCode: 400 })
  }
  if (data !== undefined && !isJsonObject(data)) {
    throw new AdapterError('"data" must be a JSON object', { statusCode: 400 })
  }
  let url: string | undefined
  if (responseURL !== undefined && responseURL !== null && responseURL !== '') {
    if (
      typeof responseURL !== 'string' ||
      !/^https?:\/\//i.test(responseURL) ||
      !URL.canParse(responseURL)
    ) {
      throw new AdapterError('"responseURL" must be an http(s) URL', { statusCode: 400 })
    }
    url = responseURL
  }
  return {
    id: (id as AdapterRequest['id'] | undefined) ?? null,
    data: data ?? {},
    meta,
    responseURL: url,
  }
}

/** A plain JSON object (not an array, null, or an exact number). */
function isJsonObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype
}
