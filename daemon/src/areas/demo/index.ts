import { defineArea } from '../../kernel/area.ts'
import { demoEcho } from './echo.ts'

export const demo = defineArea({
  name: 'demo',
  description: 'The smallest useful tool, for checking a client end to end and for benchmarks.',
  tools: [demoEcho],
})
