import { defineTool, Registry } from '@arw/registry'
import Type from 'typebox'
import { describe, expect, it } from 'vitest'
import { emitMcpCatalog } from './mcp-catalog.ts'
import { emitOpenApi } from './openapi.ts'

function registry(): Registry {
  const r = new Registry()
  r.addTools([
    defineTool({
      name: 'demo.echo',
      version: '1.0.0',
      title: 'Echo',
      description: 'Returns its input.',
      input: Type.Object({ text: Type.String() }),
      output: Type.Object({ text: Type.String() }),
      examples: [
        { title: 'A greeting', input: { text: 'hi' }, output: { text: 'hi' } },
        { input: { text: '' } },
      ],
      handler: ({ text }) => ({ text }),
    }),
  ])
  return r
}

describe('tool examples in spec/', () => {
  it('are JSON Schema examples of the input and output schemas in the MCP catalog', () => {
    const [echo] = emitMcpCatalog(registry()).tools
    expect(echo!.inputSchema['examples']).toEqual([{ text: 'hi' }, { text: '' }])
    expect(echo!.outputSchema['examples']).toEqual([{ text: 'hi' }])
  })

  it('are request body examples of the :invoke operation in OpenAPI', () => {
    const doc = emitOpenApi({ registry: registry(), routes: [], info: { title: 't', version: '1' } })
    const body = doc.paths!['/tools/demo.echo@1.0.0:invoke']!.post!.requestBody as {
      content: Record<string, { examples?: unknown }>
    }
    expect(body.content['application/json']!.examples).toEqual({
      'example-1': { summary: 'A greeting', value: { input: { text: 'hi' } } },
      'example-2': { value: { input: { text: '' } } },
    })
  })
})
