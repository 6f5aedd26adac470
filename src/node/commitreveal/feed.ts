import { isInteger, parseDecimal } from '../../pipeline/decimal.ts'
import { CommitRevealError } from './errors.ts'

/**
 * The decisions of a commitreveal job that need no chain or database: which value a pipeline
 * result reveals, when a feed needs a new round, which member starts it, and which member
 * settles a round that missed its reveal deadline. Times are block timestamps in seconds.
 */

const INT256_MIN = -(2n ** 255n)
const INT256_MAX = 2n ** 255n - 1n

/** The integer a pipeline's final value reveals; throws when it is not one (or not an int256). */
export function revealValue(output: unknown): bigint {
  let d: ReturnType<typeof parseDecimal>
  try {
    d = parseDecimal(output, 'the final value')
  } catch (cause) {
    throw new CommitRevealError('the pipeline did not end in a number', {
      cause,
      details: `its final value is ${describe(output)}`,
    })
  }
  if (!isInteger(d)) {
    throw new CommitRevealError(`the pipeline's final value ${d} is not an integer`, {
      metaMessages: ['scale and round it in the pipeline, e.g. divide with precision="0"'],
    })
  }
  const value = d.digits / 10n ** BigInt(d.scale)
  if (value < INT256_MIN || value > INT256_MAX) {
    throw new CommitRevealError(`the pipeline's final value ${value} does not fit in an int256`)
  }
  return value
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
  if (v === null || v === undefined) return String(v)
  return typeof v === 'object' ? (v.constructor?.name ?? 'an object') : typeof v
}

/** Why `value` cannot be revealed under the bounds, or undefined when it can. */
export function outOfBounds(value: bigint, min: bigint, max: bigint): string | undefined {
  if (value < min) return `value ${value} is below minAnswer ${min}`
  if (value > max) return `value ${value} is above maxAnswer ${max}`
  return undefined
}

/**
 * Whether `next` differs from `old` by at least `thresholdPercent` percent of |old|, exactly:
 * `|next − old| × 100 ≥ threshold × |old|`. A threshold of 0, or an answer of 0, counts any
 * change (and no change never counts).
 */
export function deviates(old: bigint, next: bigint, thresholdPercent: string): boolean {
  const t = parseDecimal(thresholdPercent, 'deviationThreshold')
  const diff = next > old ? next - old : old - next
  const base = old < 0n ? -old : old
  if (diff === 0n) return false
  if (base === 0n || t.digits === 0n) return true
  // diff × 100 × 10^scale ≥ digits × |old|
  return diff * 100n * 10n ** BigInt(t.scale) >= t.digits * base
}

export type FeedAnswer = { answer: bigint; updatedAt: bigint }

/**
 * Why the feed needs a round, or undefined: no answer yet, the observation deviates from the
 * answer by the threshold, or the answer is at least a heartbeat old.
 */
export function feedRoundReason(p: {
  latest: FeedAnswer | undefined
  value: bigint
  now: bigint
  heartbeatSeconds: bigint
  deviationThreshold: string
}): string | undefined {
  if (!p.latest) return 'the feed has no answer yet'
  if (deviates(p.latest.answer, p.value, p.deviationThreshold)) {
    return `${p.value} deviates from the answer ${p.latest.answer} by at least ${p.deviationThreshold}%`
  }
  if (p.now - p.latest.updatedAt >= p.heartbeatSeconds) {
    return `the answer is ${p.now - p.latest.updatedAt} s old (heartbeat ${p.heartbeatSeconds} s)`
  }
  return undefined
}

/**
 * The member whose turn it is to start a feed round: the index `⌊now / heartbeat⌋ mod n`, so
 * the duty rotates once per heartbeat and every member computes the same index from the block
 * timestamp.
 */
export function starterIndex(now: bigint, heartbeatSeconds: bigint, n: number): number {
  if (n <= 0) throw new CommitRevealError('the committee is empty')
  return Number((now / (heartbeatSeconds > 0n ? heartbeatSeconds : 1n)) % BigInt(n))
}

/**
 * Seconds after a round's reveal deadline at which member `index` settles it if it is still
 * unsettled: the designated member (`roundId mod n`) at once, member d+1 one `grace` later, and
 * so on, so that exactly one member settles while the designated one is up.
 */
export function settleDelay(roundId: bigint, index: number, n: number, grace: bigint): bigint {
  if (n <= 0) throw new CommitRevealError('the committee is empty')
  const designated = Number(roundId % BigInt(n))
  return BigInt((index - designated + n) % n) * grace
}
