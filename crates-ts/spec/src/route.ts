import type { ProblemCode } from '@arw/protocol'
import type { TSchema } from 'typebox'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface ResponseDoc {
  description: string
  /** Body schema; omitted for bodies that are not JSON (then `contentType` says what they are). */
  schema?: TSchema
  /** Defaults to application/json. */
  contentType?: string
  headers?: Record<string, { description: string; schema: TSchema }>
}

/**
 * The declaration of one HTTP route of the daemon, written once beside its handler. The daemon
 * registers the route from it (path, validation, auth) and the OpenAPI emitter documents it, so
 * a served route cannot be missing from spec/openapi.yaml.
 */
export interface HttpRouteDoc {
  method: HttpMethod
  /** OpenAPI path template, e.g. `/admin/introspect/schemas/{tool_id}`. */
  path: string
  operationId: string
  summary: string
  description?: string
  tags: readonly string[]
  /** `admin`: needs the admin principal (X-ARW-Admin or Bearer). `public`: open. */
  auth: 'admin' | 'public'
  params?: TSchema
  query?: TSchema
  body?: TSchema
  /** Request headers the route reads (documented, not validated): an object schema, names lowercase. */
  headers?: TSchema
  /** Success responses by status. */
  responses: Readonly<Record<number, ResponseDoc>>
  /** Problem codes this route can answer besides the ones every route can (documented as problems). */
  errors?: readonly ProblemCode[]
}
