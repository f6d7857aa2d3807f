import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { invoke, rest, StateDir } from './support.ts'

// An OpenAPI service the test serves on loopback, linked into a daemon with a bound secret: its
// operations become tools, called over HTTP invoke through the pipeline, the connection's retries
// and the driver's request mapping. The service checks the credentials and counts its hits.

const SECRET = 'openapi-e2e-secret-51b7'

const doc = {
  openapi: '3.1.0',
  info: { title: 'Inventory', version: '2.0.0' },
  servers: [{ url: '/v2' }],
  security: [{ bearer: [] }],
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      key: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    },
    schemas: {
      Item: {
        type: 'object',
        required: ['id', 'name'],
        properties: { id: { type: 'integer' }, name: { type: 'string' }, q: { type: ['string', 'null'] } },
        additionalProperties: false,
      },
    },
  },
  paths: {
    '/items/{id}': {
      get: {
        operationId: 'getItem',
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { type: 'integer' } },
          { name: 'q', in: 'query', schema: { type: 'string' } },
        ],
        responses: {
          '200': {
            description: 'ok',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Item' } } },
          },
        },
      },
    },
    '/items': {
      post: {
        operationId: 'createItem',
        security: [{ key: [] }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
            },
          },
        },
        responses: {
          '201': {
            description: 'made',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Item' } } },
          },
        },
      },
    },
    '/limited': { get: { operationId: 'limitedRead', responses: { '200': { description: 'ok' } } } },
    // Not a valid schema: left out, and said so in the link's health.
    '/broken': {
      get: {
        operationId: 'brokenRead',
        responses: {
          '200': { description: 'ok', content: { 'application/json': { schema: { type: 'strng' } } } },
        },
      },
    },
    '/echo': { get: { operationId: 'echoAuth', responses: { '200': { description: 'ok' } } } },
    '/flaky': {
      get: { operationId: 'flakyRead', responses: { '200': { description: 'ok' } } },
      post: { operationId: 'flakyWrite', responses: { '200': { description: 'ok' } } },
    },
  },
}

let upstream: Server
let origin: string
const hits = new Map<string, number[]>()
/** 429 answers `/limited` still gives before it answers 200. */
let limitedLeft = 0

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

function handle(req: IncomingMessage, res: ServerResponse, body: string) {
  const url = new URL(req.url!, 'http://x')
  if (url.pathname === '/openapi.json') return send(res, 200, doc)
  const route = `${req.method} ${url.pathname}`
  hits.set(route, [...(hits.get(route) ?? []), performance.now()])
  const item = /^\/v2\/items\/(\d+)$/.exec(url.pathname)
  if (item && req.method === 'GET') {
    if (req.headers.authorization !== `Bearer ${SECRET}`) return send(res, 401, { error: 'bad token' })
    return send(res, 200, { id: Number(item[1]), name: 'bolt', q: url.searchParams.get('q') })
  }
  if (route === 'POST /v2/items') {
    if (req.headers['x-api-key'] !== SECRET) return send(res, 401, { error: 'bad key' })
    return send(res, 201, { id: 9, ...JSON.parse(body) })
  }
  if (route === 'GET /v2/limited') {
    if (limitedLeft-- > 0) return send(res, 429, { error: 'slow down' }, { 'retry-after': '1' })
    return send(res, 200, { ok: true })
  }
  if (url.pathname === '/v2/flaky') return send(res, 500, { error: 'boom' })
  // A careless service that repeats the credentials it was sent in its error.
  if (route === 'GET /v2/echo') return send(res, 403, { error: `not for ${req.headers.authorization}` })
  send(res, 404, { error: 'no route' })
}

let state: StateDir
let app: FastifyInstance
let link: { tools: string[]; status: string; health: { ok: boolean; errors: string[] } }

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => {
      body += chunk
    })
    req.on('end', () => handle(req, res, body))
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
  state = new StateDir()
  app = await state.start()
  const created = await rest(app, 'POST', '/connections', {
    id: 'c-inventory',
    connectorId: 'http',
    target: { openapi: `${origin}/openapi.json` },
    retry: { maxAttempts: 3 },
    backoff: { initialMs: 10, maxMs: 40 },
    breaker: { failures: 50, halfOpenAfterMs: 1000 },
  })
  expect(created.status).toBe(200)
  expect((await rest(app, 'POST', '/connections/c-inventory/bind-secret', { secret: SECRET })).status).toBe(
    200,
  )
  const linked = await rest(app, 'POST', '/links', {
    id: 'l-inventory',
    connectionId: 'c-inventory',
    serviceId: 'inventory',
    autoEnable: true,
  })
  expect(linked.status).toBe(200)
  link = linked.body.link
})

