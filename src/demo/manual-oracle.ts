import { type Address, encodeAbiParameters, maxUint256, type TransactionReceipt, toHex } from 'viem'
import { OperatorAbi } from '../../artifacts/abis.ts'
import type { ChainClient } from '../chain/client.ts'
import type { OracleRequestLog } from '../chain/operator-events.ts'
import { BaseError } from '../errors.ts'
import { decodeDietCbor, hexToBytes } from '../pipeline/cbor.ts'
import { multiply, parseDecimal, truncate } from '../pipeline/decimal.ts'
import { getPath, splitPath } from '../pipeline/json-path.ts'

/**
 * A stand-in for the oracle node, used by `orakel demo` until the node lands: it answers one
 * `OracleRequest` by fetching `get`, reading `path` and multiplying by `times`, then fulfils
 * from an authorized key. It talks to a real chain and a real HTTP source.
 */
export class ManualOracleError extends BaseError {
  override name = 'ManualOracleError'
}

const MAX_RESPONSE_BYTES = 1 << 20

/**
 * The body as UTF-8 text (like `res.text()`), or undefined as soon as it exceeds `limit` bytes;
 * leaving the loop early cancels the stream, so an oversized reply is never buffered whole.
 */
async function readCapped(res: Response, limit: number): Promise<string | undefined> {
  if (!res.body) return ''
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of res.body) {
    total += chunk.byteLength
    if (total > limit) return undefined
    chunks.push(chunk)
  }
  return new TextDecoder().decode(Buffer.concat(chunks))
}

/** Fetches `get`, follows `path`, multiplies by `times`: the classic uint256 job. */
export async function observe(
  request: OracleRequestLog,
): Promise<{ value: bigint; observed: string; params: Record<string, unknown> }> {
  const params = decodeDietCbor(hexToBytes(request.data))
  const url = params.get
  if (typeof url !== 'string')
    throw new ManualOracleError('request parameter "get" must be a URL string')
  const path = params.path
  if (typeof path !== 'string' && !Array.isArray(path)) {
    throw new ManualOracleError('request parameter "path" must be a string or a string array')
  }
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch((cause: unknown) => {
    throw new ManualOracleError(`fetching ${url} failed`, { cause, retryable: true })
  })
  if (!res.ok) {
    await res.body?.cancel().catch(() => {})
    throw new ManualOracleError(`${url} answered HTTP ${res.status}`, { retryable: true })
  }
  const body = await readCapped(res, MAX_RESPONSE_BYTES).catch((cause: unknown) => {
    throw new ManualOracleError(`reading the reply of ${url} failed`, { cause, retryable: true })
  })
  if (body === undefined) throw new ManualOracleError(`${url} answered more than 1 MiB`)
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch (cause) {
    throw new ManualOracleError(`${url} did not answer JSON`, { cause })
  }
  const observed = getPath(json, splitPath(path as string | string[]))
  const times = params.times === undefined ? 1n : params.times
  const product = truncate(
    multiply(parseDecimal(observed, 'observed value'), parseDecimal(times, 'times')),
  )
  if (product < 0n || product > maxUint256) {
    throw new ManualOracleError(`the answer ${product} does not fit a uint256`)
  }
  return { value: product, observed: String(observed), params }
}

/** Fulfils `request` with `value` (v1 as one word, v2 as `abi.encode(requestId, value)`). */
export async function fulfil(
  client: ChainClient,
  operator: Address,
  request: OracleRequestLog,
  value: bigint,
): Promise<TransactionReceipt> {
  const common = [
    request.requestId,
    request.payment,
    request.callbackAddr,
    request.callbackFunctionId,
    request.cancelExpiration,
  ] as const
  const hash =
    request.dataVersion >= 2n
      ? await client.writeContract({
          address: operator,
          abi: OperatorAbi,
          functionName: 'fulfillOracleRequest2',
          args: [
            ...common,
            encodeAbiParameters(
              [{ type: 'bytes32' }, { type: 'uint256' }],
              [request.requestId, value],
            ),
          ],
        })
      : await client.writeContract({
          address: operator,
          abi: OperatorAbi,
          functionName: 'fulfillOracleRequest',
          args: [...common, toHex(value, { size: 32 })],
        })
  const receipt = await client.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') {
    throw new ManualOracleError(`fulfilling ${request.requestId} reverted`, {
      details: `transaction ${hash}`,
    })
  }
  return receipt
}
