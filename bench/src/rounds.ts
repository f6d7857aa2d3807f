/** One thing a group measures: a server under load, a fan-out, a process start. */
export interface Target<T> {
  name: string
  /** One measured round of this target, with its own warm-up. */
  run(): Promise<T>
}

/**
 * Runs the targets in interleaved rounds (a, b, c, a, b, c, ...) instead of one after the other,
 * so a slow patch of a shared machine falls on every target of a round rather than on whichever
 * ran during it; the medians of the rounds then hold still where single runs moved by ±30%.
 * Returns each target's results in round order.
 */
export async function interleave<T>(
  rounds: number,
  targets: readonly Target<T>[],
): Promise<Map<string, T[]>> {
  const results = new Map<string, T[]>(targets.map((t) => [t.name, []]))
  for (let round = 1; round <= rounds; round++) {
    for (const target of targets) {
      process.stderr.write(`bench: round ${round}/${rounds}: ${target.name}\n`)
      results.get(target.name)!.push(await target.run())
    }
  }
  return results
}
