/** Gas snapshot comparison: which figures grew by more than `tolerance` (a fraction). */
export function regressions(
  snapshot: Record<string, number>,
  measured: Record<string, number>,
  tolerance: number,
): { key: string; before: number; after: number }[] {
  const out: { key: string; before: number; after: number }[] = []
  for (const [key, after] of Object.entries(measured)) {
    const before = snapshot[key]
    // A figure missing from the snapshot is new: it must be recorded before it can pass.
    if (before === undefined || after > before * (1 + tolerance))
      out.push({ key, before: before ?? 0, after })
  }
  return out
}
