import {
  abs,
  compare,
  Decimal,
  divide,
  median,
  multiply,
  normalize,
  parseDecimal,
  subtract,
} from '../pipeline/decimal.ts'

/**
 * Aggregation of k sources (whitepaper §4.1), exact (decimal arithmetic, no floats).
 *
 * Independence. Each observation names its origin (the source's `derivedFrom`, else the source
 * itself). Sources sharing an origin are one vote: the median of their values. A site that
 * mirrors another adds no evidence, so it cannot outvote independent sources.
 *
 * Outliers: the modified z-score of Iglewicz and Hoaglin over the votes. With m the median of
 * the votes and MAD the median of |v − m|, a vote is an outlier when
 *
 *     0.6745 · |v − m| / MAD  >  threshold          (threshold 3.5 by default)
 *
 * i.e. further than about 5.19 MADs from the median. 0.6745 scales the MAD to a standard
 * deviation for normally distributed values, so 3.5 is "3.5 sigma". When more than half of the
 * votes agree almost exactly the MAD is (nearly) zero and any difference would count as an
 * outlier, so the MAD is floored at `minRelativeMad` × m (0.1 % by default): a vote within
 * 0.519 % of the median (3.5 / 0.6745 × 0.1 %) is never an outlier. The answer is the median
 * of the votes that are not outliers. As with any median, this holds while fewer than half of
 * the independent origins lie.
 */

export type Observation = { name: string; origin: string; value: Decimal }

export type OutlierRule = {
  /** Modified z-score above which a vote is an outlier; default 3.5. */
  threshold?: number
  /** Floor of the MAD relative to the median; default 0.001. */
  minRelativeMad?: number
}

export type Vote = {
  origin: string
  /** The sources counted in this vote (more than one: they share an origin). */
  sources: string[]
  value: Decimal
  /** (value − median) / median, to 6 places. */
  deviation: Decimal
  outlier: boolean
}

export type Aggregate = {
  /** Median of all votes. */
  median: Decimal
  /** Median absolute deviation of the votes (before the floor). */
  mad: Decimal
  /** Largest |vote − median| that is not an outlier. */
  cutoff: Decimal
  /** Median of the votes that are not outliers. */
  answer: Decimal
  votes: Vote[]
}

export const DEFAULT_OUTLIER_THRESHOLD = 3.5
export const DEFAULT_MIN_RELATIVE_MAD = 0.001
const Z_SCALE = parseDecimal('0.6745')

/** Aggregates at least one observation into votes per origin and an answer. */
export function aggregateIndependent(
  observations: readonly Observation[],
  rule: OutlierRule = {},
): Aggregate {
  const threshold = parseDecimal(rule.threshold ?? DEFAULT_OUTLIER_THRESHOLD, 'threshold')
  const floor = parseDecimal(rule.minRelativeMad ?? DEFAULT_MIN_RELATIVE_MAD, 'minRelativeMad')
  const groups = new Map<string, Observation[]>()
  for (const o of observations) {
    const group = groups.get(o.origin)
    if (group) group.push(o)
    else groups.set(o.origin, [o])
  }
  const grouped = [...groups].map(([origin, members]) => ({
    origin,
    sources: members.map((m) => m.name),
    value: median(members.map((m) => m.value)),
  }))
  const m = median(grouped.map((g) => g.value))
  const mad = median(grouped.map((g) => abs(subtract(g.value, m))))
  const floored = multiply(floor, abs(m))
  const scale = compare(mad, floored) >= 0 ? mad : floored
  // 0.6745 · |v − m| > threshold · MAD  ⇔  |v − m| > threshold · MAD / 0.6745
  const limit = multiply(threshold, scale)
  const votes: Vote[] = grouped.map((g) => {
    const distance = abs(subtract(g.value, m))
    return {
      ...g,
      deviation: m.digits === 0n ? new Decimal(0n) : normalize(divide(subtract(g.value, m), m, 6)),
      outlier: compare(multiply(Z_SCALE, distance), limit) > 0,
    }
  })
  const kept = votes.filter((v) => !v.outlier).map((v) => v.value)
  return {
    median: m,
    mad: normalize(mad),
    cutoff: normalize(divide(limit, Z_SCALE, 8)),
    answer: kept.length > 0 ? median(kept) : m,
    votes,
  }
}
