import type { Hex } from 'viem'

/**
 * Algorithm 3 (RewardOracles) of the whitepaper's Appendix A, as the provider runs it once per
 * round, extended for numeric feeds: member j is paid when
 *   - its valid partial signature σ_j is among the decommitments the provider received (PS*),
 *   - its commitment to σ_j appears in at least 2f of the n−f commitment sets the provider
 *     collected (it committed before the others revealed: it did not wait to copy), and
 *   - its signed observation is in the round's report (it fetched data itself).
 * A freeloader that never observes, or commits only after seeing others' reveals, is not paid.
 */
export type RewardInput = {
  f: number
  /** Commitment sets C_i collected from members (collector → member → commitment). */
  commitSets: Map<number, Map<number, Hex>>
  /** Valid partials received (member → σ). */
  partials: Map<number, bigint>
  /** Members whose signed observation is in the report. */
  observers: Set<number>
  /** The commitment member j should have made to σ. */
  commitmentOf(member: number, sigma: bigint): Hex
}

export function rewardedMembers(input: RewardInput): number[] {
  const { f } = input
  const out: number[] = []
  for (const [member, sigma] of input.partials) {
    if (!input.observers.has(member)) continue
    const expected = input.commitmentOf(member, sigma)
    let seen = 0
    for (const set of input.commitSets.values()) if (set.get(member) === expected) seen += 1
    if (seen >= 2 * f) out.push(member)
  }
  return out.sort((a, b) => a - b)
}
