import type { HttpRouteDoc } from '@arw/spec'
import { AREAS } from './areas/index.ts'
import type { Area } from './kernel/area.ts'
import type { RouteDef } from './kernel/route.ts'
import type { Services } from './services.ts'
import { debugRoutes } from './surfaces/debug/routes.ts'
import { healthRoute } from './surfaces/http/health.ts'
import { invokeRoute } from './surfaces/http/invoke.ts'
import { mcpRoutes } from './surfaces/mcp/http.ts'
import { specRoutes } from './surfaces/spec/routes.ts'
import { eventsRoute } from './surfaces/sse/routes.ts'

/** The surfaces' own routes (areas bring theirs in their declarations). */
export function surfaceRoutes(): RouteDef<Services>[] {
  return [healthRoute, invokeRoute, eventsRoute, ...specRoutes, ...mcpRoutes, ...debugRoutes]
}

/** Every HTTP route's declaration: the surfaces' and the areas' (what spec/openapi.yaml documents). */
export function routeDocs(areas: readonly Area[] = AREAS): HttpRouteDoc[] {
  return [...surfaceRoutes(), ...areas.flatMap((a) => a.routes ?? [])].map((r) => r.doc)
}
