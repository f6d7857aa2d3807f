export { isProblemCode, PROBLEM_CODES, type ProblemCode } from './codes.ts'
export { CATALOG, type CatalogEntry, ERRORS, type ErrorName, renderDetail } from './errors.ts'
export {
  type EventActor,
  type EventDraft,
  type EventEnvelope,
  SEVERITIES,
  type Severity,
} from './event.ts'
export { decodeCursor, encodeCursor, type Page, pageOf } from './page.ts'
export { hasPermission, type Principal, SYSTEM_PRINCIPAL } from './principal.ts'
export {
  type FieldError,
  isProblemError,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_PREFIX,
  type Problem,
  ProblemError,
  type ProblemExtras,
  toProblem,
} from './problem.ts'
export {
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseTraceparent,
  type TraceContext,
  traceFrom,
} from './trace.ts'
