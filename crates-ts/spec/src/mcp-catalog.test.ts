import { describe, expect, it } from 'vitest'
import { emitMcpCatalog } from './mcp-catalog.ts'
import { mcpNameToRef } from './mcp-names.ts'
import { fixtureRegistry } from './testing/fixture.ts'

const MCP_NAME = /^[A-Za-z0-9_.-]{1,128}$/

describe('emitMcpCatalog', () => {
  it('names the current version bare and every other version by its alias, in listing order', () => {
    const registry = fixtureRegistry()
    const { tools } = emitMcpCatalog(registry)
    expect(tools.map((t) => [t.name, t._meta['arw/id']])).toEqual([
      ['demo.echo', 'demo.echo@1.0.0'],
      ['demo.echo_v0.9.0', 'demo.echo@0.9.0'],
      ['demo.echo_v2.0.0-beta.1', 'demo.echo@2.0.0-beta.1'],
      ['files.delete', 'files.delete@1.2.3'],
    ])
    for (const tool of tools) {
      expect(tool.name).toMatch(MCP_NAME)
      // A name resolves back to exactly the version it lists.
      expect(registry.resolve(mcpNameToRef(tool.name)).id).toBe(tool._meta['arw/id'])
    }
    expect(new Set(tools.map((t) => t.name)).size).toBe(tools.length)
  })

  it('lists what an MCP tools/list returns, leaving out hints that were not declared', () => {
    const { tools } = emitMcpCatalog(fixtureRegistry())
    const echo = tools.find((t) => t.name === 'demo.echo')!
    expect(echo).toStrictEqual({
      name: 'demo.echo',
      title: 'Echo',
      description: 'Returns its input.',
      inputSchema: {
        type: 'object',
        required: ['text'],
        properties: { text: { type: 'string', maxLength: 100 } },
        additionalProperties: false,
      },
      outputSchema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
      annotations: { title: 'Echo', readOnlyHint: true, idempotentHint: true },
      _meta: {
        'arw/id': 'demo.echo@1.0.0',
        'arw/stability': 'stable',
        'arw/risk': 'low',
        'arw/capabilities': [],
      },
    })
    const del = tools.find((t) => t.name === 'files.delete')!
    expect(del.annotations).toStrictEqual({
      title: 'Delete a file',
      readOnlyHint: false,
      destructiveHint: true,
      openWorldHint: false,
    })
    expect(del._meta['arw/capabilities']).toEqual(['fs.read', 'fs.write'])
    const old = tools.find((t) => t.name === 'demo.echo_v0.9.0')!
    expect(old._meta['arw/stability']).toBe('deprecated')
    expect(old._meta['arw/deprecation']).toEqual({
      since: '2025-01-01',
      sunset: '2026-01-01',
      replacement: 'demo.echo@1.0.0',
    })
  })

  it('hands out plain JSON copies, never the frozen declarations', () => {
    const registry = fixtureRegistry()
    const { tools } = emitMcpCatalog(registry)
    const echo = tools.find((t) => t.name === 'demo.echo')!
    expect(echo.inputSchema).not.toBe(registry.resolve('demo.echo').input)
    expect(JSON.parse(JSON.stringify(tools))).toStrictEqual(tools)
    expect(Reflect.ownKeys(echo.inputSchema)).toEqual(Object.keys(echo.inputSchema))
  })
})
