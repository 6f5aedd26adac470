/**
 * Reconnect back-off: exponential with a cap and "equal jitter". Attempt k waits a uniformly
 * random time in [d/2, d] where d = min(maxMs, initialMs · 2^k), so peers that lost a member at
 * the same moment do not all redial it in lock step, and a wait is never below half the curve.
 */
export type BackoffOptions = {
  /** First delay (attempt 0), before jitter. Default 100 ms. */
  initialMs?: number
  /** Largest delay, before jitter. Default 10 s. */
  maxMs?: number
}

export const DEFAULT_BACKOFF = { initialMs: 100, maxMs: 10_000 } as const

/** The delay before reconnect attempt `attempt` (0-based); `random` returns [0, 1). */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialMs ?? DEFAULT_BACKOFF.initialMs
  const max = Math.max(initial, options.maxMs ?? DEFAULT_BACKOFF.maxMs)
  // 2^31 overflows nothing here; past ~40 attempts the cap applies anyway.
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 40))
  return ceiling / 2 + (ceiling / 2) * random()
}
