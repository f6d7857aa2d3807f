import type { HttpRouteDoc } from '@arw/spec'
import type { RouteHandlerMethod } from 'fastify'

/**
 * A hand-written HTTP route: its declaration (documented in OpenAPI; the HTTP surface registers
 * path, validation and auth from it) and a handler built from its context: the daemon's services
 * for a surface's routes, the area's context for an area's routes. Routes exist only where a tool
 * (with a REST binding) cannot serve: streams, blobs, the UI, listings of the registry itself.
 */
export interface RouteDef<Ctx = unknown> {
  doc: HttpRouteDoc
  /** Fastify URL when it differs from the documented path (e.g. `/tools/:call` for `{tool_id}:invoke`). */
  url?: string
  handler(ctx: Ctx): RouteHandlerMethod
}

export function defineRoute<Ctx>(def: RouteDef<Ctx>): RouteDef<Ctx> {
  return def
}
