/** Readers of environment variables that collect every bad value instead of stopping at the first. */

export function intVar(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`)
    return fallback
  }
  return value
}

/** Switches are exactly 1 (on) or 0 (off; also unset or empty), as docs/configuration.md says. */
export function flag(env: NodeJS.ProcessEnv, name: string, problems: string[]): boolean {
  const raw = env[name] ?? ''
  if (raw === '' || raw === '0') return false
  if (raw === '1') return true
  problems.push(`${name}=${JSON.stringify(raw)}: expected 1 or 0`)
  return false
}

const DURATION_UNITS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}
const SIZE_UNITS: Record<string, number> = { kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 }

/**
 * Journal retention: `off` (or unset), an age (`7d`; units s, m, h, d, w), a size (`500MB`; units
 * KB, MB, GB, TB, powers of 1024), or both separated by a comma (`7d,500MB`).
 */
export function retentionVar(
  env: NodeJS.ProcessEnv,
  name: string,
  problems: string[],
): { maxAgeMs?: number; maxBytes?: number } | undefined {
  const raw = (env[name] ?? '').trim()
  if (raw === '' || raw.toLowerCase() === 'off') return undefined
  const rule: { maxAgeMs?: number; maxBytes?: number } = {}
  const bad = () => {
    problems.push(
      `${name}=${JSON.stringify(raw)}: expected off, an age (7d; s, m, h, d, w), a size (500MB; KB, MB, GB, TB) or both (7d,500MB)`,
    )
    return undefined
  }
  for (const part of raw.split(',').map((p) => p.trim().toLowerCase())) {
    const m = /^(\d{1,9})(s|m|h|d|w|kb|mb|gb|tb)$/.exec(part)
    if (!m || Number(m[1]) === 0) return bad()
    const n = Number(m[1])
    const unit = m[2]!
    if (unit in DURATION_UNITS) {
      if (rule.maxAgeMs !== undefined) return bad()
      rule.maxAgeMs = n * DURATION_UNITS[unit]!
    } else {
      if (rule.maxBytes !== undefined) return bad()
      rule.maxBytes = n * SIZE_UNITS[unit]!
    }
  }
  return rule
}
