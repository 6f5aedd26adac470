/**
 * `hexdecode`: the bytes of a `0x`-prefixed hex string `input` (default: the single upstream
 * input). Missing prefix, an odd number of digits or a non-hex digit is an error naming `input`.
 * Result: a Uint8Array.
 */
import { defineTask, describe, paramOrInput } from '../params.ts'
import { ok, TaskError } from '../task.ts'

export const hexdecodeTask = defineTask({
  type: 'hexdecode',
  params: ['input'],
  run(ctx) {
    const value = paramOrInput(ctx, 'input')
    if (typeof value !== 'string') {
      throw new TaskError(`expected a hex string, got ${describe(value)}`, { param: 'input' })
    }
    if (!/^0[xX]/.test(value)) {
      throw new TaskError('expected a hex string starting with 0x', { param: 'input' })
    }
    const hex = value.slice(2)
    if (hex.length % 2 !== 0) {
      throw new TaskError(`hex has an odd number of digits (${hex.length})`, { param: 'input' })
    }
    const bad = hex.search(/[^0-9a-fA-F]/)
    if (bad >= 0) {
      throw new TaskError(`invalid hex digit ${JSON.stringify(hex[bad])} at offset ${bad + 2}`, {
        param: 'input',
      })
    }
    const out = new Uint8Array(hex.length / 2)
    for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16)
    return ok(out)
  },
})
