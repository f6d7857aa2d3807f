import type { LoadResult } from './harness.ts'
import { formatSpread, type Spread, spread } from './stats.ts'

/** A target's rounds under load, and the medians and ranges the table and the ratios use. */
export interface Row {
  name: string
  rounds: LoadResult[]
  rps: Spread
  p50: Spread
  p99: Spread
  cpuPerRequest: Spread
  /** Non-2xx answers and errors over all rounds: a target with any is left out of the ratios. */
  bad: number
}

export function summarize(name: string, rounds: LoadResult[]): Row {
  return {
    name,
    rounds,
    rps: spread(rounds.map((r) => r.rps)),
    p50: spread(rounds.map((r) => r.p50)),
    p99: spread(rounds.map((r) => r.p99)),
    cpuPerRequest: spread(rounds.map((r) => r.cpuPerRequest)),
    bad: rounds.reduce((n, r) => n + r.non2xx + r.errors, 0),
  }
}

/** One figure of one target: the median of its rounds, and each round's value. */
export interface Figure {
  median: number
  rounds: number[]
}

/** A row's figure; not a number when the target answered badly, so no ratio is made of it. */
export function figure(row: Row, pick: (r: LoadResult) => number): Figure {
  const rounds = row.rounds.map(pick)
  if (row.bad > 0) return { median: Number.NaN, rounds: rounds.map(() => Number.NaN) }
  return { median: spread(rounds).median, rounds }
}

export const ratios: Record<string, number | null> = {}
export const roundRatios: Record<string, (number | null)[]> = {}

const fixed = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a')

/**
 * Prints `ratio <name> <value>`: the ratio of the two targets' medians over the rounds of this
 * run. The next line gives the same ratio round by round, which shows how steady it was.
 */
export function ratio(name: string, a: Figure, b: Figure): void {
  const value = a.median / b.median
  const perRound = a.rounds.map((v, i) => v / b.rounds[i]!)
  ratios[name] = Number.isFinite(value) ? Number(value.toFixed(2)) : null
  roundRatios[name] = perRound.map((v) => (Number.isFinite(v) ? Number(v.toFixed(2)) : null))
  console.log(`ratio ${name} ${fixed(value)}`)
  if (perRound.length > 1) console.log(`  per round: ${perRound.map(fixed).join(' ')}`)
}

/** `3 non-2xx, 8 errors/timeouts in round 1`: what went wrong, and where, for the reader to judge. */
function describeBad(row: Row): string {
  const sum = (pick: (r: LoadResult) => number) => row.rounds.reduce((n, r) => n + pick(r), 0)
  const kinds = [
    [sum((r) => r.non2xx), 'non-2xx'],
    [sum((r) => r.errors), 'errors/timeouts'],
  ] as const
  const which = row.rounds.flatMap((r, i) => (r.non2xx + r.errors > 0 ? [i + 1] : []))
  return `${kinds
    .filter(([n]) => n > 0)
    .map(([n, what]) => `${n} ${what}`)
    .join(', ')} in round ${which.join(', ')}`
}

export function printLoadTable(title: string, rows: readonly Row[]): void {
  console.log(`\n## ${title}`)
  console.log(
    'target'.padEnd(22),
    'req/s median (min–max)'.padEnd(24),
    'p50 ms'.padStart(7),
    'p99 ms (min–max)'.padEnd(18),
    ' cpu µs/req (min–max)'.padEnd(24),
    'bad',
  )
  for (const r of rows) {
    console.log(
      r.name.padEnd(22),
      formatSpread(r.rps).padEnd(24),
      r.p50.median.toFixed(2).padStart(7),
      formatSpread(r.p99, 2).padEnd(18),
      ` ${formatSpread(r.cpuPerRequest, 1)}`.padEnd(24),
      r.bad > 0 ? `${describeBad(r)} NOT OK: excluded from ratios` : '0',
    )
  }
}
