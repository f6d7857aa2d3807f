import type { HttpRouteDoc } from '@arw/spec'
import { introspectionRoutes } from '../../areas/introspection/index.ts'
import { debugRoutes } from '../debug/routes.ts'
import { mcpRoutes } from '../mcp/http.ts'
import { specRoutes } from '../spec/routes.ts'
import { eventsRoute } from '../sse/routes.ts'
import { healthRoute } from './health.ts'
import { invokeRoute } from './invoke.ts'
import type { RouteDef } from './route.ts'

/** Every HTTP route of the daemon. Adding a route here serves it and documents it. */
export function allRoutes(): RouteDef[] {
  return [
    healthRoute,
    invokeRoute,
    ...introspectionRoutes,
    eventsRoute,
    ...specRoutes,
    ...mcpRoutes,
    ...debugRoutes,
  ]
}

export function routeDocs(): HttpRouteDoc[] {
  return allRoutes().map((r) => r.doc)
}
