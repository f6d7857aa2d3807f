/**
 * Every problem an emitter found across all declarations, reported together so one run of docgen
 * shows everything to fix instead of one mistake per run.
 */
export class SpecError extends Error {
  readonly problems: readonly string[]

  constructor(problems: readonly string[]) {
    super(`The declarations cannot be documented:\n  - ${problems.join('\n  - ')}`)
    this.name = 'SpecError'
    this.problems = problems
  }
}

/** Throws one SpecError listing every collected problem, if there are any. */
export function throwIfProblems(problems: readonly string[]): void {
  if (problems.length > 0) throw new SpecError([...problems])
}
