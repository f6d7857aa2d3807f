import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { compileValidator } from '@arw/registry'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type UpstreamCall, UpstreamError, type UpstreamSession } from '../driver.ts'
import { upstreamFailure } from './failure.test-support.ts'
import { httpDriver, importProblems } from './http.ts'

// A REST service the test serves on loopback, described by its own OpenAPI document; every
// request it gets is recorded so the tests see what the driver really sent.

const SECRET = 'canary-s3cret-9f2c'
const logger = pino({ level: 'silent' })

interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

const doc30 = {
  openapi: '3.0.3',
  info: { title: 'Pets', version: '1.0.0' },
  servers: [{ url: '/api' }],
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      headerKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      queryKey: { type: 'apiKey', in: 'query', name: 'api_key' },
    },
    schemas: {
      Pet: {
        type: 'object',
        required: ['id', 'name'],
        properties: {
          id: { type: 'integer' },
          name: { type: 'string' },
          nickname: { type: 'string', nullable: true },
          tags: { type: 'array', items: { type: 'string' } },
        },
      },
      NewPet: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } },
      Tree: {
        type: 'object',
        properties: {
          label: { type: 'string' },
          children: { type: 'array', items: { $ref: '#/components/schemas/Tree' } },
        },
      },
    },
    parameters: {
      petId: { name: 'petId', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } },
    },
  },
  paths: {
    '/pets/{petId}': {
      parameters: [{ $ref: '#/components/parameters/petId' }],
      get: {
        operationId: 'getPet',
        summary: 'One pet',
        parameters: [
          {
            name: 'fields',
            in: 'query',
            schema: { type: 'array', items: { type: 'string' } },
            style: 'form',
            explode: false,
          },
          { name: 'tag', in: 'query', schema: { type: 'array', items: { type: 'string' } } },
          { name: 'X-Trace', in: 'header', schema: { type: 'string' } },
        ],
        responses: {
          '200': {
            description: 'ok',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } },
          },
        },
      },
      put: {
        operationId: 'replacePet',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/NewPet' } } },
        },
        responses: {
          '200': {
            description: 'ok',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } },
          },
        },
      },
    },
    '/pets': {
      get: {
        operationId: 'listPets',
        parameters: [
          {
            name: 'limit',
            in: 'query',
            schema: { type: 'integer', minimum: 1, maximum: 100, exclusiveMaximum: true },
          },
        ],
        responses: {
          '200': {
            description: 'ok',
            content: {
              'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/Pet' } } },
            },
          },
        },
      },
      post: {
        operationId: 'createPet',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/NewPet' } } },
        },
        responses: {
          '201': {
            description: 'made',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } },
          },
        },
      },
    },
    '/files/{path}': {
      get: {
        parameters: [{ name: 'path', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } },
        },
      },
    },
    '/tree': {
      post: {
        operationId: 'echoTree',
        requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Tree' } } } },
        responses: {
          '200': {
            description: 'ok',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Tree' } } },
          },
        },
      },
    },
    '/secure/bearer': {
      get: {
        operationId: 'bearerOnly',
        security: [{ bearer: [] }],
        responses: { '200': { description: 'ok' } },
      },
    },
    '/secure/header-key': {
      get: {
        operationId: 'headerKey',
        security: [{ headerKey: [] }],
        responses: { '200': { description: 'ok' } },
      },
    },
    '/secure/query-key': {
      get: {
        operationId: 'queryKey',
        security: [{ queryKey: [] }],
        responses: { '200': { description: 'ok' } },
      },
    },
    '/secure/echo': {
      get: {
        operationId: 'echoesAuth',
        security: [{ bearer: [] }],
        responses: { '200': { description: 'ok' } },
      },
    },
    '/limited': {
      get: { operationId: 'limited', responses: { '200': { description: 'ok' } } },
      post: { operationId: 'busy', responses: { '200': { description: 'ok' } } },
    },
    '/flaky': {
      get: { operationId: 'flakyRead', responses: { '200': { description: 'ok' } } },
      post: { operationId: 'flakyWrite', responses: { '200': { description: 'ok' } } },
    },
    '/drop': {
      get: { operationId: 'dropRead', responses: { '200': { description: 'ok' } } },
      post: { operationId: 'dropWrite', responses: { '200': { description: 'ok' } } },
    },
    '/stall': { get: { operationId: 'stall', responses: { '200': { description: 'ok' } } } },
    '/broken-schema': {
      get: {
        operationId: 'brokenSchema',
        responses: {
          '200': { description: 'ok', content: { 'application/json': { schema: { type: 'strng' } } } },
        },
      },
    },
    '/external-ref': {
      get: {
        operationId: 'externalRef',
        responses: {
          '200': {
            description: 'ok',
            content: { 'application/json': { schema: { $ref: 'other.yaml#/Pet' } } },
          },
        },
      },
    },
  },
}

