import type { Area } from '../kernel/area.ts'
import { connections } from './connections/index.ts'
import { demo } from './demo/index.ts'
import { introspection } from './introspection/index.ts'
import { mcpConformance } from './mcp-conformance/index.ts'
import { utilities } from './utilities/index.ts'

/**
 * Every area of the daemon, in start order. The registry, the routes, the configuration, `arw start
 * --help`, the configuration doc's check and docgen all read this list: adding an area is its
 * folder plus one line here.
 */
export const AREAS: readonly Area[] = [introspection, demo, utilities, mcpConformance, connections]
