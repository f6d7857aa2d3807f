import type { ProblemCode } from './codes.ts'
import { type CatalogEntry, renderDetail } from './errors.ts'

/** One failing field of a validation problem: where (RFC 6901 JSON pointer into the input) and why. */
export interface FieldError {
  pointer: string
  message: string
  keyword: string
}

/** RFC 7807 problem details, as every surface returns them (`application/problem+json`). */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  instance: string
  trace_id: string
  code: ProblemCode
  /** Validation problems: every failing field. */
  errors?: FieldError[]
  /** rate_limited: seconds until a retry can succeed. */
  retry_after?: number
  /** approval_required: the approval to wait on. */
  approval_id?: string
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'
export const PROBLEM_TYPE_PREFIX = 'urn:arw:problem:'

export interface ProblemExtras {
  errors?: FieldError[]
  retry_after?: number
  approval_id?: string
  instance?: string
  trace_id?: string
}

/**
 * A problem raised inside the process. It carries the catalog entry and its parameters; the surface
 * that answers fills `instance` and `trace_id` when the raiser did not know them.
 */
export class ProblemError extends Error {
  readonly entry: CatalogEntry
  readonly params: Readonly<Record<string, unknown>>
  readonly extras: ProblemExtras
  // Plain fields (not getters): frameworks such as Fastify assign `code`/`statusCode` on errors.
  readonly code: ProblemCode
  readonly status: number
  readonly statusCode: number

  constructor(
    entry: CatalogEntry,
    params: Readonly<Record<string, unknown>> = {},
    extras: ProblemExtras = {},
  ) {
    super(renderDetail(entry.detail, params))
    this.name = 'ProblemError'
    this.entry = entry
    this.params = params
    this.extras = extras
    this.code = entry.code
    this.status = entry.status
    this.statusCode = entry.status
  }

  toProblem(instance: string, traceId: string): Problem {
    return toProblem(this.entry, this.params, { instance, trace_id: traceId, ...this.extras })
  }
}

export function toProblem(
  entry: CatalogEntry,
  params: Readonly<Record<string, unknown>>,
  extras: ProblemExtras & { instance: string; trace_id: string },
): Problem {
  const problem: Problem = {
    type: PROBLEM_TYPE_PREFIX + entry.name,
    title: entry.title,
    status: entry.status,
    detail: renderDetail(entry.detail, params),
    instance: extras.instance,
    trace_id: extras.trace_id,
    code: entry.code,
  }
  if (extras.errors) problem.errors = extras.errors
  if (extras.retry_after !== undefined) problem.retry_after = extras.retry_after
  if (extras.approval_id !== undefined) problem.approval_id = extras.approval_id
  return problem
}

export function isProblemError(value: unknown): value is ProblemError {
  return value instanceof ProblemError
}
