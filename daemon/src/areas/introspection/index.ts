import type { Registry } from '@arw/registry'
import { introspectionRoutes } from './routes.ts'
import { introspectTools, memoryProbe } from './tools.ts'

export function introspectionTools(registry: Registry) {
  return [memoryProbe, introspectTools(registry)]
}

export { introspectionRoutes }
