import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { interpolateJson } from '../pipeline/interpolate.ts'
import { stringifyJson } from '../pipeline/json.ts'
import { bridgePayload } from '../pipeline/tasks/bridge.ts'
import { Vars } from '../pipeline/vars.ts'
import { SchemaError, type SchemaViolation } from './errors.ts'

/**
 * JSON Schema for adapters (whitepaper §2.2: an adapter's inputs and outputs are described by
 * JSON Schema). Validation is ajv's; this module turns ajv's errors into violations with a
 * readable path rooted at `data` (`data.sources[2].url: must be string`), and checks a job's
 * bridge `requestData` against an adapter's input schema before the job runs.
 *
 * Dialect: JSON Schema 2020-12, or draft-07 when the schema's `$schema` says so. Unknown
 * keywords and formats are ignored (an adapter written elsewhere may use its own), so `format`
 * is not checked.
 */

/** A JSON Schema: an object, or `true` / `false`. */
export type JsonSchema = Record<string, unknown> | boolean

/** What an adapter serves at `GET /schema`. */
export type AdapterSchemaDocument = { name: string; input: JsonSchema; output: JsonSchema }

export type CompiledSchema = {
  readonly schema: JsonSchema
  /** Every violation of `value`, paths rooted at `root` (default `data`); empty when valid. */
  validate(value: unknown, root?: string): SchemaViolation[]
}

/** Compiles `schema`; `what` names it in the error (e.g. `adapter "price" input schema`). */
export function compileSchema(schema: JsonSchema, what: string): CompiledSchema {
  const validator = compileRaw(schema, what)
  return {
    schema,
    validate(value, root = 'data') {
      if (validator(value)) return []
      return (validator.errors ?? []).map((e) => toViolation(e, root))
    },
  }
}

/** Reads a `GET /schema` reply, refusing anything but `{name, input, output}` with schemas. */
export function parseAdapterSchemaDocument(
  value: unknown,
  source = 'GET /schema',
): AdapterSchemaDocument {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SchemaError(`${source}: expected an object {name, input, output}`)
  }
  const { name, input, output } = value as Record<string, unknown>
  if (typeof name !== 'string' || name === '') {
    throw new SchemaError(`${source}: "name" must be a non-empty string`)
  }
  for (const [key, schema] of [
    ['input', input],
    ['output', output],
  ] as const) {
    if (!isSchema(schema)) {
      throw new SchemaError(`${source}: "${key}" must be a JSON Schema (an object or a boolean)`)
    }
    compileRaw(schema, `${source} ${key} schema`)
  }
  return { name, input: input as JsonSchema, output: output as JsonSchema }
}

/**
 * The violations of a job's bridge `requestData` against an adapter's input schema, for the
 * check at job creation. `requestData` is the task attribute as written in the job spec (a
 * JSON template that may hold `$(var)` references), or an already parsed value.
 *
 * The bridge task sends `requestData` itself as `data`, or its `data` key when it has one
 * (`bridgePayload`); that is what is checked. A `$(var)` has no value before the job runs, so a
 * violation that could depend on one is not reported: any at the variable's place or at an
 * object or array containing it, except those that hold whatever the variable's value
 * (`required`, `additionalProperties`, property and item counts). So an unknown, missing or
 * wrongly typed literal is reported; a variable is trusted to hold the right kind of value.
 *
 * A template that is not valid JSON is one violation with the path `requestData`. An input
 * schema that does not compile is a SchemaError.
 */
export function checkBridgeRequestData(
  inputSchema: JsonSchema,
  requestData: unknown,
): SchemaViolation[] {
  const validator = compileRaw(inputSchema, 'the adapter input schema')
  let value: unknown = requestData ?? {}
  if (typeof requestData === 'string') {
    if (requestData.trim() === '') value = {}
    else {
      try {
        value = interpolateJson(requestData, new UnknownVars())
      } catch (err) {
        const detail = (err as { details?: string }).details
        return [
          {
            path: 'requestData',
            message: `is not a valid JSON template${detail ? `: ${detail}` : ''}`,
          },
        ]
      }
    }
  }
  // The wire form: exact numbers become JSON numbers, Maps objects.
  const data = JSON.parse(stringifyJson(bridgePayload(value).data ?? {})) as unknown
  if (validator(data)) return []
  const unknowns = unknownPointers(data)
  return (validator.errors ?? [])
    .filter((e) => !dependsOnUnknown(e, unknowns))
    .map((e) => toViolation(e, 'data'))
}

