import Type from 'typebox'
import { describe, expect, it } from 'vitest'
import { Registry, RegistryError } from './registry.ts'
import { defineTool, type ToolSpec } from './tool.ts'

const ConnInput = Type.Object({
  id: Type.String(),
  enabled: Type.Optional(Type.Boolean()),
  tags: Type.Optional(Type.Array(Type.String())),
})
/** An input a query string cannot carry: an object property. */
const NestedInput = Type.Object({
  id: Type.String(),
  settings: Type.Optional(Type.Object({ retries: Type.Integer() })),
})

function tool(name: string, version: string, extra: Partial<ToolSpec> = {}): ToolSpec {
  return defineTool({
    name,
    version,
    title: `${name} title`,
    description: `${name} description`,
    input: ConnInput,
    output: Type.Object({}),
    handler: () => ({}),
    ...extra,
  }) as ToolSpec
}

function problemsOf(registry: Registry, specs: ToolSpec[]): readonly string[] {
  try {
    registry.addTools(specs)
  } catch (error) {
    expect(error).toBeInstanceOf(RegistryError)
    return (error as RegistryError).problems
  }
  return []
}

describe('HTTP bindings at registration', () => {
  it('registers a tool with one binding or several, status defaulting to 200', () => {
    const registry = new Registry()
    registry.addTools([
      tool('conn.get', '1.0.0', { http: { method: 'GET', path: '/connections/{id}' } }),
      tool('conn.update', '1.0.0', {
        http: [
          { method: 'PATCH', path: '/connections/{id}' },
          { method: 'PUT', path: '/connections/{id}', status: 201 },
        ],
      }),
    ])
    expect(registry.resolve('conn.get').http).toEqual([
      { method: 'GET', path: '/connections/{id}', status: 200, params: ['id'] },
    ])
    expect(
      registry.bindings().map((b) => `${b.binding.method} ${b.binding.path} ${b.tool.id} #${b.index}`),
    ).toEqual([
      'GET /connections/{id} conn.get@1.0.0 #0',
      'PUT /connections/{id} conn.update@1.0.0 #1',
      'PATCH /connections/{id} conn.update@1.0.0 #0',
    ])
    // Parameter names do not matter when looking a route up.
    expect(registry.binding('PUT', '/connections/{x}')?.tool.id).toBe('conn.update@1.0.0')
    expect(registry.binding('DELETE', '/connections/{id}')).toBeUndefined()
  })

  it('reports every binding problem of a batch together and registers nothing', () => {
    const registry = new Registry()
    const problems = problemsOf(registry, [
      tool('a.one', '1.0.0', { http: { method: 'GET', path: 'connections' } }),
      tool('a.two', '1.0.0', { http: { method: 'GET', path: '/connections/{nope}' } }),
      tool('a.three', '1.0.0', { http: { method: 'POST', path: '/x/{id}:toggle' } }),
      tool('a.four', '1.0.0', { input: NestedInput, http: { method: 'GET', path: '/four' } }),
      tool('a.five', '1.0.0', { http: { method: 'TRACE' as never, path: '/five', status: 202 as never } }),
      tool('a.six', '1.0.0', { input: NestedInput, http: { method: 'POST', path: '/six/{settings}' } }),
      tool('a.seven', '1.0.0', { http: { method: 'POST', path: '/seven/{id}/{id}' } }),
      tool('a.eight', '1.0.0', {
        http: [
          { method: 'POST', path: '/eight/{id}' },
          { method: 'POST', path: '/eight/{enabled}' },
        ],
      }),
      tool('a.nine', '1.0.0', { http: { method: 'DELETE', path: '/nine/' } }),
    ])
    expect(problems).toEqual([
      'a.one@1.0.0: http GET connections: path must start with / and have no empty segment (nor a trailing /)',
      'a.two@1.0.0: http GET /connections/{nope}: path parameter {nope} is not a property of the input schema',
      'a.three@1.0.0: http POST /x/{id}:toggle: segment "{id}:toggle" must be a literal of letters, digits and ._~- or a whole {parameter}',
      'a.four@1.0.0: http GET /four: input property "settings" cannot be sent in a query string (a GET takes scalars or arrays of scalars)',
      'a.five@1.0.0: http TRACE /five: method must be one of GET, POST, PUT, PATCH, DELETE',
      'a.five@1.0.0: http TRACE /five: status must be 200, 201 or 204',
      'a.six@1.0.0: http POST /six/{settings}: path parameter {settings} must be a string, number or boolean in the input',
      'a.seven@1.0.0: http POST /seven/{id}/{id}: path parameter {id} appears twice',
      'a.eight@1.0.0: http POST /eight/{enabled}: declared twice by this tool',
      'a.nine@1.0.0: http DELETE /nine/: path must start with / and have no empty segment (nor a trailing /)',
    ])
    expect(registry.tools()).toHaveLength(0)
  })

  it('takes scalars and arrays of scalars in a query, and any body for POST, PUT and PATCH', () => {
    const registry = new Registry()
    registry.addTools([
      tool('q.list', '1.0.0', {
        input: Type.Object({
          state: Type.Union([Type.Literal('on'), Type.Literal('off')]),
          limit: Type.Optional(Type.Integer()),
          tags: Type.Optional(Type.Array(Type.String())),
          cursor: Type.Optional(Type.Union([Type.String(), Type.Null()])),
        }),
        http: { method: 'GET', path: '/things' },
      }),
      tool('q.create', '1.0.0', {
        input: NestedInput,
        http: { method: 'POST', path: '/things', status: 201 },
      }),
    ])
    expect(registry.bindings()).toHaveLength(2)
  })

  it('refuses two names on one route, in one batch or across batches, whatever the parameter names', () => {
    const registry = new Registry()
    registry.addTools([tool('b.get', '1.0.0', { http: { method: 'GET', path: '/b/{id}' } })])
    expect(
      problemsOf(registry, [tool('b.other', '1.0.0', { http: { method: 'GET', path: '/b/{enabled}' } })]),
    ).toEqual([
      'b.other@1.0.0: http GET /b/{enabled} is already bound by b.get@1.0.0 (templated paths that differ only in parameter names are the same route)',
    ])
    expect(
      problemsOf(registry, [
        tool('c.one', '1.0.0', { http: { method: 'POST', path: '/c' } }),
        tool('c.two', '1.0.0', { http: { method: 'POST', path: '/c' } }),
      ]),
    ).toEqual([
      'c.two@1.0.0: http POST /c is already bound by c.one@1.0.0 (templated paths that differ only in parameter names are the same route)',
    ])
    // Another method on the same path is another route; a removed tool frees its routes.
    registry.addTools([tool('b.delete', '1.0.0', { http: { method: 'DELETE', path: '/b/{id}' } })])
    registry.removeTools(['b.get@1.0.0'])
    registry.addTools([tool('b.other', '1.0.0', { http: { method: 'GET', path: '/b/{enabled}' } })])
    expect(registry.binding('GET', '/b/{id}')?.tool.id).toBe('b.other@1.0.0')
  })

  it('serves a route declared by several versions from the version a bare name resolves to', () => {
    const registry = new Registry()
    const shared = { method: 'GET', path: '/v' } as const
    registry.addTools([
      tool('v.tool', '1.0.0', { http: [shared, { method: 'GET', path: '/v/old' }] }),
      tool('v.tool', '2.0.0', { http: shared }),
      tool('v.tool', '3.0.0', { http: shared, stability: 'experimental' }),
    ])
    expect(registry.current('v.tool')?.id).toBe('v.tool@2.0.0')
    expect(registry.binding('GET', '/v')?.tool.id).toBe('v.tool@2.0.0')
    // A route only an older version declares is served by that version.
    expect(registry.binding('GET', '/v/old')).toMatchObject({ tool: { id: 'v.tool@1.0.0' }, index: 1 })
    registry.removeTools(['v.tool@2.0.0'])
    expect(registry.binding('GET', '/v')?.tool.id).toBe('v.tool@1.0.0')
  })
})
