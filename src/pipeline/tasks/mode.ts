/**
 * `mode`: the most common of `values`.
 *
 * `values` and `allowedFaults` follow the aggregate rules in `sum.ts` (default allowedFaults:
 * N-1). Values need not be numbers. Equality: numbers compare by exact value whatever their
 * form (the number `1.5`, Decimal `1.50`; `2` and `2n`); strings, bytes, booleans, null and JSON
 * objects/lists compare by content within their own kind, so the string `"1"` is not the number
 * `1` (stricter than Chainlink's comparison of `%v` text). NaN and ±Infinity are errors naming
 * the value.
 *
 * Result: `{ results: [...], occurrences: n }` — every value that occurs the most (the first
 * occurrence of each, in order of first appearance) and that count, as a number.
 */
import { bytesToHex } from 'viem'
import { Decimal, normalize } from '../decimal.ts'
import { stringifyJson } from '../json.ts'
import { defineTask, toDecimal } from '../params.ts'
import { ok } from '../task.ts'
import { collectValues } from './sum.ts'

function key(name: string, value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint' || value instanceof Decimal) {
    return `n:${normalize(toDecimal(name, value)).toString()}`
  }
  if (typeof value === 'string') return `s:${value}`
  if (value instanceof Uint8Array) return `b:${bytesToHex(value)}`
  if (typeof value === 'boolean' || value === null || value === undefined) return `v:${value}`
  return `j:${stringifyJson(value)}`
}

export const modeTask = defineTask({
  type: 'mode',
  params: ['values', 'allowedFaults'],
  run(ctx) {
    const counts = new Map<string, { value: unknown; count: number }>()
    for (const { name, value } of collectValues(ctx)) {
      const k = key(name, value)
      const entry = counts.get(k)
      if (entry) entry.count++
      else counts.set(k, { value, count: 1 })
    }
    const occurrences = [...counts.values()].reduce((max, e) => Math.max(max, e.count), 0)
    const results = [...counts.values()].filter((e) => e.count === occurrences).map((e) => e.value)
    return ok({ results, occurrences })
  },
})
