import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { admin, rest, StateDir } from './support.ts'

// Governance of a connection against a REST service the test serves on loopback: QoS priority
// between callers in the connection's concurrency queue (observed by the order calls reach the
// service), the Retry-After of a call refused by the open circuit breaker, and the earlier
// versions of an operation whose schema changes between imports.

/** The parameters of `GET /lookup`, which the test changes between imports. */
const lookupParams: unknown[] = [{ name: 'key', in: 'query', required: true, schema: { type: 'string' } }]

const doc = {
  openapi: '3.1.0',
  info: { title: 'Jobs', version: '1.0.0' },
  paths: {
    '/slow': {
      get: {
        operationId: 'slowRead',
        parameters: [{ name: 'tag', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'ok' } },
      },
    },
    '/flaky': { get: { operationId: 'flakyRead', responses: { '200': { description: 'ok' } } } },
    '/lookup': {
      get: {
        operationId: 'lookup',
        parameters: lookupParams,
        responses: {
          '200': {
            description: 'found',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['found'],
                  properties: { found: { type: 'boolean' } },
                  additionalProperties: false,
                },
              },
            },
          },
        },
      },
    },
  },
}

let upstream: Server
let origin: string
/** Tags of the `/slow` calls in the order they reached the service; each waits in `held`. */
const arrivals: string[] = []
const held: ServerResponse[] = []
let flakyDown = false
let flakyHits = 0
const lookups: string[] = []

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

function handle(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url!, 'http://x')
  if (url.pathname === '/openapi.json') return send(res, 200, doc)
  if (url.pathname === '/slow') {
    arrivals.push(url.searchParams.get('tag') ?? '')
    held.push(res)
    return
  }
  if (url.pathname === '/lookup') {
    lookups.push(url.search)
    return send(res, 200, { found: true })
  }
  if (url.pathname === '/flaky') {
    flakyHits++
    return flakyDown ? send(res, 500, { error: 'down' }) : send(res, 200, { ok: true })
  }
  send(res, 404, { error: 'no route' })
}

let state: StateDir
let app: FastifyInstance
/** The local operator's credentials (the lock file's token): principal `operator:local`. */
let operator: Record<string, string>

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 10))
  if (!check()) throw new Error(`timed out waiting for ${what}`)
}

async function link(id: string, tuning: Record<string, unknown>) {
  const created = await rest(app, 'POST', '/connections', {
    id: `c-${id}`,
    connectorId: 'http',
    target: { openapi: `${origin}/openapi.json` },
    retry: { maxAttempts: 1 },
    ...tuning,
  })
  expect(created.status).toBe(200)
  const linked = await rest(app, 'POST', '/links', {
    id: `l-${id}`,
    connectionId: `c-${id}`,
    serviceId: id,
    autoEnable: true,
  })
  expect(linked.body.link.status).toBe('up')
}

function call(headers: Record<string, string>, tool: string, input: unknown) {
  return app
    .inject({ method: 'POST', url: `/tools/${tool}:invoke`, headers, payload: { input } })
    .then((res) => ({ status: res.statusCode, body: res.json(), headers: res.headers }))
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume()
    req.on('end', () => handle(req, res))
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
  state = new StateDir()
  app = await state.start()
  operator = { 'x-arw-admin': app.arw.stateLock.token }
})

afterAll(async () => {
  for (const res of held.splice(0)) send(res, 200, {})
  await app?.close()
  state?.remove()
  upstream.closeAllConnections()
  await new Promise((resolve) => upstream.close(resolve))
})

describe('QoS priority between the callers of a connection', () => {
  it('lets queued high-priority callers reach the upstream before earlier-queued low-priority ones', async () => {
    await link('jobs', {
      concurrency: { max: 1, queue: 10 },
      qos: { priority: 'low', callers: [{ principal: 'operator:local', priority: 'high' }] },
    })
    const queued = () => app.arw.pipeline.admission.queued('connection:c-jobs')
    const calls = [call(admin, 'jobs.slow_read', { tag: 'first' })]
    await until('the first call upstream', () => arrivals.length === 1)
    // The admin is a caller no rule names (low); the local operator is named (high).
    for (const [who, tag] of [
      [admin, 'low-1'],
      [admin, 'low-2'],
      [operator, 'high-1'],
      [operator, 'high-2'],
    ] as const) {
      const before = queued()
      calls.push(call(who, 'jobs.slow_read', { tag }))
      await until(`${tag} queued`, () => queued() === before + 1)
    }
    // The service answers one call at a time; the connection lets the next one through.
    for (let answered = 0; answered < 5; answered++) {
      await until('a call upstream', () => held.length === 1)
      send(held.shift()!, 200, { tag: arrivals.at(-1) })
    }
    const results = await Promise.all(calls)
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
    expect(arrivals).toEqual(['first', 'high-1', 'high-2', 'low-1', 'low-2'])
    const stored = await rest(app, 'GET', '/connections/c-jobs')
    expect(stored.body.connection.qos).toEqual({
      priority: 'low',
      callers: [{ principal: 'operator:local', priority: 'high' }],
    })
  })

  it('refuses a rule that names no caller', async () => {
    const bad = await rest(app, 'PATCH', '/connections/c-jobs', {
      qos: { priority: 'normal', callers: [{ priority: 'high' }] },
    })
    expect(bad.status).toBe(400)
    expect(bad.body.code).toBe('validation_failed')
  })
})

