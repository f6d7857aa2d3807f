import { Validator } from '@seriousme/openapi-schema-validator'
import type { OpenAPIObject, OperationObject, ParameterObject, ResponseObject } from 'openapi3-ts/oas31'
import Type from 'typebox'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { emitOpenApi } from './openapi.ts'
import type { HttpRouteDoc } from './route.ts'
import { SpecError } from './spec-error.ts'
import { specFiles } from './spec-files.ts'
import { fixtureRegistry, fixtureRoutes } from './testing/fixture.ts'

const info = { title: 'ARW test', version: '9.9.9' }

function emit(routes: HttpRouteDoc[] = fixtureRoutes()): OpenAPIObject {
  return emitOpenApi({ registry: fixtureRegistry(), routes, info })
}

function op(doc: OpenAPIObject, path: string, method: 'get' | 'post' | 'delete'): OperationObject {
  const operation = doc.paths?.[path]?.[method]
  if (!operation) throw new Error(`no ${method} ${path} in the document`)
  return operation
}

/** Follows a local `$ref` (`#/a/b`) to what it points at; undefined when it resolves to nothing. */
function deref(doc: unknown, ref: string): unknown {
  let node: unknown = doc
  for (const raw of ref.slice(2).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[token] : undefined
  }
  return node
}

function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) refs(item, out)
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') out.push(value)
      else refs(value, out)
    }
  }
  return out
}

function response(doc: OpenAPIObject, operation: OperationObject, status: string): ResponseObject {
  const entry = operation.responses?.[status] as ResponseObject | { $ref: string } | undefined
  if (!entry) throw new Error(`no ${status} response`)
  return ('$ref' in entry ? deref(doc, entry.$ref) : entry) as ResponseObject
}

function problemCodes(doc: OpenAPIObject, operation: OperationObject, status: string): unknown {
  const schema = response(doc, operation, status).content?.['application/problem+json']?.schema as {
    allOf: [unknown, { properties: { code: { enum: string[] } } }]
  }
  return schema.allOf[1].properties.code.enum
}

