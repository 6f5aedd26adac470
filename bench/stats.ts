/**
 * The `p`-th percentile (0–100, nearest rank) of `sorted` (ascending), rounded to `digits`
 * decimals; null when there is nothing to rank (a JSON line then says so).
 */
export function percentile(sorted: readonly number[], p: number, digits = 1): number | null {
  if (sorted.length === 0) return null
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return Number(sorted[i]!.toFixed(digits))
}
