/**
 * `length`: the length in bytes of `input` (default: the single upstream input).
 *
 * Bytes count as they are; a string counts as its bytes the way Chainlink's byte parameters read
 * it: a valid `0x` hex string as the bytes it encodes (`"0xdead"` → 2), any other string as its
 * UTF-8 (`"héllo"` → 6). Other values are an error naming `input`. Result: a Decimal.
 */
import { Decimal } from '../decimal.ts'
import { defineTask, describe, paramOrInput } from '../params.ts'
import { ok, TaskError } from '../task.ts'

const HEX = /^0[xX](?:[0-9a-fA-F]{2})*$/

export const lengthTask = defineTask({
  type: 'length',
  params: ['input'],
  run(ctx) {
    const value = paramOrInput(ctx, 'input')
    let length: number
    if (value instanceof Uint8Array) length = value.length
    else if (typeof value === 'string') {
      length = HEX.test(value) ? (value.length - 2) / 2 : new TextEncoder().encode(value).length
    } else {
      throw new TaskError(`expected a string or bytes, got ${describe(value)}`, { param: 'input' })
    }
    return ok(new Decimal(BigInt(length)))
  },
})
