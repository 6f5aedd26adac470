/**
 * `cborparse`: decodes CBOR, typically the `data` of an OracleRequest log.
 *
 * Parameters:
 * - `data`: bytes, or a hex string (`0x` optional); default: the single upstream input.
 * - `mode`: `diet` (default: map entries without the map header, as Chainlink requests carry
 *   them; empty data is `{}`) or `standard` (exactly one CBOR data item).
 * Malformed or truncated CBOR and bad hex are errors naming `data`. Result: the decoded value.
 */
import { CborError, decodeCbor, decodeDietCbor, hexToBytes } from '../cbor.ts'
import { defineTask, describe, paramOrInput, paramString } from '../params.ts'
import { ok, TaskError } from '../task.ts'

function cborBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data
  if (typeof data !== 'string') {
    throw new TaskError(`expected bytes or a hex string, got ${describe(data)}`, { param: 'data' })
  }
  try {
    return hexToBytes(data)
  } catch (err) {
    if (!(err instanceof CborError)) throw err
    throw new TaskError(`is not valid hex: ${err.shortMessage}`, { param: 'data', cause: err })
  }
}

export const cborparseTask = defineTask({
  type: 'cborparse',
  params: ['data', 'mode'],
  run(ctx) {
    const mode = paramString(ctx, 'mode', 'diet')
    if (mode !== 'diet' && mode !== 'standard') {
      throw new TaskError(`must be "diet" or "standard", got ${JSON.stringify(mode)}`, {
        param: 'mode',
      })
    }
    const bytes = cborBytes(paramOrInput(ctx, 'data'))
    try {
      return ok(mode === 'diet' ? decodeDietCbor(bytes) : decodeCbor(bytes))
    } catch (err) {
      if (!(err instanceof CborError)) throw err
      throw new TaskError(`is not valid CBOR: ${err.shortMessage}`, { param: 'data', cause: err })
    }
  },
})
