import type { ProblemCode } from '@arw/protocol'
import type { TSchema } from 'typebox'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface ResponseDoc {
  description: string
  /** Body schema; omitted for bodies that are not JSON (then `contentType` says what they are). */
  schema?: TSchema
  /** Defaults to application/json. */
  contentType?: string
  /** Further media types the same answer can come as (e.g. an SSE stream instead of JSON), with their bodies. */
  otherContent?: Readonly<Record<string, TSchema>>
  headers?: Record<string, HeaderDoc>
}

export interface HeaderDoc {
  description: string
  schema: TSchema
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
  /**
   * `admin`: needs the admin principal (X-ARW-Admin or Bearer). `public`: open. `conditional`:
   * open in some configurations, else the handler asks for the admin token (documented as both).
   */
  auth: 'admin' | 'public' | 'conditional'
  params?: TSchema
  query?: TSchema
  body?: TSchema
  /** Documents the body as required although its schema requires no property (a JSON-RPC message). */
  bodyRequired?: boolean
  /** Request headers the route reads (documented, not validated): an object schema, names lowercase. */
  headers?: TSchema
  /** Success responses by status. */
  responses: Readonly<Record<number, ResponseDoc>>
  /** Problem codes this route can answer besides the ones every route can (documented as problems). */
  errors?: readonly ProblemCode[]
  /** Headers this route can send with its problems, besides the ones every problem carries. */
  problemHeaders?: Readonly<Record<string, HeaderDoc>>
}
