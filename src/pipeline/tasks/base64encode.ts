/**
 * `base64encode`: standard base64 (RFC 4648, with padding) of `input` (default: the single
 * upstream input): bytes as they are, a string as its UTF-8 text (a `0x...` string is encoded as
 * text too; hexdecode it first to encode its bytes). Anything else is an error naming `input`.
 * Result: a string.
 */
import { Buffer } from 'node:buffer'
import { defineTask, describe, paramOrInput } from '../params.ts'
import { ok, TaskError } from '../task.ts'

export const base64encodeTask = defineTask({
  type: 'base64encode',
  params: ['input'],
  run(ctx) {
    const value = paramOrInput(ctx, 'input')
    let bytes: Uint8Array
    if (value instanceof Uint8Array) bytes = value
    else if (typeof value === 'string') bytes = new TextEncoder().encode(value)
    else
      throw new TaskError(`expected a string or bytes, got ${describe(value)}`, { param: 'input' })
    return ok(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'))
  },
})
