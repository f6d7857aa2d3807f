import { ERRORS, ProblemError } from '@arw/protocol'
import { defineTool, Registry } from '@arw/registry'
import Type from 'typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { surfaceRoutes } from '../../routes.ts'
import { type TestDaemon, testDaemon } from '../../testing/harness.ts'
import { BindingClashError, bindingRoutes } from './bindings.ts'

const Conn = Type.Object({ id: Type.Integer(), name: Type.String() })
const conns = new Map<number, string>([[7, 'seven']])
let created = 0
let reads = 0

const extraTools = [
  defineTool({
    name: 'test.conn.get',
    version: '1.0.0',
    title: 'Get a connection',
    description: 'Echoes its input, so a test sees how the request was mapped.',
    input: Type.Object(
      {
        id: Type.Integer({ minimum: 1 }),
        verbose: Type.Optional(Type.Boolean()),
        tags: Type.Optional(Type.Array(Type.String())),
        limit: Type.Integer({ default: 10 }),
      },
      { additionalProperties: false },
    ),
    output: Type.Object({
      id: Type.Integer(),
      verbose: Type.Optional(Type.Boolean()),
      tags: Type.Optional(Type.Array(Type.String())),
      limit: Type.Integer(),
    }),
    http: { method: 'GET', path: '/conns/{id}' },
    handler: (input) => {
      reads++
      return input
    },
  }),
  defineTool({
    name: 'test.conn.update',
    version: '1.0.0',
    title: 'Rename a connection',
    description: 'PATCH and PUT on one record; a taken name is a conflict.',
    input: Type.Object({ id: Type.Integer(), name: Type.String() }, { additionalProperties: false }),
    output: Conn,
    errors: ['conflict', 'not_found'],
    http: [
      { method: 'PATCH', path: '/conns/{id}' },
      { method: 'PUT', path: '/conns/{id}' },
    ],
    handler: ({ id, name }) => {
      if (!conns.has(id)) throw new ProblemError(ERRORS.not_found, { what: `connection ${id}` })
      if ([...conns.values()].includes(name)) {
        throw new ProblemError(ERRORS.conflict, { reason: `the name ${name} is taken` })
      }
      conns.set(id, name)
      return { id, name }
    },
  }),
  defineTool({
    name: 'test.conn.create',
    version: '1.0.0',
    title: 'Create a connection',
    description: 'Counts its runs, so a replay is visible.',
    input: Type.Object({ name: Type.String() }, { additionalProperties: false }),
    output: Conn,
    http: { method: 'POST', path: '/conns', status: 201 },
    handler: ({ name }) => {
      created++
      const id = 100 + created
      conns.set(id, name)
      return { id, name }
    },
  }),
  defineTool({
    name: 'test.conn.delete',
    version: '1.0.0',
    title: 'Delete a connection',
    description: 'Answers nothing.',
    input: Type.Object({ id: Type.Integer() }),
    output: Type.Object({}),
    http: { method: 'DELETE', path: '/conns/{id}', status: 204 },
    handler: ({ id }) => {
      conns.delete(id)
      return {}
    },
  }),
  defineTool({
    name: 'test.conn.old',
    version: '1.0.0',
    title: 'Old listing',
    description: 'A deprecated version served by its binding.',
    input: Type.Object({}),
    output: Type.Object({}),
    stability: 'deprecated',
    deprecation: { since: '2026-01-01T00:00:00Z', replacement: 'test.conn.get@1.0.0' },
    http: { method: 'GET', path: '/conns-old' },
    handler: () => ({}),
  }),
]

let d: TestDaemon

beforeAll(async () => {
  d = await testDaemon({ extraTools })
})

afterAll(async () => {
  await d.close()
})