const seen: Seen[] = []
const stalled = new Set<ServerResponse>()
let server: Server
let origin: string

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
    ...headers,
  })
  res.end(text)
}

function handle(req: IncomingMessage, res: ServerResponse, body: string) {
  const url = new URL(req.url!, 'http://x')
  const route = `${req.method} ${url.pathname}`
  if (route === 'GET /openapi.json') return send(res, 200, doc30)
  seen.push({ method: req.method!, url: req.url!, headers: req.headers, body })
  const pet = /^\/api\/pets\/(\d+)$/.exec(url.pathname)
  if (pet && req.method === 'GET') {
    return send(res, 200, {
      id: Number(pet[1]),
      name: 'Rex',
      nickname: null,
      tags: url.searchParams.getAll('tag'),
    })
  }
  if (pet && req.method === 'PUT') return send(res, 200, { id: Number(pet[1]), ...JSON.parse(body) })
  if (route === 'GET /api/pets') return send(res, 200, [{ id: 1, name: 'Rex' }])
  if (route === 'POST /api/pets') return send(res, 201, { id: 7, ...JSON.parse(body) })
  if (url.pathname.startsWith('/api/files/')) return send(res, 200, { raw: req.url })
  if (route === 'POST /api/tree') return send(res, 200, JSON.parse(body))
  if (route === 'GET /api/secure/bearer') {
    return req.headers.authorization === `Bearer ${SECRET}`
      ? send(res, 200, { ok: true })
      : send(res, 401, { error: 'no' })
  }
  if (route === 'GET /api/secure/header-key') {
    return req.headers['x-api-key'] === SECRET
      ? send(res, 200, { ok: true })
      : send(res, 401, { error: 'no' })
  }
  if (route === 'GET /api/secure/query-key') {
    return url.searchParams.get('api_key') === SECRET
      ? send(res, 200, { ok: true })
      : send(res, 401, { error: 'no' })
  }
  // A careless upstream that repeats the credentials it was sent in its error.
  if (route === 'GET /api/secure/echo') return send(res, 403, `forbidden for ${req.headers.authorization}`)
  if (route === 'GET /api/limited') return send(res, 429, { error: 'slow down' }, { 'retry-after': '2' })
  if (route === 'POST /api/limited') return send(res, 503, { error: 'busy' }, { 'retry-after': '3' })
  if (url.pathname === '/api/flaky') return send(res, 500, { error: 'boom' })
  if (url.pathname === '/api/drop') {
    req.socket.destroy()
    return
  }
  if (route === 'GET /api/stall') {
    stalled.add(res)
    return
  }
  if (route === 'HEAD /api') return send(res, 404, '')
  send(res, 404, { error: 'no route' })
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      body += chunk
    })
    req.on('end', () => handle(req, res, body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  for (const res of stalled) res.destroy()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

function call(options: Partial<UpstreamCall> = {}): UpstreamCall {
  return { signal: new AbortController().signal, timeoutMs: 10_000, progress: () => {}, ...options }
}

/** Opens a session with the secret bound (`null`: none bound). */
async function open(
  target: Record<string, unknown>,
  secret: string | null = SECRET,
): Promise<UpstreamSession> {
  expect(httpDriver.checkTarget(target)).toEqual([])
  return httpDriver.open({
    target,
    secret: secret ?? undefined,
    signal: AbortSignal.timeout(10_000),
    logger,
    egress: () => {},
  })
}

describe('the http driver reads an OpenAPI document', () => {
  let session: UpstreamSession
  beforeAll(async () => {
    session = await open({ openapi: `${origin}/openapi.json` })
  })
  afterAll(() => session.close())

  it('turns each operation into a tool with parameters and body as input properties', async () => {
    const tools = await session.tools()
    const byName = new Map(tools.map((t) => [t.name, t]))
    expect([...byName.keys()]).toContain('getPet')
    expect([...byName.keys()]).toContain('get_files_path')
    const getPet = byName.get('getPet')!
    expect(getPet.input).toMatchObject({
      type: 'object',
      required: ['petId'],
      additionalProperties: false,
      properties: {
        petId: { type: 'integer', minimum: 1 },
        fields: { type: 'array' },
        'X-Trace': { type: 'string' },
      },
    })
    // The Pet component is inlined; OpenAPI 3.0's `nullable` became a JSON Schema type list.
    expect(getPet.output).toMatchObject({
      type: 'object',
      properties: { nickname: { type: ['string', 'null'] } },
    })
    expect(getPet.hints).toMatchObject({ readOnly: true, idempotent: true })
    expect(getPet.retrySafe).toBe(true)
    const createPet = byName.get('createPet')!
    expect(createPet.input).toMatchObject({
      required: ['body'],
      properties: { body: { required: ['name'] } },
    })
    expect(createPet.retrySafe).toBe(false)
    // 3.0's boolean exclusiveMaximum became 2020-12's number.
    expect(byName.get('listPets')!.input).toMatchObject({ properties: { limit: { exclusiveMaximum: 100 } } })
    // An array answer is wrapped so that the output is an object.
    expect(byName.get('listPets')!.output).toMatchObject({
      type: 'object',
      required: ['body'],
      properties: { body: { type: 'array' } },
    })
  })

  it('imports a recursive schema through $defs, in a form the registry validates', async () => {
    const tree = (await session.tools()).find((t) => t.name === 'echoTree')!
    const validator = compileValidator(tree.input as never)
    expect(validator.check({ body: { label: 'a', children: [{ label: 'b', children: [] }] } })).toBe(true)
    expect(validator.check({ body: { label: 'a', children: [{ label: 3 }] } })).toBe(false)
    const out = await session.call('echoTree', { body: { label: 'a', children: [{ label: 'b' }] } }, call())
    expect(out).toEqual({ label: 'a', children: [{ label: 'b' }] })
  })

  it('skips a malformed operation and says why, importing the rest', async () => {
    const names = (await session.tools()).map((t) => t.name)
    expect(names).not.toContain('brokenSchema')
    expect(names).not.toContain('externalRef')
    const problems = importProblems(session)
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^GET \/broken-schema: .*schema\/type/),
        expect.stringMatching(/^GET \/external-ref: .*leaves the document/),
      ]),
    )
    expect(problems).toHaveLength(2)
  })

  it('maps path, query, header and body onto the request', async () => {
    seen.length = 0
    const pet = await session.call(
      'getPet',
      { petId: 12, fields: ['id', 'name'], tag: ['a', 'b c'], 'X-Trace': 't-1' },
      call(),
    )
    expect(pet).toEqual({ id: 12, name: 'Rex', nickname: null, tags: ['a', 'b c'] })
    expect(seen[0]!.url).toBe('/api/pets/12?fields=id,name&tag=a&tag=b%20c')
    expect(seen[0]!.headers['x-trace']).toBe('t-1')
    expect(seen[0]!.headers.traceparent).toBeUndefined()
    const made = await session.call('createPet', { body: { name: 'Kit' } }, call())
    expect(made).toEqual({ id: 7, name: 'Kit' })
    expect(seen[1]!.headers['content-type']).toBe('application/json')
    expect(JSON.parse(seen[1]!.body)).toEqual({ name: 'Kit' })
    expect(await session.call('listPets', {}, call())).toEqual({ body: [{ id: 1, name: 'Rex' }] })
  })

  it("sends the call's trace upstream as traceparent", async () => {
    seen.length = 0
    const trace = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), flags: '01' }
    await session.call('listPets', {}, call({ trace }))
    expect(seen[0]!.headers.traceparent).toBe(`00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`)
  })

  it('percent-encodes path parameters and refuses dot segments', async () => {
    const out = await session.call('get_files_path', { path: 'a/b c?d' }, call())
    expect(out).toEqual({ raw: '/api/files/a%2Fb%20c%3Fd' })
    const error = await upstreamFailure(session.call('get_files_path', { path: '..' }, call()))
    expect(error.message).toMatch(/must not be "\." or "\.\."/)
  })

  it('fills bearer and API-key schemes from the bound secret (the server checks it)', async () => {
    expect(await session.call('bearerOnly', {}, call())).toEqual({ ok: true })
    expect(await session.call('headerKey', {}, call())).toEqual({ ok: true })
    expect(await session.call('queryKey', {}, call())).toEqual({ ok: true })
    const without = await open({ openapi: `${origin}/openapi.json` }, null)
    const error = await upstreamFailure(without.call('bearerOnly', {}, call()))
    expect(error.status).toBe(401)
    await without.close()
  })

  it('never lets the secret out in an error, even when the upstream echoes it', async () => {
    const error = await upstreamFailure(session.call('echoesAuth', {}, call()))
    expect(error.status).toBe(403)
    expect(error.excerpt).toContain('forbidden for Bearer [redacted]')
    expect(JSON.stringify({ m: error.message, e: error.excerpt })).not.toContain(SECRET)
  })

  it('surfaces 429 and 503 with Retry-After as retryable, with the wait', async () => {
    const limited = await upstreamFailure(session.call('limited', {}, call()))
    expect(limited).toMatchObject({ status: 429, retryable: true, retryAfterMs: 2000 })
    expect(limited.excerpt).toContain('slow down')
    const busy = await upstreamFailure(session.call('busy', {}, call()))
    expect(busy).toMatchObject({ status: 503, retryable: true, retryAfterMs: 3000 })
  })

  it('marks a 5xx retryable only when the method is safe to repeat', async () => {
    expect(await upstreamFailure(session.call('flakyRead', {}, call()))).toMatchObject({
      status: 500,
      retryable: true,
    })
    expect(await upstreamFailure(session.call('flakyWrite', {}, call()))).toMatchObject({
      status: 500,
      retryable: false,
    })
  })

  it('a dropped connection is retryable only when the method is safe to repeat', async () => {
    expect(await upstreamFailure(session.call('dropRead', {}, call()))).toMatchObject({
      status: undefined,
      retryable: true,
    })
    expect(await upstreamFailure(session.call('dropWrite', {}, call()))).toMatchObject({
      status: undefined,
      retryable: false,
    })
  })

  it('ends a stalled call at its timeout, and a cancelled one when the caller aborts', async () => {
    const timedOut = await upstreamFailure(session.call('stall', {}, call({ timeoutMs: 50 })))
    expect(timedOut.timedOut).toBe(true)
    const caller = new AbortController()
    const pending = session.call('stall', {}, call({ signal: caller.signal }))
    caller.abort()
    const cancelled = await upstreamFailure(pending)
    expect(cancelled.timedOut).toBe(false)
    expect(cancelled.message).toMatch(/cancelled/)
  })

  it('pings the base URL: any answer below 500 means the service is there', async () => {
    await expect(session.ping(AbortSignal.timeout(5000))).resolves.toBeUndefined()
  })
})

