/**
 * `hexencode`: `input` (default: the single upstream input) as `0x` hex.
 *
 * - a string: the hex of its UTF-8 (`"abc"` → `0x616263`; `"255"` is text, → `0x323535`);
 * - bytes: their hex (lower case);
 * - a number, bigint or Decimal: a non-negative integer, as a hex number (`255` → `0xff`,
 *   `0` → `0x0`). Negative values, fractions, NaN and ±Infinity are errors naming `input`.
 * Result: a string.
 */
import { bytesToHex } from 'viem'
import { Decimal, isInteger, truncate } from '../decimal.ts'
import { defineTask, describe, paramOrInput, toDecimal } from '../params.ts'
import { ok, TaskError } from '../task.ts'

export const hexencodeTask = defineTask({
  type: 'hexencode',
  params: ['input'],
  run(ctx) {
    const value = paramOrInput(ctx, 'input')
    if (typeof value === 'string') return ok(bytesToHex(new TextEncoder().encode(value)))
    if (value instanceof Uint8Array) return ok(bytesToHex(value))
    if (typeof value === 'number' || typeof value === 'bigint' || value instanceof Decimal) {
      const d = toDecimal('input', value)
      if (!isInteger(d)) throw new TaskError(`expected an integer, got ${d}`, { param: 'input' })
      if (d.digits < 0n) {
        throw new TaskError(`expected a non-negative integer, got ${d}`, { param: 'input' })
      }
      return ok(`0x${truncate(d).toString(16)}`)
    }
    throw new TaskError(
      `expected a string, bytes or a non-negative integer, got ${describe(value)}`,
      {
        param: 'input',
      },
    )
  },
})