describe('REST bindings', () => {
  it('maps path parameters and the query onto the input, coerced by the input schema, and answers the output', async () => {
    const res = await d.app.inject({
      method: 'GET',
      url: '/conns/7?verbose=true&tags=a&tags=b',
      headers: d.admin,
    })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    // The body is the tool's output itself (defaults applied), not the invoke envelope.
    expect(res.json()).toEqual({ id: 7, verbose: true, tags: ['a', 'b'], limit: 10 })
    const single = await d.app.inject({ method: 'GET', url: '/conns/7?tags=a&limit=3', headers: d.admin })
    expect(single.json()).toEqual({ id: 7, tags: ['a'], limit: 3 })
  })

  it('answers HEAD on a GET binding with 404 route_not_found, without running the tool', async () => {
    const before = reads
    const head = d.app.arw.journal.head
    const res = await d.app.inject({ method: 'HEAD', url: '/conns/7', headers: d.admin })
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.body).toBe('')
    expect(reads).toBe(before)
    expect((await d.app.arw.journal.read(head, 10)).filter((e) => e.kind === 'tool.ran')).toEqual([])
    // GET on the same path still runs it.
    expect((await d.app.inject({ method: 'GET', url: '/conns/7', headers: d.admin })).statusCode).toBe(200)
    expect(reads).toBe(before + 1)
  })

  it('answers the pipeline validation problem, pointing at the fields where they were sent, with the request path as instance', async () => {
    const res = await d.app.inject({ method: 'GET', url: '/conns/x?verbose=maybe&extra=1', headers: d.admin })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    const problem = res.json()
    expect(problem).toMatchObject({ code: 'validation_failed', instance: '/conns/x' })
    expect(problem.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual([
      '/params/id',
      '/query/extra',
      '/query/verbose',
    ])
  })

  it('takes the JSON body as the input with path parameters merged in, on each declared method', async () => {
    const patched = await d.app.inject({
      method: 'PATCH',
      url: '/conns/7',
      headers: d.admin,
      payload: { name: 'patched' },
    })
    expect(patched.statusCode).toBe(200)
    expect(patched.json()).toEqual({ id: 7, name: 'patched' })
    // A body that repeats the path parameter with the same value is fine.
    const put = await d.app.inject({
      method: 'PUT',
      url: '/conns/7',
      headers: d.admin,
      payload: { id: 7, name: 'put' },
    })
    expect(put.json()).toEqual({ id: 7, name: 'put' })
    expect(conns.get(7)).toBe('put')
    // The input's problems point into the body, as on the daemon's other routes.
    const bad = await d.app.inject({
      method: 'PATCH',
      url: '/conns/7',
      headers: d.admin,
      payload: { name: 5 },
    })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({
      instance: '/conns/7',
      errors: [{ pointer: '/name', keyword: 'type' }],
    })
  })

  it('refuses a body or query value that contradicts the path parameter, before the tool runs', async () => {
    const before = d.app.arw.journal.head
    const body = await d.app.inject({
      method: 'PUT',
      url: '/conns/7',
      headers: d.admin,
      payload: { id: 8, name: 'other' },
    })
    expect(body.statusCode).toBe(400)
    expect(body.json()).toMatchObject({
      code: 'validation_failed',
      instance: '/conns/7',
      errors: [{ pointer: '/id', keyword: 'const' }],
    })
    const query = await d.app.inject({ method: 'GET', url: '/conns/7?id=8', headers: d.admin })
    expect(query.statusCode).toBe(400)
    expect(query.json()).toMatchObject({ errors: [{ pointer: '/query/id' }] })
    const array = await d.app.inject({ method: 'PUT', url: '/conns/7', headers: d.admin, payload: [1] })
    expect(array.statusCode).toBe(400)
    expect(array.json()).toMatchObject({
      errors: [{ pointer: '', message: 'the body must be a JSON object' }],
    })
    expect(conns.get(7)).toBe('put')
    expect(d.app.arw.journal.head).toBe(before)
  })

  it('answers the declared status: 201 with the output, 204 with no body', async () => {
    const post = await d.app.inject({
      method: 'POST',
      url: '/conns',
      headers: d.admin,
      payload: { name: 'new' },
    })
    expect(post.statusCode).toBe(201)
    const { id } = post.json() as { id: number }
    expect(conns.get(id)).toBe('new')
    const del = await d.app.inject({ method: 'DELETE', url: `/conns/${id}`, headers: d.admin })
    expect(del.statusCode).toBe(204)
    expect(del.body).toBe('')
    expect(del.headers['content-type']).toBeUndefined()
    expect(conns.has(id)).toBe(false)
  })

  it('replays the first answer, with its status, to a retry with the same Idempotency-Key', async () => {
    const headers = { ...d.admin, 'idempotency-key': 'bind-create-1' }
    const first = await d.app.inject({ method: 'POST', url: '/conns', headers, payload: { name: 'once' } })
    const runs = created
    const second = await d.app.inject({ method: 'POST', url: '/conns', headers, payload: { name: 'once' } })
    expect(created).toBe(runs)
    expect(second.statusCode).toBe(201)
    expect(second.json()).toEqual(first.json())
    expect(second.headers['idempotent-replayed']).toBe('true')
    expect(first.headers['idempotent-replayed']).toBeUndefined()
    const changed = await d.app.inject({ method: 'POST', url: '/conns', headers, payload: { name: 'twice' } })
    expect(changed.statusCode).toBe(409)
    expect(changed.json()).toMatchObject({
      type: 'urn:arw:problem:idempotency_conflict',
      code: 'conflict',
      instance: '/conns',
    })
  })

  it('continues the caller trace and records the call under it', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const res = await d.app.inject({
      method: 'GET',
      url: '/conns/7',
      headers: { ...d.admin, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    })
    expect(res.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-(?!00f067aa0ba902b7)[0-9a-f]{16}-01$`))
    const [record] = await d.app.arw.journal.byTrace(traceId)
    expect(record).toMatchObject({
      kind: 'tool.ran',
      payload: { tool: 'test.conn.get@1.0.0', outcome: 'ok', surface: 'http', input: { id: 7, limit: 10 } },
    })
  })

  it("answers a tool's problem with the request path as instance, and refuses a caller without the token", async () => {
    const taken = await d.app.inject({
      method: 'PATCH',
      url: '/conns/7',
      headers: d.admin,
      payload: { name: 'put' },
    })
    expect(taken.statusCode).toBe(409)
    expect(taken.json()).toMatchObject({
      code: 'conflict',
      instance: '/conns/7',
      trace_id: expect.any(String),
    })
    const missing = await d.app.inject({
      method: 'PATCH',
      url: '/conns/99',
      headers: d.admin,
      payload: { name: 'x' },
    })
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toMatchObject({ code: 'not_found', instance: '/conns/99' })
    const anonymous = await d.app.inject({ method: 'GET', url: '/conns/7' })
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.json()).toMatchObject({ code: 'unauthorized', instance: '/conns/7' })
  })

  it('marks a deprecated version with the same headers as :invoke does', async () => {
    const res = await d.app.inject({ method: 'GET', url: '/conns-old', headers: d.admin })
    expect(res.statusCode).toBe(200)
    expect(res.headers.deprecation).toBe(`@${Date.parse('2026-01-01T00:00:00Z') / 1000}`)
    expect(res.headers.link).toContain('</tools/test.conn.get@1.0.0:invoke>; rel="successor-version"')
  })
})

describe('REST bindings against the daemon routes', () => {
  it("refuses a binding on one of the daemon's own routes, naming both", () => {
    const registry = new Registry()
    registry.addTools([
      defineTool({
        name: 'test.health',
        version: '1.0.0',
        title: 'Shadow health',
        description: 'Takes a route the daemon serves.',
        input: Type.Object({}),
        output: Type.Object({}),
        http: { method: 'GET', path: '/healthz' },
        handler: () => ({}),
      }),
      defineTool({
        name: 'test.invoke',
        version: '1.0.0',
        title: 'Shadow invoke',
        description: 'Takes the route :invoke is served at.',
        input: Type.Object({ name: Type.String() }),
        output: Type.Object({}),
        http: { method: 'POST', path: '/tools/{name}' },
        handler: () => ({}),
      }),
    ])
    expect(() => bindingRoutes(registry, surfaceRoutes())).toThrow(BindingClashError)
    expect(() => bindingRoutes(registry, surfaceRoutes())).toThrow(
      /test\.health@1\.0\.0: http GET \/healthz is the route of health\n {2}- test\.invoke@1\.0\.0: http POST \/tools\/\{name\} is the route of invokeTool/,
    )
  })
})
