/**
 * `ethabidecodelog`: decodes an EVM log into a map of its named arguments.
 *
 *   decode_log [type="ethabidecodelog" abi="OracleRequest(bytes32 indexed specId, ...)"
 *               data="$(jobRun.logData)" topics="$(jobRun.logTopics)"]
 *
 * `abi` is an event signature (see eth-abi.ts), `data` the log data (hex or bytes), `topics`
 * the log topics (an array of 32-byte hex strings, a JSON array, or comma-separated). Unlike
 * Chainlink, topic 0 must be the event's signature hash, so a log of another event is an
 * error rather than garbage. Indexed strings, bytes, arrays and tuples give their topic (a
 * hash). Values: integers bigint, addresses checksummed, bytes lowercase hex.
 */
import { type AbiEvent, type Hex, toEventSelector } from 'viem'
import { parseJson } from '../json.ts'
import { defineTask, describe, paramString, rawParam } from '../params.ts'
import { ok, type TaskContext, TaskError } from '../task.ts'
import {
  decodeToMap,
  type EventParameter,
  formatTypes,
  isHashedInTopic,
  parseEventAbi,
  toHexData,
  toNamedMap,
  withAbiErrors,
} from './eth-abi.ts'

function toTopic(name: string, value: unknown): Hex {
  let hex: Hex
  try {
    hex = toHexData(name, value)
  } catch {
    throw new TaskError(`${name}: expected a 32-byte hex topic, got ${describe(value)}`)
  }
  if (hex.length !== 66) {
    throw new TaskError(`${name}: expected a 32-byte topic, got ${(hex.length - 2) / 2} bytes`)
  }
  return hex
}

/** The `topics` parameter: an array, a JSON array, or comma-separated hex strings. */
function topicsParam(ctx: TaskContext): Hex[] {
  let value = rawParam(ctx, 'topics')
  if (value === undefined) throw new TaskError('is required', { param: 'topics' })
  if (typeof value === 'string') {
    const text = value.trim()
    if (text.startsWith('[')) {
      try {
        value = parseJson(text)
      } catch (cause) {
        throw new TaskError('is not a valid JSON array', { param: 'topics', cause })
      }
    } else {
      value = text === '' ? [] : text.split(',').map((t) => t.trim())
    }
  }
  if (!Array.isArray(value)) {
    throw new TaskError(`expected a list of topics, got ${describe(value)}`, { param: 'topics' })
  }
  return value.map((t, i) => toTopic(`topics[${i}]`, t))
}

/** Decodes one log of `event` into a map of its arguments, in ABI order. */
export function decodeEventLogToMap(
  event: AbiEvent,
  data: Hex,
  topics: readonly Hex[],
): Record<string, unknown> {
  const inputs = event.inputs as readonly EventParameter[]
  const indexed = inputs.filter((p) => p.indexed)
  const plain = inputs.filter((p) => !p.indexed)
  const sig = `${event.name}(${formatTypes(event.inputs)})`
  const selector = toEventSelector(sig)
  if (topics.length === 0) {
    throw new TaskError(`expected the hash of ${sig} as topic 0, got no topics`, {
      param: 'topics',
    })
  }
  if (topics[0]!.toLowerCase() !== selector) {
    throw new TaskError(`topic 0 is not the hash of ${sig}: the log is of another event`, {
      param: 'topics',
      details: `topic 0 is ${topics[0]}, expected ${selector}`,
    })
  }
  if (topics.length !== indexed.length + 1) {
    throw new TaskError(
      `expected ${indexed.length + 1} topics (the signature and ${indexed.length} indexed), got ${topics.length}`,
      { param: 'topics' },
    )
  }
  const values = new Map<EventParameter, unknown>()
  indexed.forEach((p, i) => {
    const topic = topics[i + 1]!
    if (isHashedInTopic(p.type)) {
      values.set(p, topic)
      return
    }
    const decoded = withAbiErrors(() => decodeToMap([p], topic, `topics[${i + 1}]`))
    values.set(p, Object.values(decoded)[0])
  })
  const decoded = withAbiErrors(() => decodeToMap(plain, data, 'data'))
  plain.forEach((p, i) => {
    values.set(p, decoded[p.name || String(i)])
  })
  return toNamedMap(
    inputs,
    inputs.map((p) => values.get(p)),
  )
}

export const ethabidecodelogTask = defineTask({
  type: 'ethabidecodelog',
  params: ['abi', 'data', 'topics'],
  run(ctx) {
    const event = withAbiErrors(() => parseEventAbi(paramString(ctx, 'abi')), 'abi')
    const rawData = rawParam(ctx, 'data')
    const data = rawData === undefined ? '0x' : toHexData('data', rawData)
    const topics = topicsParam(ctx)
    return ok(decodeEventLogToMap(event, data, topics))
  },
})
