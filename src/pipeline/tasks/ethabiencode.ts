/**
 * `ethabiencode`: ABI-encodes a map of values.
 *
 *   encode_data [type="ethabiencode" abi="(bytes32 requestId, uint256 value)"
 *                data="{ \"requestId\": $(decode_log.requestId), \"value\": $(multiply) }"]
 *   encode_tx   [type="ethabiencode" abi="fulfillOracleRequest2(bytes32 requestId, ...)" data="..."]
 *
 * With a function signature the result is the 4-byte selector followed by the arguments;
 * with a parameter list it is the arguments only. `data` is a JSON template (or a reference
 * to a map) keyed by argument name, or an array in argument order; keys the ABI does not name
 * are ignored. Values are converted strictly by type (see eth-abi.ts); an error names the
 * argument path, e.g. `data.value: 256 does not fit uint8`. Returns a `0x` hex string.
 */
import { encodeAbiParameters, encodeFunctionData, type Hex } from 'viem'
import { defineTask, paramJson, paramString } from '../params.ts'
import { ok, TaskError } from '../task.ts'
import {
  type EncodeAbi,
  parseEncodeAbi,
  toAbiValues,
  viemMessage,
  withAbiErrors,
} from './eth-abi.ts'

/** Encodes `data` (a map or array of pipeline values) for `abi`; errors name `data.<arg>`. */
export function encodeWithAbi(abi: EncodeAbi, data: unknown, root = 'data'): Hex {
  const values = withAbiErrors(() => toAbiValues(abi.inputs, data, root))
  try {
    if (abi.kind === 'function') {
      return encodeFunctionData({ abi: [abi.item], functionName: abi.item.name, args: values })
    }
    return encodeAbiParameters(abi.inputs, values)
  } catch (cause) {
    throw new TaskError('could not be ABI-encoded', {
      param: root,
      details: cause instanceof Error ? viemMessage(cause) : String(cause),
      cause,
    })
  }
}

export const ethabiencodeTask = defineTask({
  type: 'ethabiencode',
  params: ['abi', 'data'],
  run(ctx) {
    const abi = withAbiErrors(() => parseEncodeAbi(paramString(ctx, 'abi')), 'abi')
    const data = paramJson(ctx, 'data', abi.inputs.length === 0 ? {} : undefined)
    return ok(encodeWithAbi(abi, data))
  },
})