// ---------------------------------------------------------------------------------------------

function isSchema(v: unknown): v is JsonSchema {
  return typeof v === 'boolean' || (v !== null && typeof v === 'object' && !Array.isArray(v))
}

function compileRaw(schema: JsonSchema, what: string): ValidateFunction {
  if (!isSchema(schema)) throw new SchemaError(`${what} must be an object or a boolean`)
  const dialect = typeof schema === 'object' ? schema.$schema : undefined
  const options = { allErrors: true, strict: false, validateFormats: false, logger: false } as const
  let ajv: Ajv | Ajv2020
  if (dialect === undefined || (typeof dialect === 'string' && dialect.includes('2020-12'))) {
    ajv = new Ajv2020(options)
  } else if (typeof dialect === 'string' && /draft-0[67]/.test(dialect)) {
    ajv = new Ajv(options)
  } else {
    throw new SchemaError(`${what}: unsupported $schema ${JSON.stringify(dialect)}`, {
      details: 'supported: JSON Schema 2020-12 (the default) and draft-07',
    })
  }
  try {
    // A fresh instance per schema: ajv keeps every schema it compiled, and schemas fetched
    // from adapters must not accumulate in a long-running node.
    return ajv.compile(schema)
  } catch (cause) {
    throw new SchemaError(`${what} is not a valid JSON Schema`, {
      cause,
      details: cause instanceof Error ? cause.message : String(cause),
    })
  }
}

/** Keywords whose verdict does not depend on the values inside the object or array. */
const VALUE_INDEPENDENT = new Set([
  'required',
  'additionalProperties',
  'unevaluatedProperties',
  'minProperties',
  'maxProperties',
  'minItems',
  'maxItems',
  'dependentRequired',
  'dependencies',
])

function dependsOnUnknown(e: ErrorObject, unknowns: readonly string[]): boolean {
  const at = e.instancePath
  return unknowns.some((u) => {
    if (u === at) return true
    const inside = u.startsWith(`${at}/`)
    return inside && !VALUE_INDEPENDENT.has(e.keyword)
  })
}

/** Marks a `$(var)` in a template checked before the job runs. */
const UNKNOWN = '\u0001'

/** Variables with no value yet: every reference resolves to a marker string. */
class UnknownVars extends Vars {
  override get(path: string): unknown {
    return `${UNKNOWN}$(${path})${UNKNOWN}`
  }
}

/** JSON pointers of every string holding a variable marker. */
function unknownPointers(value: unknown, at = '', out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (value.includes(UNKNOWN)) out.push(at)
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => {
      unknownPointers(v, `${at}/${i}`, out)
    })
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      unknownPointers(v, `${at}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`, out)
    }
  }
  return out
}

/** `data` + a JSON pointer as `data.a[0]["b c"]`. */
export function pointerToPath(pointer: string, root = 'data'): string {
  if (pointer === '') return root
  let path = root
  for (const raw of pointer.slice(1).split('/')) path += segment(unescapePointer(raw))
  return path
}

function unescapePointer(s: string): string {
  return s.replaceAll('~1', '/').replaceAll('~0', '~')
}

function segment(key: string): string {
  if (/^\d+$/.test(key)) return `[${key}]`
  if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)) return `.${key}`
  return `[${JSON.stringify(key)}]`
}

function toViolation(e: ErrorObject, root: string): SchemaViolation {
  const path = pointerToPath(e.instancePath, root)
  const params = e.params as Record<string, unknown>
  switch (e.keyword) {
    case 'required':
      return { path: path + segment(String(params.missingProperty)), message: 'is required' }
    case 'additionalProperties':
    case 'unevaluatedProperties':
      return {
        path: path + segment(String(params.additionalProperty ?? params.unevaluatedProperty)),
        message: 'is not allowed here (unknown property)',
      }
    case 'enum':
      return {
        path,
        message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      }
    case 'const':
      return { path, message: `must be ${JSON.stringify(params.allowedValue)}` }
    case 'false schema':
      return { path, message: 'is not allowed here' }
    default:
      return { path, message: e.message ?? `fails "${e.keyword}"` }
  }
}
