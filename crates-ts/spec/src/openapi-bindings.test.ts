import { defineTool, Registry } from '@arw/registry'
import { Validator } from '@seriousme/openapi-schema-validator'
import type { OpenAPIObject, OperationObject, ParameterObject, ResponseObject } from 'openapi3-ts/oas31'
import Type from 'typebox'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { emitOpenApi } from './openapi.ts'
import { SpecError } from './spec-error.ts'
import { specFiles } from './spec-files.ts'
import { fixtureEvents, fixtureRoutes, fixtureTools } from './testing/fixture.ts'

const info = { title: 'ARW test', version: '9.9.9' }

const ConnOutput = Type.Object({ id: Type.String(), enabled: Type.Boolean() })

/** The fixture product plus tools with REST bindings (a list, an update on two methods, a delete). */
function boundRegistry(): Registry {
  const registry = new Registry()
  registry.addEvents(fixtureEvents())
  registry.addTools([
    ...fixtureTools(),
    defineTool({
      name: 'conn.list',
      version: '1.0.0',
      title: 'List connections',
      description: 'Every connection.',
      input: Type.Object({
        state: Type.Optional(
          Type.Union([Type.Literal('on'), Type.Literal('off')], { description: 'Only these.' }),
        ),
        limit: Type.Integer({ minimum: 1 }),
      }),
      output: Type.Object({ items: Type.Array(ConnOutput) }),
      http: { method: 'GET', path: '/connections' },
      handler: () => ({ items: [] }),
    }),
    defineTool({
      name: 'conn.update',
      version: '1.0.0',
      title: 'Update a connection',
      description: 'Changes a connection.',
      input: Type.Object(
        {
          id: Type.String({ description: 'The connection.' }),
          enabled: Type.Boolean(),
          note: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
      output: ConnOutput,
      errors: ['not_found'],
      stability: 'deprecated',
      deprecation: { since: '2026-01-01' },
      http: [
        { method: 'PATCH', path: '/connections/{id}' },
        { method: 'PUT', path: '/connections/{id}', status: 201 },
      ],
      handler: ({ id, enabled }) => ({ id, enabled }),
    }),
    defineTool({
      name: 'conn.create',
      version: '1.0.0',
      title: 'Create a connection',
      description: 'Adds one.',
      input: Type.Object({ id: Type.String() }),
      output: ConnOutput,
      http: { method: 'POST', path: '/connections', status: 201 },
      handler: ({ id }) => ({ id, enabled: true }),
    }),
    defineTool({
      name: 'conn.delete',
      version: '1.0.0',
      title: 'Delete a connection',
      description: 'Removes one.',
      input: Type.Object({ id: Type.String() }),
      output: Type.Object({}),
      http: { method: 'DELETE', path: '/connections/{id}', status: 204 },
      handler: () => ({}),
    }),
  ])
  return registry
}

function emit(registry = boundRegistry()): OpenAPIObject {
  return emitOpenApi({ registry, routes: fixtureRoutes(), info })
}

function op(
  doc: OpenAPIObject,
  path: string,
  method: 'get' | 'post' | 'put' | 'patch' | 'delete',
): OperationObject {
  const operation = doc.paths?.[path]?.[method]
  if (!operation) throw new Error(`no ${method} ${path} in the document`)
  return operation
}

describe('emitOpenApi with REST bindings', () => {
  it('emits valid OpenAPI 3.1', async () => {
    const text = specFiles({ registry: boundRegistry(), routes: fixtureRoutes(), version: '1.0.0' }).get(
      'openapi.yaml',
    )!
    const result = await new Validator().validate(parse(text) as Record<string, unknown>)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
  })

  it('documents a GET binding with query parameters from the input and the output as the answer', () => {
    const doc = emit()
    const list = op(doc, '/connections', 'get')
    expect(list.operationId).toBe('conn.list@1.0.0')
    expect(list.summary).toBe('List connections')
    expect(list.security).toEqual([{ adminToken: [] }, { bearer: [] }])
    expect(list.requestBody).toBeUndefined()
    expect(list.parameters).toEqual([
      {
        name: 'state',
        in: 'query',
        description: 'Only these.',
        required: false,
        schema: {
          anyOf: [
            { type: 'string', const: 'on' },
            { type: 'string', const: 'off' },
          ],
        },
      },
      { name: 'limit', in: 'query', required: true, schema: { type: 'integer', minimum: 1 } },
      { $ref: '#/components/parameters/IdempotencyKey' },
    ])
    expect(list.responses?.['200']).toMatchObject({
      headers: { traceparent: expect.any(Object), 'idempotent-replayed': expect.any(Object) },
      content: { 'application/json': { schema: { $ref: '#/components/schemas/conn.list_1.0.0_Output' } } },
    })
    expect(list['x-arw-tool']).toBe('conn.list@1.0.0')
    // What the parameters must satisfy together is the input schema's to say.
    expect(list.description).toContain('must match `conn.list_1.0.0_Input`')
    expect(list.tags).toEqual(['tools'])
    expect(list['x-arw-stability']).toBe('stable')
    // The same problem answers as the tool's :invoke operation.
    const invoke = op(doc, '/tools/conn.list@1.0.0:invoke', 'post')
    const problems = (o: OperationObject) => Object.keys(o.responses ?? {}).filter((s) => s !== '200')
    expect(problems(list)).toEqual(problems(invoke))
    expect(list.responses?.['404']).toEqual(invoke.responses?.['404'])
  })

  it('documents body bindings: path parameters out of the body, the status, and distinct operationIds', () => {
    const doc = emit()
    const patch = op(doc, '/connections/{id}', 'patch')
    const put = op(doc, '/connections/{id}', 'put')
    expect(patch.operationId).toBe('conn.update@1.0.0')
    expect(put.operationId).toBe('conn.update@1.0.0:http2')
    expect(op(doc, '/tools/conn.update@1.0.0:invoke', 'post').operationId).toBe('conn.update@1.0.0:invoke')
    expect((patch.parameters as ParameterObject[])[0]).toEqual({
      name: 'id',
      in: 'path',
      description: 'The connection.',
      required: true,
      schema: { type: 'string' },
    })
    expect(patch.requestBody).toEqual({
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: { enabled: { type: 'boolean' }, note: { type: 'string' } },
            required: ['enabled'],
            additionalProperties: false,
          },
        },
      },
    })
    expect(Object.keys(put.responses ?? {})).toContain('201')
    expect(put.responses?.['200']).toBeUndefined()
    // Deprecation is documented as on :invoke.
    expect(put.deprecated).toBe(true)
    expect((put.responses?.['201'] as ResponseObject | undefined)?.headers?.['deprecation']).toBeDefined()
    expect(put.description).toContain('Deprecated since 2026-01-01.')
    expect(problemStatuses(patch)).toContain('404')

    // Without path parameters the body is the input component itself.
    const create = op(doc, '/connections', 'post')
    expect(create.requestBody).toEqual({
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/conn.create_1.0.0_Input' } } },
    })
    // A 204 answers no content.
    const del = op(doc, '/connections/{id}', 'delete')
    expect(del.responses?.['204']).toEqual({
      description: 'conn.delete@1.0.0 ran; it answers no body.',
      headers: expect.any(Object),
    })
  })

  it('leaves the operations of tools without bindings as they were', () => {
    const plain = new Registry()
    plain.addEvents(fixtureEvents())
    plain.addTools(fixtureTools())
    const before = emit(plain)
    const after = emit()
    for (const path of Object.keys(before.paths ?? {}))
      expect(after.paths?.[path]).toEqual(before.paths?.[path])
  })

  it('refuses a binding on a documented route', () => {
    const registry = new Registry()
    registry.addTools([
      defineTool({
        name: 'x.health',
        version: '1.0.0',
        title: 'Health again',
        description: 'Takes /healthz.',
        input: Type.Object({}),
        output: Type.Object({}),
        http: { method: 'GET', path: '/healthz' },
        handler: () => ({}),
      }),
    ])
    expect(() => emit(registry)).toThrow(SpecError)
    expect(() => emit(registry)).toThrow(
      /GET \/healthz is already declared by route GET \/healthz \(health\)/,
    )
  })
})

function problemStatuses(operation: OperationObject): string[] {
  return Object.keys(operation.responses ?? {}).filter((s) => Number(s) >= 400)
}

describe('the tag of a binding', () => {
  it("is the tool's area when it has one", () => {
    const registry = new Registry()
    registry.addTools(
      [
        defineTool({
          name: 'conn.count',
          version: '1.0.0',
          title: 'Count connections',
          description: 'How many.',
          input: Type.Object({}),
          output: Type.Object({ count: Type.Integer() }),
          http: { method: 'GET', path: '/connections/count' },
          handler: () => ({ count: 0 }),
        }),
      ],
      { area: 'connections' },
    )
    const doc = emit(registry)
    expect(op(doc, '/connections/count', 'get').tags).toEqual(['connections'])
    expect(op(doc, '/tools/conn.count@1.0.0:invoke', 'post').tags).toEqual(['tools'])
  })
})
