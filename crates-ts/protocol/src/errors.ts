import type { ProblemCode } from './codes.ts'

/**
 * The error catalog: every problem the project can raise, in one place. Each entry names a stable
 * `code` from the closed list, the HTTP status it answers with, a fixed title and a detail template
 * whose `{placeholders}` are filled from the `params` given when it is raised. Callers raise entries
 * (`problem(ERRORS.tool_not_found, { id })`), never ad-hoc strings; docs/errors.md documents every
 * entry and a test keeps the two in step.
 */
export interface CatalogEntry {
  /** Stable name of this entry; also the last segment of the problem `type` URI. */
  readonly name: string
  readonly code: ProblemCode
  readonly status: number
  readonly title: string
  /** Detail template; `{name}` is replaced by `params.name`. */
  readonly detail: string
}

function entry(name: string, code: ProblemCode, status: number, title: string, detail: string): CatalogEntry {
  return Object.freeze({ name, code, status, title, detail })
}

export const ERRORS = {
  // validation_failed: the request could not be accepted as sent. `errors` lists each failing field.
  validation_failed: entry(
    'validation_failed',
    'validation_failed',
    400,
    'Validation failed',
    '{count} field(s) failed validation against {schema}',
  ),
  malformed_json: entry(
    'malformed_json',
    'validation_failed',
    400,
    'Malformed JSON',
    'The request body is not valid JSON: {reason}',
  ),
  unsupported_media_type: entry(
    'unsupported_media_type',
    'validation_failed',
    415,
    'Unsupported media type',
    'Content-Type {contentType} is not accepted here; send application/json',
  ),
  bad_request: entry('bad_request', 'validation_failed', 400, 'Bad request', '{reason}'),
  invalid_cursor: entry(
    'invalid_cursor',
    'validation_failed',
    400,
    'Invalid cursor',
    'The cursor is not a next_cursor returned by this list',
  ),
  store_key_invalid: entry(
    'store_key_invalid',
    'validation_failed',
    400,
    'Invalid store key',
    'The {what} must be a string of 1 to 1024 characters without NUL',
  ),
  invalid_tool_id: entry(
    'invalid_tool_id',
    'validation_failed',
    400,
    'Invalid tool id',
    '"{id}" is not a tool id; expected <dotted.name> or <dotted.name>@<major.minor.patch>',
  ),
  idempotency_key_invalid: entry(
    'idempotency_key_invalid',
    'validation_failed',
    400,
    'Invalid Idempotency-Key',
    'Idempotency-Key must be 1-255 visible ASCII characters',
  ),
  // policy_denied / approval_required: decisions of the policy stage.
  policy_denied: entry('policy_denied', 'policy_denied', 403, 'Denied by policy', '{reason}'),
  // The egress policy refused an outbound request before anything was sent.
  egress_denied: entry(
    'egress_denied',
    'policy_denied',
    403,
    'Egress denied',
    'The daemon may not reach {destination}: {reason}',
  ),
  approval_required: entry(
    'approval_required',
    'approval_required',
    202,
    'Approval required',
    'The call to {tool} waits for a human approval: {reason}',
  ),
  // unauthorized / forbidden: who you are and what you may do.
  unauthorized: entry(
    'unauthorized',
    'unauthorized',
    401,
    'Unauthorized',
    'This endpoint needs an admin token in X-ARW-Admin or Authorization: Bearer',
  ),
  admin_disabled: entry(
    'admin_disabled',
    'forbidden',
    403,
    'Admin endpoints are closed',
    'No admin token is configured; set ARW_ADMIN_TOKEN (or ARW_DEBUG=1 for loopback-only access)',
  ),
  forbidden: entry('forbidden', 'forbidden', 403, 'Forbidden', '{reason}'),
  host_not_allowed: entry(
    'host_not_allowed',
    'forbidden',
    403,
    'Host not allowed',
    'The Host header does not name this daemon (loopback names or ARW_PUBLIC_HOSTS)',
  ),
  origin_not_allowed: entry(
    'origin_not_allowed',
    'forbidden',
    403,
    'Origin not allowed',
    'Requests from this browser origin are refused (allowed: loopback, same origin, ARW_ALLOWED_ORIGINS)',
  ),
  // not_found
  route_not_found: entry('route_not_found', 'not_found', 404, 'Not found', 'No route for {method} {path}'),
  tool_not_found: entry(
    'tool_not_found',
    'not_found',
    404,
    'Unknown tool',
    'No tool is registered as "{id}"',
  ),
  tool_version_not_found: entry(
    'tool_version_not_found',
    'not_found',
    404,
    'Unknown tool version',
    'Tool "{id}" has no version {version}; available: {available}',
  ),
  not_found: entry('not_found', 'not_found', 404, 'Not found', '{what} was not found'),
  // conflict / gone
  idempotency_conflict: entry(
    'idempotency_conflict',
    'conflict',
    409,
    'Idempotency-Key reused',
    'Idempotency-Key "{key}" was already used for a different request',
  ),
  conflict: entry('conflict', 'conflict', 409, 'Conflict', '{reason}'),
  // `data`: none; the stored record is left as it was.
  version_conflict: entry(
    'version_conflict',
    'conflict',
    409,
    'Version conflict',
    'The {collection} record was changed by someone else (expected version {expected}); read it again',
  ),
  // The index value is not repeated in the detail: it may be personal data.
  unique_conflict: entry(
    'unique_conflict',
    'conflict',
    409,
    'Unique value taken',
    'Another {collection} record already holds this {index}',
  ),
  gone: entry('gone', 'gone', 410, 'Gone', '{what} is no longer available'),
  // payload_too_large
  payload_too_large: entry(
    'payload_too_large',
    'payload_too_large',
    413,
    'Payload too large',
    'The request body exceeds the limit of {limit} bytes',
  ),
  uri_too_long: entry(
    'uri_too_long',
    'payload_too_large',
    414,
    'URI too long',
    'A path segment exceeds the limit of {limit} characters',
  ),
  headers_too_large: entry(
    'headers_too_large',
    'payload_too_large',
    431,
    'Request headers too large',
    'The request line and headers exceed the limit of {limit} bytes',
  ),
  // rate_limited
  rate_limited: entry(
    'rate_limited',
    'rate_limited',
    429,
    'Too many requests',
    'Rate limit for {scope} exceeded; retry after {retryAfter} s',
  ),
  auth_rate_limited: entry(
    'auth_rate_limited',
    'rate_limited',
    429,
    'Too many failed authentication attempts',
    'Too many failed admin authentication attempts from this address; retry after {retryAfter} s',
  ),
  concurrency_limited: entry(
    'concurrency_limited',
    'rate_limited',
    429,
    'Too many concurrent calls',
    'Tool {tool} already runs {limit} call(s) at once; retry shortly',
  ),
  // timeout
  timeout: entry('timeout', 'timeout', 504, 'Timed out', '{tool} did not finish within {timeoutMs} ms'),
  // unavailable
  unavailable: entry('unavailable', 'unavailable', 503, 'Service unavailable', '{reason}'),
  circuit_open: entry(
    'circuit_open',
    'unavailable',
    503,
    'Circuit open',
    'Connection {connection}: the circuit is open after repeated upstream failures; retry after {retryAfter} s',
  ),
  cancelled: entry(
    'cancelled',
    'unavailable',
    503,
    'Call cancelled',
    'The call to {tool} was cancelled before it finished',
  ),
  // upstream_error
  upstream_error: entry('upstream_error', 'upstream_error', 502, 'Upstream error', '{reason}'),
  // internal_error: a fault of this server, never of the request. Details stay in the journal.
  internal_error: entry(
    'internal_error',
    'internal_error',
    500,
    'Internal error',
    'The server failed while handling this request; trace {traceId} has the details',
  ),
  output_invalid: entry(
    'output_invalid',
    'internal_error',
    500,
    'Tool produced invalid output',
    '{tool} returned output that does not match its declared schema; the result was withheld',
  ),
} as const satisfies Record<string, CatalogEntry>

export type ErrorName = keyof typeof ERRORS

export const CATALOG: readonly CatalogEntry[] = Object.freeze(
  Object.values(ERRORS).sort((a, b) => a.name.localeCompare(b.name)),
)

/** Fills `{name}` placeholders; unknown placeholders are left visible rather than silently dropped. */
export function renderDetail(template: string, params: Readonly<Record<string, unknown>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const value = params[key]
    return value === undefined ? whole : String(value)
  })
}
