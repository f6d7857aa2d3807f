import type { Area } from '../kernel/area.ts'
import { connections } from './connections/index.ts'
import { demo } from './demo/index.ts'
import { egress } from './egress/index.ts'
import { introspection } from './introspection/index.ts'
import { mcpConformance } from './mcp-conformance/index.ts'
import { utilities } from './utilities/index.ts'

/**
 * Every area of the daemon, in start order. The registry, the routes, the configuration, `arw start
 * --help`, the configuration doc's check and docgen all read this list: adding an area is its
 * folder plus one line here. egress comes before the areas that send (it provides their gate).
 */
export const AREAS: readonly Area[] = [introspection, demo, utilities, mcpConformance, egress, connections]