describe('emitOpenApi', () => {
  it('emits a document that is valid OpenAPI 3.1 and whose every $ref resolves', async () => {
    const text = specFiles({ registry: fixtureRegistry(), routes: fixtureRoutes(), version: '1.0.0' }).get(
      'openapi.yaml',
    )!
    const doc = parse(text) as Record<string, unknown>
    const validator = new Validator()
    const result = await validator.validate(doc)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
    expect(validator.version).toBe('3.1')
    const all = refs(doc)
    expect(all.length).toBeGreaterThan(10)
    for (const ref of all) {
      expect(ref.startsWith('#/'), ref).toBe(true)
      expect(deref(doc, ref), ref).toBeDefined()
    }
  })

  it('says in words a rule across query parameters, which a parameter list cannot carry', () => {
    const [first, ...rest] = fixtureRoutes()
    const route: HttpRouteDoc = {
      ...first!,
      description: 'Things.',
      query: Type.Object(
        { a: Type.Optional(Type.String()), b: Type.Optional(Type.String()) },
        { anyOf: [{ required: ['a'] }, { required: ['b'] }] },
      ),
    }
    const doc = emit([route, ...rest])
    expect(op(doc, route.path, route.method.toLowerCase() as 'get').description).toBe(
      'Things. Query: give at least one of `a`, `b`.',
    )
  })

  it('lists the servers it is given, so generated clients have a base URL', () => {
    const servers = [{ url: 'http://127.0.0.1:8090', description: 'default' }]
    expect(
      emitOpenApi({ registry: fixtureRegistry(), routes: fixtureRoutes(), info, servers }).servers,
    ).toEqual(servers)
    expect(emit().servers).toBeUndefined()
  })

  it('documents every route with its parameters, body, success and problem responses', () => {
    const doc = emit()
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.info).toEqual(info)

    const get = op(doc, '/admin/things/{kind}/{id}', 'get')
    expect(get.operationId).toBe('getThing')
    expect(get.tags).toEqual(['things'])
    expect(get.security).toEqual([{ adminToken: [] }, { bearer: [] }])
    const params = get.parameters as ParameterObject[]
    expect(params.map((p) => [p.in, p.name, p.required])).toEqual([
      ['path', 'kind', true],
      ['path', 'id', true],
      ['query', 'verbose', false],
      ['query', 'fields', true],
    ])
    // The property's description moves up to the parameter.
    expect(params[2]).toEqual({
      name: 'verbose',
      in: 'query',
      description: 'Include everything.',
      required: false,
      schema: { type: 'boolean' },
    })
    expect(Object.keys(get.responses ?? {})).toEqual([
      '200',
      '400',
      '401',
      '403',
      '404',
      '410',
      '413',
      '414',
      '415',
      '429',
      '431',
      '500',
    ])
    expect(problemCodes(doc, get, '410')).toEqual(['gone'])
    expect(problemCodes(doc, get, '401')).toEqual(['unauthorized'])
    expect(response(doc, get, '429').headers?.['Retry-After']).toBeDefined()

    // Two operations under one path; a success response without a body has no content.
    expect(Object.keys(doc.paths?.['/admin/things/{kind}/{id}'] ?? {})).toEqual(['get', 'delete'])
    // Every answer, success or problem, declares the traceparent the daemon always sends.
    expect(response(doc, op(doc, '/admin/things/{kind}/{id}', 'delete'), '204')).toEqual({
      description: 'Deleted.',
      headers: { traceparent: { description: expect.any(String), schema: { type: 'string' } } },
    })
    expect(response(doc, get, '404').headers?.['traceparent']).toBeDefined()

    // Public routes say that they need no credentials, and answer no auth problems.
    const health = op(doc, '/healthz', 'get')
    expect(health.security).toEqual([])
    expect(Object.keys(health.responses ?? {})).toEqual([
      '200',
      '400',
      '404',
      '413',
      '414',
      '415',
      '429',
      '431',
      '500',
    ])
    expect(response(doc, op(doc, '/spec/openapi.yaml', 'get'), '200').content).toEqual({
      'application/yaml': { schema: { type: 'string' } },
    })

    // The generic invoke route: an all-optional body is not required; declared codes map to statuses.
    const invoke = op(doc, '/tools/{tool_id}:invoke', 'post')
    expect(invoke.requestBody).toMatchObject({ required: false })
    expect(problemCodes(doc, invoke, '403')).toEqual(['forbidden', 'policy_denied'])
    expect(problemCodes(doc, invoke, '202')).toEqual(['approval_required'])
    expect(problemCodes(doc, invoke, '504')).toEqual(['timeout'])
    expect(response(doc, invoke, '200').headers?.['traceparent']).toEqual({
      description: 'W3C trace context.',
      schema: { type: 'string' },
    })

    const problem = doc.components?.schemas?.['Problem'] as {
      required: string[]
      properties: Record<string, { enum?: string[]; items?: { required?: string[] } }>
    }
    expect(problem.required).toEqual(['type', 'title', 'status', 'detail', 'instance', 'trace_id', 'code'])
    expect(problem.properties['code']?.enum).toContain('validation_failed')
    expect(problem.properties['errors']?.items?.required).toEqual(['pointer', 'message', 'keyword'])
    expect(Object.keys(problem.properties)).toEqual([
      'type',
      'title',
      'status',
      'detail',
      'instance',
      'trace_id',
      'code',
      'errors',
      'retry_after',
      'approval_id',
    ])
    expect(doc.components?.securitySchemes).toEqual({
      adminToken: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-ARW-Admin' }),
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    })
  })

  it('documents every tool version as a typed invoke operation', () => {
    const doc = emit()
    const paths = Object.keys(doc.paths ?? {}).filter(
      (p) => p.startsWith('/tools/demo') || p.startsWith('/tools/files'),
    )
    expect(paths).toEqual([
      '/tools/demo.echo@0.9.0:invoke',
      '/tools/demo.echo@1.0.0:invoke',
      '/tools/demo.echo@2.0.0-beta.1:invoke',
      '/tools/files.delete@1.2.3:invoke',
    ])

    const echo = op(doc, '/tools/demo.echo@1.0.0:invoke', 'post')
    expect(echo.operationId).toBe('demo.echo@1.0.0')
    expect(echo.deprecated).toBeUndefined()
    expect(echo['x-arw-stability']).toBe('stable')
    expect(echo['x-arw-hints']).toEqual({ readOnly: true, idempotent: true })
    expect(echo.parameters).toEqual([{ $ref: '#/components/parameters/IdempotencyKey' }])
    expect(deref(doc, '#/components/parameters/IdempotencyKey')).toMatchObject({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
    })
    expect(echo.requestBody).toMatchObject({
      required: true,
      content: {
        'application/json': {
          schema: {
            required: ['input'],
            properties: { input: { $ref: '#/components/schemas/demo.echo_1.0.0_Input' } },
          },
        },
      },
    })
    expect(response(doc, echo, '200').content?.['application/json']?.schema).toMatchObject({
      required: ['output', 'tool', 'trace_id', 'duration_ms'],
      properties: {
        output: { $ref: '#/components/schemas/demo.echo_1.0.0_Output' },
        tool: { const: 'demo.echo@1.0.0' },
      },
    })
    expect(doc.components?.schemas?.['demo.echo_1.0.0_Input']).toEqual({
      type: 'object',
      required: ['text'],
      properties: { text: { type: 'string', maxLength: 100 } },
      additionalProperties: false,
    })
    expect(echo.responses?.['502']).toBeUndefined()

    const del = op(doc, '/tools/files.delete@1.2.3:invoke', 'post')
    expect(del['x-arw-risk']).toBe('high')
    expect(del['x-arw-hints']).toEqual({ readOnly: false, destructive: true, openWorld: false })
    expect(del['x-arw-capabilities']).toEqual(['fs.read', 'fs.write'])
    // The tool's declared upstream_error adds a 502; pipeline codes are there for every tool.
    expect(problemCodes(doc, del, '502')).toEqual(['upstream_error'])
    expect(problemCodes(doc, del, '409')).toEqual(['conflict'])
    expect(problemCodes(doc, del, '202')).toEqual(['approval_required'])
  })

  it('marks deprecated tool versions deprecated, with their deprecation facts', () => {
    const doc = emit()
    const old = op(doc, '/tools/demo.echo@0.9.0:invoke', 'post')
    expect(old.deprecated).toBe(true)
    expect(old['x-arw-stability']).toBe('deprecated')
    expect(old['x-arw-deprecation']).toEqual({
      since: '2025-01-01',
      sunset: '2026-01-01',
      replacement: 'demo.echo@1.0.0',
    })
    expect(old.description).toContain('Use demo.echo@1.0.0 instead.')
    expect(Object.keys(response(doc, old, '200').headers ?? {})).toEqual([
      'traceparent',
      'idempotent-replayed',
      'deprecation',
      'link',
      'sunset',
    ])
    const beta = op(doc, '/tools/demo.echo@2.0.0-beta.1:invoke', 'post')
    expect(beta.deprecated).toBeUndefined()
    expect(beta['x-arw-stability']).toBe('experimental')
  })

  it('documents the permission a tool declares', () => {
    const registry = fixtureRegistry()
    registry.addTools([
      {
        name: 'vault.open',
        version: '1.0.0',
        title: 'Open the vault',
        description: 'Opens it.',
        input: Type.Object({}),
        output: Type.Object({}),
        permission: 'vault:open',
        handler: () => ({}),
      },
    ])
    const doc = emitOpenApi({ registry, routes: fixtureRoutes(), info })
    const op = doc.paths!['/tools/vault.open@1.0.0:invoke']!.post as OperationObject & Record<string, unknown>
    expect(op['x-arw-permission']).toBe('vault:open')
    expect(op.description).toContain('Needs the permission `vault:open`')
    const other = doc.paths!['/tools/math.add@1.0.0:invoke']?.post as Record<string, unknown> | undefined
    if (other) expect(other['x-arw-permission']).toBeUndefined()
  })

  it('throws once, listing a path parameter missing from params with every other problem', () => {
    const routes = fixtureRoutes()
    routes.push(
      {
        method: 'GET',
        path: '/admin/jobs/{job_id}/steps/{step}',
        operationId: 'getStep',
        summary: 'A step',
        tags: ['jobs'],
        auth: 'admin',
        params: Type.Object({ job_id: Type.String(), extra: Type.String() }),
        responses: { 200: { description: 'The step.' } },
      },
      {
        method: 'GET',
        path: '/admin/other',
        operationId: 'health',
        summary: 'Same operationId as /healthz',
        tags: [],
        auth: 'public',
        responses: { 200: { description: 'ok' } },
        errors: ['teapot' as never],
      },
      {
        method: 'GET',
        path: '/admin/jobs/{id}/steps/{name}',
        operationId: 'getStepAgain',
        summary: 'The same path template under other parameter names',
        tags: [],
        auth: 'admin',
        params: Type.Object({ id: Type.String(), name: Type.String() }),
        responses: { 200: { description: 'ok' } },
      },
    )
    let error: unknown
    try {
      emit(routes)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(SpecError)
    expect((error as SpecError).problems).toEqual([
      'route GET /admin/jobs/{job_id}/steps/{step} (getStep): path parameter {step} is not declared in params',
      'route GET /admin/jobs/{job_id}/steps/{step} (getStep): params declares "extra", which is not in the path',
      'route GET /admin/other (health): errors lists "teapot", which is not a problem code',
      'route GET /admin/other (health): operationId "health" is already used by route GET /healthz (health)',
      'route GET /admin/jobs/{id}/steps/{name} (getStepAgain): GET /admin/jobs/{id}/steps/{name} is already declared by route GET /admin/jobs/{job_id}/steps/{step} (getStep)',
    ])
    expect((error as Error).message).toContain('path parameter {step} is not declared in params')
  })

  it('reports a schema that JSON cannot carry instead of emitting something else', () => {
    const routes = fixtureRoutes()
    routes.push({
      method: 'POST',
      path: '/admin/bad',
      operationId: 'bad',
      summary: 'Bad body schema',
      tags: [],
      auth: 'admin',
      body: Type.Object({ when: Type.String({ default: new Date(0) as never }) }),
      responses: { 200: { description: 'ok' } },
    })
    expect(() => emit(routes)).toThrow(
      'route POST /admin/bad (bad) body/properties/when/default: a Date object is not a JSON value',
    )
  })
})
