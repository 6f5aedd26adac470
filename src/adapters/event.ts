import { compare, type Decimal, parseDecimal } from '../pipeline/decimal.ts'
import { stringifyJson } from '../pipeline/json.ts'
import { AdapterError } from './errors.ts'
import {
  type FetchAdapterParameters,
  fetchRequestedJson,
  REQUESTED_FETCH_PROPERTIES,
  type RequestedFetch,
  readRequestedPath,
} from './fetch-json.ts'
import { type Adapter, defineAdapter } from './sdk.ts'

/**
 * The `event` adapter: a yes/no question answered from a JSON source, e.g. "did flight X land
 * late?" as
 *
 *   {"url": "https://flights.example/v1/LH123/2026-11-23", "path": "arrival,delayMinutes",
 *    "operator": "gt", "value": 15, "question": "LH123 more than 15 min late?"}
 *   → {"result": true, "observed": 42, "operator": "gt", "value": 15, ...}
 *
 * Operators (`evaluate`):
 * - `eq`, `ne`: numbers by value (`15`, `"15"` and `15.0` are equal; exact decimals, no
 *   floats), anything else by JSON equality (strings are case-sensitive).
 * - `gt`, `gte`, `lt`, `lte`: two numbers, or two ISO-8601 date-times (compared as instants);
 *   anything else cannot be ordered and is refused (422).
 * - `contains`: a string holding the value (a string), or an array with an element `eq` to it.
 * Fetching follows http-json's rules (credentials from secrets, SSRF guard).
 */

export const OPERATORS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'contains'] as const
export type Operator = (typeof OPERATORS)[number]

export const EVENT_INPUT_SCHEMA = {
  type: 'object',
  required: ['url', 'path', 'operator', 'value'],
  additionalProperties: false,
  properties: {
    ...REQUESTED_FETCH_PROPERTIES,
    path: {
      oneOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', items: { type: 'string' }, minItems: 1 },
      ],
    },
    operator: { enum: OPERATORS },
    value: { description: 'what the observed value is compared with' },
    question: { type: 'string', maxLength: 500 },
  },
} as const

export const EVENT_OUTPUT_SCHEMA = {
  type: 'object',
  required: ['result', 'observed', 'operator', 'value'],
  properties: {
    result: { type: 'boolean' },
    observed: {},
    operator: { enum: OPERATORS },
    value: {},
    question: { type: 'string' },
  },
} as const

type Input = RequestedFetch & {
  path: string | string[]
  operator: Operator
  value: unknown
  question?: string
}

export function createEventAdapter(deps: FetchAdapterParameters): Adapter {
  return defineAdapter<Input>({
    name: 'event',
    description:
      'Answers a yes/no question from a JSON source: a value at a path compared with an operator',
    input: EVENT_INPUT_SCHEMA,
    output: EVENT_OUTPUT_SCHEMA,
    async run(input, ctx) {
      const json = await fetchRequestedJson(deps, input, ctx.signal)
      const observed = readRequestedPath(json, input.path) ?? null
      const result = evaluate(observed, input.operator, input.value)
      return {
        result,
        observed,
        operator: input.operator,
        value: input.value,
        ...(input.question === undefined ? {} : { question: input.question }),
      }
    },
  })
}

/** `observed <operator> expected`; an impossible comparison is an AdapterError (422). */
export function evaluate(observed: unknown, operator: Operator, expected: unknown): boolean {
  switch (operator) {
    case 'eq':
      return equal(observed, expected)
    case 'ne':
      return !equal(observed, expected)
    case 'contains':
      if (typeof observed === 'string' && typeof expected === 'string')
        return observed.includes(expected)
      if (Array.isArray(observed)) return observed.some((item) => equal(item, expected))
      throw cannot(
        `contains needs a string holding a string, or an array; got ${kind(observed)} and ${kind(expected)}`,
      )
    default: {
      const order = ordering(observed, expected)
      if (order === undefined) {
        throw cannot(
          `${operator} needs two numbers or two ISO-8601 date-times; got ${kind(observed)} and ${kind(expected)}`,
        )
      }
      if (operator === 'gt') return order > 0
      if (operator === 'gte') return order >= 0
      if (operator === 'lt') return order < 0
      return order <= 0
    }
  }
}

const NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/

function asNumber(v: unknown): Decimal | undefined {
  if (typeof v === 'string' && !NUMBER.test(v)) return undefined
  if (typeof v === 'boolean' || v === null || v === undefined) return undefined
  try {
    return parseDecimal(v)
  } catch {
    return undefined
  }
}

function equal(a: unknown, b: unknown): boolean {
  const x = asNumber(a)
  const y = asNumber(b)
  if (x && y) return compare(x, y) === 0
  return stringifyJson(a) === stringifyJson(b)
}

function ordering(a: unknown, b: unknown): number | undefined {
  const x = asNumber(a)
  const y = asNumber(b)
  if (x && y) return compare(x, y)
  if (typeof a === 'string' && typeof b === 'string' && DATE_TIME.test(a) && DATE_TIME.test(b)) {
    const diff = Date.parse(a) - Date.parse(b)
    return Number.isNaN(diff) ? undefined : Math.sign(diff)
  }
  return undefined
}

function kind(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string')
    return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`
  if (typeof v === 'object' && asNumber(v) === undefined) return 'an object'
  return `${asNumber(v) ? 'the number' : typeof v} ${stringifyJson(v)}`
}

function cannot(message: string): AdapterError {
  return new AdapterError(`cannot compare: ${message}`, { statusCode: 422 })
}
