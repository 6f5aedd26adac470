/**
 * `ethabidecode`: decodes ABI-encoded data into a map of named values.
 *
 *   decode [type="ethabidecode" abi="bytes32 requestId, uint256 price, address[] oracles"
 *           data="$(fetch)"]
 *
 * `abi` is a parameter list, bare or in parentheses (see eth-abi.ts); `data` is hex or bytes
 * and defaults to the single input. Values: integers bigint, addresses checksummed, bytes
 * lowercase hex, tuples objects; an unnamed argument is keyed by its position ("0", "1", ...).
 */
import { defineTask, paramString, rawParam, singleInput } from '../params.ts'
import { ok } from '../task.ts'
import { decodeToMap, parseParamsAbi, toHexData, withAbiErrors } from './eth-abi.ts'

export const ethabidecodeTask = defineTask({
  type: 'ethabidecode',
  params: ['abi', 'data'],
  run(ctx) {
    const params = withAbiErrors(() => parseParamsAbi(paramString(ctx, 'abi')), 'abi')
    const raw = rawParam(ctx, 'data')
    const data = toHexData('data', raw === undefined ? singleInput(ctx) : raw)
    return ok(withAbiErrors(() => decodeToMap(params, data, 'data')))
  },
})
