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
