/**
 * What a node's answer to `eth_sendRawTransaction` means for the attempt. Nodes answer in
 * words, not codes; the patterns cover geth, anvil/reth, erigon, nethermind and besu.
 */
export type SendOutcome =
  /** Accepted now, or earlier ("already known"): the attempt is in the node's pool. */
  | 'accepted'
  /** The nonce is used on chain: by this transaction (a receipt will say) or by another. */
  | 'nonce_too_low'
  /** Refused for its fees (underpriced replacement, max fee under the base fee): not in the pool. */
  | 'underpriced'
  /** Can never be accepted (intrinsic gas, gas above the block limit, bad chain id...). */
  | 'fatal'
  /** Anything else (network, insufficient funds, unknown): send the same bytes again later. */
  | 'retryable'

const ACCEPTED = [
  'already known',
  'already imported',
  'known transaction',
  'alreadyknown',
  'already exists',
  'already in mempool',
  'already in the mempool',
]
const NONCE_TOO_LOW = [
  'nonce too low',
  'nonce is too low',
  'oldnonce',
  'nonce has already been used',
  'transaction nonce is lower',
]
const UNDERPRICED = [
  'underpriced',
  'less than block base fee',
  'fee cap less than',
  'max fee per gas less than',
  'feetoolow',
  'fee too low',
  'gas price too low',
  'below minimum',
]
const FATAL = [
  'intrinsic gas too low',
  'intrinsic gas too high',
  'exceeds block gas limit',
  'gas limit reached',
  'invalid sender',
  'invalid chain id',
  'chain id mismatch',
  'incorrect chain id',
  'oversized data',
  'transaction type not supported',
  'tx type not supported',
  'priority fee per gas higher than max fee',
  'tip higher than fee cap',
  'max priority fee per gas higher than max fee per gas',
  'invalid signature',
]

/** All the words an error (and its causes) carries, lower-cased. */
export function errorText(err: unknown): string {
  const parts: string[] = []
  const seen = new Set<unknown>()
  let e: unknown = err
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e)
    const o = e as { message?: unknown; details?: unknown; shortMessage?: unknown; cause?: unknown }
    for (const v of [o.details, o.shortMessage, o.message]) if (typeof v === 'string') parts.push(v)
    e = o.cause
  }
  if (typeof err === 'string') parts.push(err)
  return parts.join(' | ').toLowerCase()
}

export function classifySendError(err: unknown): SendOutcome {
  const text = errorText(err)
  const has = (list: string[]) => list.some((p) => text.includes(p))
  if (has(ACCEPTED)) return 'accepted'
  if (has(NONCE_TOO_LOW)) return 'nonce_too_low'
  if (has(FATAL)) return 'fatal'
  if (has(UNDERPRICED)) return 'underpriced'
  return 'retryable'
}

/** The node's own words for an error, for the `error` column and logs. */
export function nodeMessage(err: unknown): string {
  const e = err as { details?: unknown; shortMessage?: unknown; message?: unknown }
  const text =
    (typeof e?.details === 'string' && e.details) ||
    (typeof e?.shortMessage === 'string' && e.shortMessage) ||
    (typeof e?.message === 'string' && e.message) ||
    String(err)
  return text.split('\n')[0]!.slice(0, 300)
}
