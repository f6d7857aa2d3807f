import { Registry, type ToolSpec } from '@arw/registry'
import { demoTools } from './areas/demo/echo.ts'
import { introspectionTools } from './areas/introspection/index.ts'
import { utilityTools } from './areas/utilities/index.ts'
import { coreEvents } from './events.ts'

export interface CatalogOptions {
  /** Extra tools (tests, embedders, optional tool packs). */
  extraTools?: readonly ToolSpec<any, any>[]
}

/**
 * The full registry of the product: every area's tools and event kinds. Built without a server,
 * so docgen and the daemon read the very same declarations.
 */
export function createRegistry(options: CatalogOptions = {}): Registry {
  const registry = new Registry()
  registry.addEvents([...coreEvents])
  registry.addTools([
    ...demoTools,
    ...utilityTools,
    ...introspectionTools(registry),
    ...(options.extraTools ?? []),
  ])
  return registry
}
