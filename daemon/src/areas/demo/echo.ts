import { defineTool } from '@arw/registry'
import Type from 'typebox'

/** The smallest useful tool: proves a client's wiring end to end, and is what the benchmarks call. */
export const demoEcho = defineTool({
  name: 'demo.echo',
  version: '1.0.0',
  title: 'Echo text',
  description: 'Returns the text it was given, unchanged. Use it to check that a client reaches the daemon.',
  input: Type.Object(
    { text: Type.String({ maxLength: 65536, description: 'Text to send back.' }) },
    { additionalProperties: false },
  ),
  output: Type.Object({ text: Type.String() }, { additionalProperties: false }),
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['demo'],
  timeoutMs: 1000,
  examples: [{ title: 'Echo a greeting', input: { text: 'hello' }, output: { text: 'hello' } }],
  handler: ({ text }) => ({ text }),
})
