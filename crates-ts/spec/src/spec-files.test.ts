import { defineTool, Registry } from '@arw/registry'
import Type from 'typebox'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { SpecError } from './spec-error.ts'
import { specFiles } from './spec-files.ts'
import { fixtureRegistry, fixtureRoutes } from './testing/fixture.ts'

const version = '1.2.3'

describe('specFiles', () => {
  it('lists the generated files in a fixed order', () => {
    const files = specFiles({ registry: fixtureRegistry(), routes: fixtureRoutes(), version })
    expect([...files.keys()]).toEqual([
      'openapi.yaml',
      'asyncapi.yaml',
      'mcp-tools.json',
      'schemas/demo.echo@0.9.0.json',
      'schemas/demo.echo@1.0.0.json',
      'schemas/demo.echo@2.0.0-beta.1.json',
      'schemas/files.delete@1.2.3.json',
    ])
  })

  it('is byte-stable: the same declarations give the same bytes, whatever their order', () => {
    const first = specFiles({ registry: fixtureRegistry(), routes: fixtureRoutes(), version })
    const again = specFiles({ registry: fixtureRegistry(), routes: fixtureRoutes(), version })
    const reordered = specFiles({
      registry: fixtureRegistry('reversed'),
      routes: fixtureRoutes().reverse(),
      version,
    })
    expect([...again.entries()]).toStrictEqual([...first.entries()])
    expect([...reordered.entries()]).toStrictEqual([...first.entries()])
  })

  it('writes plain YAML and JSON: no anchors, no folded lines, 2-space JSON with a trailing newline', () => {
    const files = specFiles({ registry: fixtureRegistry(), routes: fixtureRoutes(), version })
    const openapi = files.get('openapi.yaml')!
    // demo.echo 0.9.0 and 1.0.0 share one input schema object; YAML must not alias it.
    expect(openapi).not.toMatch(/[&*]a\d+/)
    // Long descriptions stay on one line (lineWidth 0), so diffs show whole sentences.
    expect(openapi).toMatch(/\n {2}description: The HTTP API of the ARW daemon, .* with a stable `code`\.\n/)
    expect(parse(openapi).info).toMatchObject({ title: 'ARW', version })
    expect(parse(files.get('asyncapi.yaml')!).info).toMatchObject({ title: 'ARW', version })
    for (const [path, text] of files) {
      expect(text.endsWith('\n'), path).toBe(true)
      expect(text.endsWith('\n\n'), path).toBe(false)
      if (path.endsWith('.json')) expect(text).toBe(`${JSON.stringify(JSON.parse(text), null, 2)}\n`)
    }
  })

  it('collects the problems of every emitter and throws them once, each listed once', () => {
    const registry = new Registry()
    registry.addTools([
      defineTool({
        name: 'bad.tool',
        version: '1.0.0',
        title: 'Bad',
        description: 'Has a schema JSON cannot carry.',
        input: Type.Object({ at: Type.String({ default: new Date(0) as never }) }),
        output: Type.Object({}),
        handler: () => ({}),
      }),
    ])
    const routes = fixtureRoutes()
    routes.push({
      method: 'GET',
      path: '/admin/x/{id}',
      operationId: 'getX',
      summary: 'X',
      tags: [],
      auth: 'admin',
      responses: { 200: { description: 'ok' } },
    })
    let error: unknown
    try {
      specFiles({ registry, routes, version })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(SpecError)
    expect((error as SpecError).problems).toEqual([
      'route GET /admin/x/{id} (getX): path parameter {id} is not declared in params',
      'tool bad.tool@1.0.0 input schema/properties/at/default: a Date object is not a JSON value',
    ])
  })
})
