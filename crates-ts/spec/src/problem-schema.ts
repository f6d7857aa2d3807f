import { CATALOG, PROBLEM_CODES, type ProblemCode } from '@arw/protocol'
import Type from 'typebox'

/** JSON Schema of `Problem` (RFC 7807 problem details as every surface answers them). */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI of the problem type: urn:arw:problem:<catalog entry name>.' }),
    title: Type.String({
      description: 'Fixed summary of the problem type; do not switch on it, use `code`.',
    }),
    status: Type.Integer({ minimum: 100, maximum: 599, description: 'The HTTP status of this answer.' }),
    detail: Type.String({ description: 'What went wrong with this request, for humans.' }),
    instance: Type.String({
      description:
        'The request path that failed, as the client sent it (a bare-name call keeps its bare name; no query), cut to 200 characters; empty when the request line could not be read.',
    }),
    trace_id: Type.String({ description: 'W3C trace id of the request; the journal holds the details.' }),
    // A plain `enum` (rather than a union of literals) reads best in generated clients and docs.
    code: Type.Unsafe<ProblemCode>({
      type: 'string',
      enum: [...PROBLEM_CODES],
      description: 'Stable machine-readable code from a closed list; clients switch on it.',
    }),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          pointer: Type.String({ description: 'RFC 6901 JSON pointer to the failing field of the input.' }),
          message: Type.String(),
          keyword: Type.String({ description: 'The JSON Schema keyword that failed.' }),
        }),
        { description: 'validation_failed: every failing field.' },
      ),
    ),
    retry_after: Type.Optional(
      Type.Integer({ minimum: 0, description: 'rate_limited: seconds until a retry can succeed.' }),
    ),
    approval_id: Type.Optional(Type.String({ description: 'approval_required: the approval to wait on.' })),
  },
  { description: 'RFC 7807 problem details.' },
)

/**
 * The statuses a problem code can answer with, from the error catalog (one code may have several,
 * e.g. validation_failed is 400 or 415), so documented responses follow from the catalog alone.
 */
export function statusesOf(code: ProblemCode): number[] {
  const statuses = CATALOG.filter((entry) => entry.code === code).map((entry) => entry.status)
  return [...new Set(statuses)].sort((a, b) => a - b)
}
