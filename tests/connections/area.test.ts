import type { ToolSpec } from '@arw/registry'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_TOKEN } from '../../daemon/src/testing/harness.ts'
import { connect, type TestClient } from '../mcp/support/clients.ts'
import { invoke, rest, StateDir, WEATHER } from './support.ts'

const DYNAMIC = new URL('./fixtures/dynamic-tools.ts', import.meta.url).pathname
const dynamic = (): ToolSpec[] => {
  const g = globalThis as { __dynamicTools?: ToolSpec[] }
  g.__dynamicTools ??= []
  return g.__dynamicTools
}

function lookup(properties: Record<string, unknown>, required: string[]): ToolSpec {
  return {
    name: 'lookup',
    version: '9.9.9',
    title: 'Lookup',
    description: 'Finds a key.',
    input: { type: 'object', properties, required } as never,
    output: { type: 'object', properties: { found: { type: 'boolean' } } } as never,
    hints: { readOnly: true },
    handler: () => ({ found: true }),
  }
}

let state: StateDir
let app: FastifyInstance
let mcp: TestClient

beforeAll(async () => {
  state = new StateDir()
  app = await state.start()
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  mcp = await connect('sdk-v2', { http: new URL(`${base}/mcp`), token: TEST_TOKEN })
})
afterAll(async () => {
  await mcp.close()
  await app.close()
  state.remove()
})

describe('connectors', () => {
  it('lists the built-in kinds, each saying whether this daemon has its driver', async () => {
    const res = await rest(app, 'GET', '/connectors')
    expect(res.status).toBe(200)
    const local = res.body.connectors.find((c: { id: string }) => c.id === 'local')
    expect(local).toMatchObject({ kind: 'local', builtIn: true, available: true })
    expect(res.body.connectors.map((c: { id: string }) => c.id)).toEqual(
      expect.arrayContaining(['mcp', 'http', 'ws', 'local']),
    )
  })

  it('registers a custom connector whose target defaults apply to its connections', async () => {
    const reg = await rest(app, 'POST', '/connectors/register', {
      id: 'weather-kit',
      kind: 'local',
      name: 'Weather kit',
      targetDefaults: { module: WEATHER },
    })
    expect(reg.status).toBe(200)
    expect(reg.body.connector).toMatchObject({ id: 'weather-kit', builtIn: false, available: true })
    const builtIn = await rest(app, 'POST', '/connectors/register', { id: 'mcp', kind: 'mcp', name: 'x' })
    expect(builtIn.status).toBe(409)
    const conn = await rest(app, 'POST', '/connections', {
      id: 'c-kit',
      connectorId: 'weather-kit',
      target: {},
    })
    expect(conn.status).toBe(200)
    expect(conn.body.connection).toMatchObject({ kind: 'local', target: { module: WEATHER } })
  })
})

describe('connections through REST and MCP', () => {
  it('creates disabled, reads, updates with a version check, lists by tag, and deletes', async () => {
    const created = await rest(app, 'POST', '/connections', {
      id: 'c-crud',
      connectorId: 'local',
      target: { module: WEATHER },
      tags: ['team-a'],
    })
    expect(created.status).toBe(200)
    expect(created.body).toMatchObject({
      dry_run: false,
      connection: { id: 'c-crud', status: 'disabled', enabled: false, secretRef: null, version: 1 },
    })
    expect(
      (
        await rest(app, 'POST', '/connections', {
          id: 'c-crud',
          connectorId: 'local',
          target: { module: WEATHER },
        })
      ).status,
    ).toBe(409)
    const updated = await rest(app, 'PATCH', '/connections/c-crud', {
      version: 1,
      rateLimit: { perSecond: 5 },
      notes: 'tuned',
    })
    expect(updated.status).toBe(200)
    expect(updated.body.connection).toMatchObject({ rateLimit: { perSecond: 5 }, notes: 'tuned', version: 2 })
    const stale = await rest(app, 'PATCH', '/connections/c-crud', { version: 1, notes: 'late' })
    expect(stale.status).toBe(409)
    const policy = await rest(app, 'POST', '/connections/c-crud/set-policy', { policyId: 'strict' })
    expect(policy.body.connection.policyId).toBe('strict')
    const listed = await rest(app, 'GET', '/connections?tag=team-a')
    expect(listed.body.connections.map((c: { id: string }) => c.id)).toEqual(['c-crud'])
    // The same tools over MCP, with the same records.
    const viaMcp = await mcp.callTool('conn.get', { id: 'c-crud' })
    expect(viaMcp.isError).toBeFalsy()
    expect(viaMcp.structuredContent).toMatchObject({
      connection: { id: 'c-crud', notes: 'tuned', policyId: 'strict' },
    })
    const names = (await mcp.listTools()).tools.map((t) => t['name'])
    expect(names).toEqual(
      expect.arrayContaining(['conn.list', 'conn.create', 'conn.update', 'conn.toggle', 'conn.test']),
    )
    const deleted = await rest(app, 'DELETE', '/connections/c-crud')
    expect(deleted.body).toEqual({ id: 'c-crud', deleted: true, links: [] })
    expect((await rest(app, 'GET', '/connections/c-crud')).status).toBe(404)
  })

  it('refuses bad ids, unknown connectors and bad targets with validation problems', async () => {
    expect((await rest(app, 'GET', '/connections/..%2Fetc')).status).toBe(400)
    const unknown = await rest(app, 'POST', '/connections', { connectorId: 'nope', target: {} })
    expect(unknown.status).toBe(404)
    const target = await rest(app, 'POST', '/connections', { connectorId: 'local', target: { path: 1 } })
    expect(target.status).toBe(400)
    expect(target.body.errors[0]).toMatchObject({ pointer: '/target' })
    const service = await rest(app, 'POST', '/links', { connectionId: 'c-kit', serviceId: 'Bad.Name' })
    expect(service.status).toBe(400)
  })

  it('answers a dry run with what would be imported, storing and registering nothing', async () => {
    const before = app.arw.registry.revision
    const dry = await rest(app, 'POST', '/connections', {
      id: 'c-dry',
      connectorId: 'local',
      target: { module: WEATHER },
      serviceId: 'dry',
      dry_run: true,
    })
    expect(dry.status).toBe(200)
    expect(dry.body.dry_run).toBe(true)
    expect(dry.body.connection.version).toBe(0)
    expect(dry.body.preview.tools.map((t: { name: string }) => t.name)).toEqual(
      expect.arrayContaining(['dry.forecast', 'dry.slow']),
    )
    expect(dry.body.preview.rejected.map((r: { upstream: string }) => r.upstream)).toEqual(
      expect.arrayContaining(['broken', 'get_time']),
    )
    expect((await rest(app, 'GET', '/connections/c-dry')).status).toBe(404)
    expect(app.arw.registry.revision).toBe(before)
  })

  it('refuses a link whose namespace is taken by existing tools', async () => {
    const res = await rest(app, 'POST', '/links', { connectionId: 'c-kit', serviceId: 'conn' })
    expect(res.status).toBe(409)
    expect(res.body.detail).toMatch(/namespace conn is taken/)
  })
})

