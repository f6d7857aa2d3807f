/**
 * The closed list of problem codes. Every failure any surface reports carries exactly one of these;
 * clients switch on `code`, never on `title` or `detail`. Adding a code is a minor change, removing
 * or renaming one is breaking.
 */
export const PROBLEM_CODES = [
  'validation_failed',
  'policy_denied',
  'approval_required',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'gone',
  'payload_too_large',
  'rate_limited',
  'timeout',
  'unavailable',
  'upstream_error',
  'internal_error',
] as const

export type ProblemCode = (typeof PROBLEM_CODES)[number]

export function isProblemCode(value: unknown): value is ProblemCode {
  return typeof value === 'string' && (PROBLEM_CODES as readonly string[]).includes(value)
}
