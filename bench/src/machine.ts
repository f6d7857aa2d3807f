import { execFileSync } from 'node:child_process'
import { availableParallelism, cpus, loadavg } from 'node:os'

/** What the figures of a run depend on besides the code: recorded in its header and results. */
export interface Machine {
  node: string
  cpu: string
  cores: number
  commit: string
  loadBefore: number[]
}

export function describeMachine(): Machine {
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
  } catch {}
  return {
    node: process.version,
    cpu: cpus()[0]?.model.trim() || 'unknown',
    cores: availableParallelism(),
    commit,
    loadBefore: loadAverage(),
  }
}

/** The 1, 5 and 15 minute load averages, two decimals. */
export function loadAverage(): number[] {
  return loadavg().map((v) => Number(v.toFixed(2)))
}

/** The run's header; `rounds` is left out for a profile, which is one round. */
export function header(m: Machine, rounds?: number): string {
  return [
    `# arw bench: node ${m.node}, ${m.cpu}, ${m.cores} cores, commit ${m.commit}`,
    `# load average before: ${m.loadBefore.join(' ')} (a busy machine moves every figure; compare ratios)`,
    ...(rounds
      ? [`# ${rounds} interleaved round(s) per group; tables show the median (min–max) of the rounds`]
      : []),
  ].join('\n')
}