describe('a call refused by the open circuit breaker', () => {
  it('answers unavailable (circuit_open) with a Retry-After until the half-open probe, which then goes through', async () => {
    await link('brk', { breaker: { failures: 2, halfOpenAfterMs: 1500 } })
    flakyDown = true
    for (let i = 0; i < 2; i++) expect((await call(admin, 'brk.flaky_read', {})).status).toBe(502)
    const refused = await call(admin, 'brk.flaky_read', {})
    expect(refused.status).toBe(503)
    expect(refused.body).toMatchObject({ code: 'unavailable', type: 'urn:arw:problem:circuit_open' })
    expect(refused.body.detail).toMatch(/circuit is open/)
    const seconds = Number(refused.headers['retry-after'])
    expect(refused.body.retry_after).toBe(seconds)
    // Whole seconds, rounded up, of what is left of halfOpenAfterMs.
    expect(seconds).toBeGreaterThanOrEqual(1)
    expect(seconds).toBeLessThanOrEqual(2)
    expect(flakyHits).toBe(2)
    // Waiting as told is enough: the probe is let through, reaches the service and closes the circuit.
    flakyDown = false
    await new Promise((r) => setTimeout(r, seconds * 1000))
    const probe = await call(admin, 'brk.flaky_read', {})
    expect(probe.status).toBe(200)
    expect(flakyHits).toBe(3)
  })
})

describe('an upstream operation whose schema changes between imports', () => {
  /** Imports the service again (a link re-imports when it comes up). */
  async function reimport() {
    const head = app.arw.journal.head
    expect((await rest(app, 'POST', '/connections/c-cat/toggle', { enabled: false })).status).toBe(200)
    expect((await rest(app, 'POST', '/connections/c-cat/toggle', { enabled: true })).status).toBe(200)
    const { tools } = (await rest(app, 'GET', '/links?connectionId=c-cat')).body.links[0]
    // The links.up event names the same versions as the link: the kept ones too.
    const up = (await app.arw.journal.read(head, 100)).filter((e) => e.kind === 'links.up')
    expect(up.map((e) => (e.payload as { tools: string[] }).tools)).toEqual([tools])
    return (tools as string[]).filter((id) => id.startsWith('cat.lookup@'))
  }
  const versions = () => app.arw.registry.versions('cat.lookup').map((t) => `${t.version} ${t.stability}`)

  it('keeps the earlier versions callable by their pinned id, deprecated, while the bare name takes the newest', async () => {
    await link('cat', {})
    expect(versions()).toEqual(['1.0.0 stable'])
    // An optional parameter added: every call that was valid stays valid, a minor version.
    lookupParams.push({ name: 'exact', in: 'query', schema: { type: 'boolean' } })
    expect(await reimport()).toEqual(['cat.lookup@1.1.0', 'cat.lookup@1.0.0'])
    expect(versions()).toEqual(['1.1.0 stable', '1.0.0 deprecated'])
    const bare = await call(admin, 'cat.lookup', { key: 'a', exact: true })
    expect(bare.status).toBe(200)
    expect(bare.body.tool).toBe('cat.lookup@1.1.0')
    const pinned = await call(admin, 'cat.lookup@1.0.0', { key: 'b' })
    expect(pinned.status).toBe(200)
    expect(pinned.body).toMatchObject({ tool: 'cat.lookup@1.0.0', output: { found: true } })
    expect(pinned.headers['deprecation']).toBeDefined()
    expect(pinned.headers['link']).toContain('cat.lookup@1.1.0')
    expect(lookups).toEqual(['?key=a&exact=true', '?key=b'])

    // A new required parameter: calls that were valid are refused now, a major version. The
    // earlier ones stay listed, but a call the upstream no longer takes answers gone, not sent.
    lookupParams.push({ name: 'scope', in: 'query', required: true, schema: { type: 'string' } })
    expect(await reimport()).toEqual(['cat.lookup@2.0.0', 'cat.lookup@1.1.0', 'cat.lookup@1.0.0'])
    expect(versions()).toEqual(['2.0.0 stable', '1.1.0 deprecated', '1.0.0 deprecated'])
    const gone = await call(admin, 'cat.lookup@1.0.0', { key: 'c' })
    expect(gone.status).toBe(410)
    expect(gone.body.code).toBe('gone')
    expect(gone.body.detail).toContain('cat.lookup@2.0.0')
    expect(lookups).toHaveLength(2)
    // The deprecation of 1.1.0 now points at 2.0.0.
    expect(app.arw.registry.resolve('cat.lookup@1.1.0').deprecation?.replacement).toBe('cat.lookup@2.0.0')

    // At most two earlier versions are kept: a third change drops the oldest.
    lookupParams.push({ name: 'limit', in: 'query', required: true, schema: { type: 'integer' } })
    expect(await reimport()).toEqual(['cat.lookup@3.0.0', 'cat.lookup@2.0.0', 'cat.lookup@1.1.0'])
    expect(app.arw.registry.tryResolve('cat.lookup@1.0.0')).toBeUndefined()
  })

  it('registers the same versions again after a restart, before the upstream answers', async () => {
    await app.close()
    upstream.closeAllConnections()
    await new Promise((resolve) => upstream.close(resolve))
    app = await state.start()
    expect(versions()).toEqual(['3.0.0 stable', '2.0.0 deprecated', '1.1.0 deprecated'])
    expect(app.arw.registry.resolve('cat.lookup@2.0.0').deprecation?.replacement).toBe('cat.lookup@3.0.0')
  })
})