describe('imported tools on every surface', () => {
  it('appear in MCP tools/list with list_changed, in /spec/*, and get a new version when the upstream schema changes, the earlier ones kept', async () => {
    dynamic().splice(0, Infinity, lookup({ key: { type: 'string' } }, ['key']))
    let changes = 0
    await mcp.onToolsChanged(() => {
      changes++
    })
    await rest(app, 'POST', '/connections', {
      id: 'c-dyn',
      connectorId: 'local',
      target: { module: DYNAMIC },
    })
    const link = await rest(app, 'POST', '/links', {
      id: 'l-dyn',
      connectionId: 'c-dyn',
      serviceId: 'dyn',
      autoEnable: true,
    })
    expect(link.body.link.tools).toEqual(['dyn.lookup@1.0.0'])
    for (let i = 0; i < 50 && changes === 0; i++) await new Promise((r) => setTimeout(r, 20))
    expect(changes).toBeGreaterThan(0)
    const listed = (await mcp.listTools()).tools.find((t) => t['name'] === 'dyn.lookup')
    expect(listed?.['inputSchema']).toMatchObject({
      properties: { key: { type: 'string' } },
      required: ['key'],
    })
    const called = await mcp.callTool('dyn.lookup', { key: 'a' })
    expect(called.structuredContent).toEqual({ found: true })
    const openapi = await app.inject({ method: 'GET', url: '/spec/mcp-tools.json' })
    expect(openapi.body).toContain('dyn.lookup')

    // An optional input added: every call that was valid stays valid, a minor version.
    dynamic().splice(0, Infinity, lookup({ key: { type: 'string' }, exact: { type: 'boolean' } }, ['key']))
    await rest(app, 'POST', '/connections/c-dyn/toggle', { enabled: false })
    await rest(app, 'POST', '/connections/c-dyn/toggle', { enabled: true })
    // The earlier version stays, deprecated (see tests/connections/governance.test.ts).
    expect((await rest(app, 'GET', '/links?connectionId=c-dyn')).body.links[0].tools).toEqual([
      'dyn.lookup@1.1.0',
      'dyn.lookup@1.0.0',
    ])
    // A new required input: calls that were valid are refused now, a major version.
    dynamic().splice(
      0,
      Infinity,
      lookup({ key: { type: 'string' }, scope: { type: 'string' } }, ['key', 'scope']),
    )
    await rest(app, 'POST', '/connections/c-dyn/toggle', { enabled: false })
    await rest(app, 'POST', '/connections/c-dyn/toggle', { enabled: true })
    expect((await rest(app, 'GET', '/links?connectionId=c-dyn')).body.links[0].tools).toEqual([
      'dyn.lookup@2.0.0',
      'dyn.lookup@1.1.0',
      'dyn.lookup@1.0.0',
    ])
    expect(app.arw.registry.versions('dyn.lookup').map((t) => t.version)).toEqual(['2.0.0', '1.1.0', '1.0.0'])
    const refused = await invoke(app, 'dyn.lookup', { key: 'a' })
    expect(refused.status).toBe(400)
    const schema = await app.inject({ method: 'GET', url: '/spec/schemas/dyn.lookup@2.0.0.json' })
    expect(schema.statusCode).toBe(200)
    expect(schema.json()).toMatchObject({ $defs: { input: { required: ['key', 'scope'] } } })
    // Deleting the link removes its tools.
    const removed = await rest(app, 'DELETE', '/links/l-dyn')
    expect(removed.body.tools).toEqual(['dyn.lookup@2.0.0', 'dyn.lookup@1.1.0', 'dyn.lookup@1.0.0'])
    expect(app.arw.registry.tryResolve('dyn.lookup')).toBeUndefined()
  })
})
