/**
 * `base64decode`: the bytes of a standard base64 string `input` (default: the single upstream
 * input; bytes are read as their ASCII text). Strict like Go's `StdEncoding`: the standard
 * alphabet, padding to a multiple of 4, line breaks ignored; URL-safe characters, missing
 * padding or stray characters are errors naming `input`. Result: a Uint8Array.
 */
import { Buffer } from 'node:buffer'
import { defineTask, describe, paramOrInput } from '../params.ts'
import { ok, TaskError } from '../task.ts'

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

export const base64decodeTask = defineTask({
  type: 'base64decode',
  params: ['input'],
  run(ctx) {
    const value = paramOrInput(ctx, 'input')
    let text: string
    if (typeof value === 'string') text = value
    else if (value instanceof Uint8Array) text = new TextDecoder().decode(value)
    else throw new TaskError(`expected a base64 string, got ${describe(value)}`, { param: 'input' })
    text = text.replace(/[\r\n]/g, '')
    if (!BASE64.test(text)) throw new TaskError('is not valid base64', { param: 'input' })
    return ok(new Uint8Array(Buffer.from(text, 'base64')))
  },
})
