import { defineArea } from '../../kernel/area.ts'
import { probe } from './probe.ts'
import { introspectionRoutes } from './routes.ts'
import { introspectTools, memoryProbe } from './tools.ts'

export const introspection = defineArea({
  name: 'introspection',
  description:
    'What the daemon knows of itself: its tools and schemas, its journal by task or trace, its metrics.',
  tools: [memoryProbe, introspectTools, probe],
  routes: introspectionRoutes,
})
