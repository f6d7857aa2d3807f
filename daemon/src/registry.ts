import { Registry, type ToolSpec } from '@arw/registry'
import { AREAS } from './areas/index.ts'
import { type Config, loadConfig } from './config.ts'
import { coreEvents } from './events.ts'
import { type Area, defineArea } from './kernel/area.ts'

export interface RegistryOptions {
  /** The areas to serve (default: every area of the product). */
  areas?: readonly Area[]
  /** Tools of tests and embedders, served as one more area named `extra`. */
  extraTools?: readonly ToolSpec<any, any, any>[]
}

/** The areas a daemon with this configuration serves: the listed ones that are enabled, plus extras. */
export function servedAreas(config: Config, options: RegistryOptions = {}): Area[] {
  const areas = (options.areas ?? AREAS).filter((a) => !a.enabled || a.enabled(config.areas[a.name]))
  if (options.extraTools && options.extraTools.length > 0) {
    areas.push(
      defineArea({ name: 'extra', description: 'Tools added by the embedder.', tools: options.extraTools }),
    )
  }
  return areas
}

/**
 * The full registry of the served areas: their tools and event kinds, with the core's events.
 * Built without starting anything, so docgen and the daemon read the very same declarations.
 */
export function createRegistry(options: RegistryOptions & { config?: Config } = {}): Registry {
  const config = options.config ?? loadConfig({})
  const registry = new Registry()
  const areas = servedAreas(config, options)
  registry.addEvents([...coreEvents, ...areas.flatMap((a) => a.events ?? [])])
  for (const area of areas) if (area.tools) registry.addTools(area.tools, { area: area.name })
  return registry
}