describe('the http driver refuses what it cannot use', () => {
  it('says what is wrong with a target', () => {
    expect(httpDriver.checkTarget({})).toEqual([expect.stringMatching(/target.openapi is required/)])
    expect(
      httpDriver.checkTarget({ openapi: 'file:///etc/passwd', baseUrl: 'ftp://x', extra: 1 }),
    ).toHaveLength(3)
  })

  it('rejects a malformed document with a clear error from open()', async () => {
    const noInfo = { openapi: '3.1.0', paths: {} }
    const error = await upstreamFailure(open({ openapi: noInfo, baseUrl: origin }))
    expect(error.message).toMatch(/OpenAPI document is invalid: .*info/)
    const swagger = await upstreamFailure(
      open({ openapi: { swagger: '2.0', info: {}, paths: {} }, baseUrl: origin }),
    )
    expect(swagger.message).toMatch(/only OpenAPI 3.0 and 3.1/)
  })

  it('needs a base URL for an inline document whose server is relative', async () => {
    const error = await upstreamFailure(open({ openapi: { ...doc30 } }))
    expect(error.message).toMatch(/set target.baseUrl/)
  })

  it('reads an inline 3.1 document and calls through the given base URL', async () => {
    const doc31 = {
      openapi: '3.1.0',
      info: { title: 'Pets', version: '1' },
      paths: {
        '/pets/{petId}': {
          get: {
            operationId: 'getPet',
            parameters: [{ name: 'petId', in: 'path', required: true, schema: { type: 'integer' } }],
            responses: {
              '200': {
                description: 'ok',
                content: {
                  'application/json': {
                    schema: { type: 'object', properties: { nickname: { type: ['string', 'null'] } } },
                  },
                },
              },
            },
          },
        },
      },
    }
    const session = await open({ openapi: doc31, baseUrl: `${origin}/api` })
    expect(await session.call('getPet', { petId: 3 }, call())).toMatchObject({ id: 3, name: 'Rex' })
    await session.close()
  })

  it('says a refused connection sent nothing (retryable), and ping fails', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const session = await open({ openapi: doc30, baseUrl: `http://127.0.0.1:${port}/api` })
    const error = await upstreamFailure(session.call('createPet', { body: { name: 'x' } }, call()))
    expect(error).toMatchObject({ retryable: true, status: undefined })
    expect(error.message).toMatch(/ECONNREFUSED/)
    await expect(session.ping(AbortSignal.timeout(5000))).rejects.toBeInstanceOf(UpstreamError)
    await session.close()
  })
})