afterAll(async () => {
  await app?.close()
  state?.remove()
  upstream.closeAllConnections()
  await new Promise((resolve) => upstream.close(resolve))
})

beforeEach(() => hits.clear())

describe('an OpenAPI service linked under a namespace', () => {
  it('imports each operation as a tool, listed with its schemas', async () => {
    expect(link.status).toBe('up')
    expect(link.tools.sort()).toEqual([
      'inventory.create_item@1.0.0',
      'inventory.echo_auth@1.0.0',
      'inventory.flaky_read@1.0.0',
      'inventory.flaky_write@1.0.0',
      'inventory.get_item@1.0.0',
      'inventory.limited_read@1.0.0',
    ])
    // The operation that could not be read is not a tool, and the link's health says why.
    expect(link.health.ok).toBe(true)
    expect(link.health.errors).toEqual([
      expect.stringMatching(/^GET \/broken: output schema is not valid JSON Schema/),
    ])
    const listed = await rest(app, 'GET', '/admin/introspect/tools')
    expect((listed.body as { id: string }[]).map((t) => t.id)).toContain('inventory.get_item@1.0.0')
    const schema = await rest(app, 'GET', '/admin/introspect/schemas/inventory.get_item@1.0.0')
    expect(schema.status).toBe(200)
    expect(JSON.stringify(schema.body)).toContain('"q"')
  })

  it('calls an operation with path and query mapped and the bearer token from the bound secret', async () => {
    const res = await invoke(app, 'inventory.get_item', { id: 42, q: 'm8 x 20' })
    expect(res.status).toBe(200)
    expect(res.body.output).toEqual({ id: 42, name: 'bolt', q: 'm8 x 20' })
    expect(hits.get('GET /v2/items/42')).toHaveLength(1)
    // The input schema is the operation's: a string id is refused before anything goes upstream.
    const bad = await invoke(app, 'inventory.get_item', { id: 'x' })
    expect(bad.status).toBe(400)
    expect(bad.body.code).toBe('validation_failed')
    expect(hits.size).toBe(1)
  })

  it('sends a JSON body with the API key the operation declares, from the same secret', async () => {
    const res = await invoke(app, 'inventory.create_item', { body: { name: 'nut' } })
    expect(res.status).toBe(200)
    expect(res.body.output).toEqual({ id: 9, name: 'nut' })
    expect(JSON.stringify(res.body)).not.toContain(SECRET)
  })

  it("honours a 429's Retry-After: waits at least that long, then the retry succeeds", async () => {
    limitedLeft = 1
    const head = app.arw.journal.head
    const res = await invoke(app, 'inventory.limited_read', {})
    expect(res.status).toBe(200)
    const times = hits.get('GET /v2/limited')!
    expect(times).toHaveLength(2)
    // The backoff (10-40 ms) was stretched to the upstream's one second.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(990)
    const backoff = (await app.arw.journal.read(head, 100)).filter(
      (e) => e.kind === 'connections.backoff_applied',
    )
    expect(backoff).toHaveLength(1)
    const payload = backoff[0]!.payload as { delayMs: number }
    expect(payload).toMatchObject({ id: 'c-inventory', tool: 'inventory.limited_read@1.0.0', attempt: 1 })
    expect(payload.delayMs).toBeGreaterThanOrEqual(1000)
  })

  it('answers rate_limited with Retry-After when the upstream keeps refusing', async () => {
    limitedLeft = 10
    const res = await invoke(app, 'inventory.limited_read', {})
    expect(res.status).toBe(429)
    expect(res.body.code).toBe('rate_limited')
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    limitedLeft = 0
  })

  it('retries a 5xx only when the operation is safe to repeat (counted upstream)', async () => {
    const read = await invoke(app, 'inventory.flaky_read', {})
    expect(read.status).toBe(502)
    expect(read.body.code).toBe('upstream_error')
    expect(read.body.detail).toMatch(/status 500.*boom/)
    expect(hits.get('GET /v2/flaky')).toHaveLength(3)
    const write = await invoke(app, 'inventory.flaky_write', {})
    expect(write.status).toBe(502)
    expect(hits.get('POST /v2/flaky')).toHaveLength(1)
  })

  it('never passes on the secret, even when the service echoes it: not in the answer, not in the journal', async () => {
    const head = app.arw.journal.head
    const res = await invoke(app, 'inventory.echo_auth', {})
    expect(res.status).toBe(502)
    expect(res.body.detail).toContain('not for Bearer [redacted]')
    expect(JSON.stringify(res.body)).not.toContain(SECRET)
    const written = await app.arw.journal.read(head, 100)
    expect(written.some((e) => e.kind === 'tool.ran')).toBe(true)
    expect(JSON.stringify(written)).not.toContain(SECRET)
  })
})
