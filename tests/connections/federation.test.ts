import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { TEST_TOKEN } from '../../daemon/src/testing/harness.ts'
import { connect } from '../mcp/support/clients.ts'
import { control, invoke, linkWeather, resetControl, rest, StateDir } from './support.ts'

let state: StateDir
let app: FastifyInstance
let link: any

beforeAll(async () => {
  state = new StateDir()
  app = await state.start()
  link = await linkWeather(app)
})
afterAll(async () => {
  await app.close()
  state.remove()
})
beforeEach(() => resetControl())

describe('a local module linked under a service namespace', () => {
  it('imports its tools as <serviceId>.<name>@1.0.0, up and healthy', () => {
    expect(link.status).toBe('up')
    expect(link.tools).toEqual(
      expect.arrayContaining(['weather.forecast@1.0.0', 'weather.flaky_read@1.0.0', 'weather.slow@1.0.0']),
    )
  })

  it('calls an imported tool through the pipeline and checks its output', async () => {
    const res = await invoke(app, 'weather.forecast', { city: 'Oslo' })
    expect(res.status).toBe(200)
    expect(res.body.output).toEqual({ city: 'Oslo', tempC: 12 })
    expect(res.body.tool).toBe('weather.forecast@1.0.0')
    const bad = await invoke(app, 'weather.forecast', { city: '' })
    expect(bad.status).toBe(400)
    expect(bad.body.code).toBe('validation_failed')
    expect(control().calls).toBe(1)
  })

  it('reports a malformed upstream schema and a name collision instead of importing them', async () => {
    expect(link.tools.some((t: string) => t.startsWith('weather.broken'))).toBe(false)
    expect(link.health.errors.join('\n')).toMatch(/broken: malformed schema/)
    expect(link.health.errors.join('\n')).toMatch(/get_time: weather\.get_time is already the name/)
    // The upstream answers: the link is healthy, and says what it did not import.
    expect(link.health.ok).toBe(true)
  })
})

describe('a link that goes down', () => {
  it('keeps its tools listed; they answer unavailable with the link state until it is up again', async () => {
    const off = await rest(app, 'POST', '/connections/c-weather/toggle', { enabled: false })
    expect(off.status).toBe(200)
    expect(off.body.connection.status).toBe('disabled')
    const listed = await rest(app, 'GET', '/admin/introspect/tools')
    expect(JSON.stringify(listed.body)).toContain('weather.forecast@1.0.0')
    const res = await invoke(app, 'weather.forecast', { city: 'Oslo' })
    expect(res.status).toBe(503)
    expect(res.body.code).toBe('unavailable')
    expect(res.body.detail).toMatch(/link weather \(l-weather\) is down/)
    expect(control().calls).toBe(0)
    const on = await rest(app, 'POST', '/connections/c-weather/toggle', {})
    expect(on.body.connection.enabled).toBe(true)
    const again = await invoke(app, 'weather.forecast', { city: 'Oslo' })
    expect(again.status).toBe(200)
    const links = await rest(app, 'GET', '/links?connectionId=c-weather')
    expect(links.body.links[0]).toMatchObject({ id: 'l-weather', status: 'up' })
  })
})

describe('retries', () => {
  it('retries a failed call that is safe to repeat, with backoff, and records backoff_applied', async () => {
    control().failures = 2
    const head = app.arw.journal.head
    const res = await invoke(app, 'weather.flaky_read', {})
    expect(res.status).toBe(200)
    expect(res.body.output).toEqual({ ok: true })
    expect(control().calls).toBe(3)
    await new Promise((r) => setTimeout(r, 50))
    const events = (await app.arw.journal.read(head, 100)).filter(
      (e) => e.kind === 'connections.backoff_applied',
    )
    expect(events.map((e) => (e.payload as { attempt: number }).attempt)).toEqual([1, 2])
    expect(events[0]!.payload).toMatchObject({ id: 'c-weather', tool: 'weather.flaky_read@1.0.0' })
  })

  it('never retries a call that is not safe to repeat: one attempt, upstream_error with the excerpt', async () => {
    control().failures = 1
    const res = await invoke(app, 'weather.unsafe_write', {})
    expect(res.status).toBe(502)
    expect(res.body.code).toBe('upstream_error')
    expect(res.body.detail).toMatch(/status 503.*temporarily unavailable/)
    expect(control().calls).toBe(1)
  })

  it('gives up after maxAttempts', async () => {
    control().failures = 10
    const res = await invoke(app, 'weather.flaky_read', {})
    expect(res.status).toBe(502)
    expect(control().calls).toBe(3)
  })
})

describe('per-connection admission', () => {
  it('never runs more than the concurrency cap upstream; beyond the queue, rate_limited with Retry-After', async () => {
    await linkWeather(app, 'capped', { concurrency: { max: 2, queue: 1 } })
    const calls = await Promise.all(Array.from({ length: 6 }, () => invoke(app, 'capped.slow', { ms: 300 })))
    const ok = calls.filter((c) => c.status === 200)
    const refused = calls.filter((c) => c.status === 429)
    expect(ok).toHaveLength(3)
    expect(refused).toHaveLength(3)
    for (const r of refused) {
      expect(r.body.code).toBe('rate_limited')
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0)
    }
    expect(control().maxRunning).toBe(2)
  })

  it('refuses calls over the rate limit with rate_limited and Retry-After, and says so in an event', async () => {
    await linkWeather(app, 'rated', { rateLimit: { perSecond: 0.5, burst: 2 } })
    const head = app.arw.journal.head
    const results = []
    for (let i = 0; i < 3; i++) results.push(await invoke(app, 'rated.forecast', { city: 'Rome' }))
    expect(results.map((r) => r.status)).toEqual([200, 200, 429])
    expect(results[2]!.body.retry_after).toBeGreaterThan(0)
    expect(Number(results[2]!.headers['retry-after'])).toBeGreaterThan(0)
    expect(control().calls).toBe(2)
    let noted: unknown[] = []
    for (let i = 0; i < 40 && noted.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100))
      noted = (await app.arw.journal.read(head, 100)).filter(
        (e) => e.kind === 'connections.rate_limited' && (e.payload as { id: string }).id === 'c-rated',
      )
    }
    expect(noted[0]).toMatchObject({ payload: { id: 'c-rated', source: 'admission', count: 1 } })
  })
})

describe('the circuit breaker of a connection', () => {
  it('opens after repeated upstream failures, refuses at once, and closes after a successful probe', async () => {
    await linkWeather(app, 'brk', {
      breaker: { failures: 3, halfOpenAfterMs: 200 },
      retry: { maxAttempts: 1 },
    })
    const head = app.arw.journal.head
    control().down = 500
    for (let i = 0; i < 3; i++) expect((await invoke(app, 'brk.forecast', { city: 'X' })).status).toBe(502)
    const open = await invoke(app, 'brk.forecast', { city: 'X' })
    expect(open.status).toBe(503)
    expect(open.body.detail).toMatch(/circuit is open/)
    expect(control().calls).toBe(3)
    expect((await rest(app, 'GET', '/connections/c-brk')).body.connection.status).toBe('error')
    control().down = undefined
    let recovered: { status: number } = open
    for (let i = 0; i < 50 && recovered.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50))
      recovered = await invoke(app, 'brk.forecast', { city: 'X' })
    }
    expect(recovered.status).toBe(200)
    const states = (await app.arw.journal.read(head, 200))
      .filter((e) => e.kind === 'connections.breaker_changed')
      .map((e) => (e.payload as { state: string }).state)
    expect(states).toEqual(['open', 'half_open', 'closed'])
  })
})

describe('health', () => {
  it('follows the health interval: link health, connection status and their events change together', async () => {
    const other = new StateDir()
    const daemon = await other.start({}, { healthMs: 50 })
    try {
      await linkWeather(daemon, 'hw')
      const head = daemon.arw.journal.head
      const poll = async (ok: boolean) => {
        for (let i = 0; i < 100; i++) {
          const link = (await rest(daemon, 'GET', '/links')).body.links[0]
          if (link.health.ok === ok) return link
          await new Promise((r) => setTimeout(r, 25))
        }
        throw new Error(`link health never became ok=${ok}`)
      }
      await poll(true)
      control().down = 503
      const sick = await poll(false)
      expect(sick.health.errors[0]).toMatch(/ping failed.*health check failed with 503/)
      expect((await rest(daemon, 'GET', '/connections/c-hw')).body.connection.status).toBe('degraded')
      const tested = await rest(daemon, 'POST', '/connections/c-hw/test')
      expect(tested.body).toMatchObject({ id: 'c-hw', ok: false, status: 'degraded' })
      expect(tested.body.trace_id).toMatch(/^[0-9a-f]{32}$/)
      control().down = undefined
      await poll(true)
      const ok = await rest(daemon, 'POST', '/connections/c-hw/test')
      expect(ok.body).toMatchObject({ ok: true, status: 'healthy', error: null })
      expect(ok.body.latencyMs).toBeGreaterThanOrEqual(0)
      const events = await daemon.arw.journal.read(head, 500)
      const health = events
        .filter((e) => e.kind === 'links.health_changed')
        .map((e) => (e.payload as { health: { ok: boolean } }).health.ok)
      expect(health.slice(0, 2)).toEqual([false, true])
      const statuses = events
        .filter((e) => e.kind === 'connections.updated')
        .map((e) => (e.payload as { connection: { status: string } }).connection.status)
      expect(statuses).toEqual(expect.arrayContaining(['degraded', 'healthy']))
    } finally {
      await daemon.close()
      other.remove()
    }
  })
})

describe('timeouts, cancellation and progress', () => {
  it('cuts a call off at the connection timeout with timeout, and cancels the upstream call', async () => {
    await linkWeather(app, 'tmo', { timeoutMs: 200, retry: { maxAttempts: 1 } })
    const res = await invoke(app, 'tmo.slow', { ms: 5000 })
    expect(res.status).toBe(504)
    expect(res.body.code).toBe('timeout')
    for (let i = 0; i < 50 && control().running > 0; i++) await new Promise((r) => setTimeout(r, 20))
    expect(control().running).toBe(0)
    expect(control().calls).toBe(1)
    // The imported tools declare the connection's timeout, also after it changes.
    expect(app.arw.registry.resolve('tmo.slow').timeoutMs).toBe(200)
    expect((await rest(app, 'PATCH', '/connections/c-tmo', { timeoutMs: 5000 })).status).toBe(200)
    expect(app.arw.registry.resolve('tmo.slow').timeoutMs).toBe(5000)
    expect((await invoke(app, 'tmo.slow', { ms: 300 })).status).toBe(200)
  })

  it("passes the upstream's progress to the caller over MCP", async () => {
    const base = await app.listen({ host: '127.0.0.1', port: 0 })
    const mcp = await connect('sdk-v2', { http: new URL(`${base}/mcp`), token: TEST_TOKEN })
    try {
      const seen: number[] = []
      const result = await mcp.callTool(
        'weather.countdown',
        { steps: 3 },
        { onprogress: (p) => seen.push(p.progress) },
      )
      expect(result.structuredContent).toEqual({ done: 3 })
      expect(seen).toEqual([1, 2, 3])
    } finally {
      await mcp.close()
    }
  })
})

describe('a link whose upstream is not there yet', () => {
  it('reports the failure, retries with backoff, and comes up by itself once the upstream is there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arw-late-'))
    const module = join(dir, 'late.mjs')
    try {
      const head = app.arw.journal.head
      await rest(app, 'POST', '/connections', { id: 'c-late', connectorId: 'local', target: { module } })
      const link = await rest(app, 'POST', '/links', {
        id: 'l-late',
        connectionId: 'c-late',
        serviceId: 'late',
        autoEnable: true,
      })
      expect(link.body.link.status).not.toBe('up')
      expect(link.body.link.health.errors[0]).toMatch(/cannot load module/)
      writeFileSync(
        module,
        `export const hi = { name: 'hi', version: '1.0.0', title: 'Hi', description: 'Hi.', input: { type: 'object', properties: {} }, output: { type: 'object', properties: { hi: { type: 'boolean' } } }, handler: () => ({ hi: true }) }\n`,
      )
      let status = ''
      for (let i = 0; i < 100 && status !== 'up'; i++) {
        await new Promise((r) => setTimeout(r, 50))
        status = (await rest(app, 'GET', '/links?connectionId=c-late')).body.links[0].status
      }
      expect(status).toBe('up')
      expect((await invoke(app, 'late.hi', {})).body.output).toEqual({ hi: true })
      const kinds = (await app.arw.journal.read(head, 500)).map((e) => e.kind)
      expect(kinds).toContain('links.down')
      expect(kinds).toContain('connections.backoff_applied')
      expect(kinds.indexOf('links.up')).toBeGreaterThan(kinds.indexOf('connections.backoff_applied'))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('a link whose upstream refuses with Retry-After', () => {
  it('is not tried again before the upstream asked, for an MCP server and an OpenAPI document alike', async () => {
    // Every request is refused: 503 with Retry-After 7 s (429 with 9 s for the document).
    const hits: string[] = []
    const upstream = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`)
      req.resume()
      const document = req.url === '/openapi.json'
      res.writeHead(document ? 429 : 503, {
        'retry-after': document ? '9' : '7',
        'content-type': 'text/plain',
      })
      res.end('busy')
    })
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
    try {
      const head = app.arw.journal.head
      for (const [id, connectorId, target] of [
        ['c-busy-mcp', 'mcp', { url: `${base}/mcp` }],
        ['c-busy-doc', 'http', { openapi: `${base}/openapi.json` }],
      ] as const) {
        expect((await rest(app, 'POST', '/connections', { id, connectorId, target })).status).toBe(200)
        const link = await rest(app, 'POST', '/links', {
          id: `l-${id}`,
          connectionId: id,
          serviceId: id.replace(/-/g, '_').slice(2),
          autoEnable: true,
        })
        expect(link.status).toBe(200)
        expect(link.body.link.status).not.toBe('up')
      }
      const backoff = (await app.arw.journal.read(head, 500))
        .filter((e) => e.kind === 'connections.backoff_applied')
        .map((e) => e.payload as { id: string; delayMs: number; reason: string })
      const delays = (id: string) => backoff.filter((b) => b.id === id).map((b) => b.delayMs)
      // The first reconnection waits what each upstream asked, not the 250-500 ms of the backoff.
      expect(delays('c-busy-mcp')[0]).toBeGreaterThanOrEqual(6000)
      expect(delays('c-busy-doc')[0]).toBeGreaterThanOrEqual(8000)
      expect(backoff.find((b) => b.id === 'c-busy-mcp')?.reason).toMatch(/503/)
      expect(hits.filter((h) => h.startsWith('GET /openapi.json'))).toHaveLength(1)
    } finally {
      for (const id of ['c-busy-mcp', 'c-busy-doc']) await rest(app, 'DELETE', `/connections/${id}`)
      upstream.closeAllConnections()
      await new Promise((resolve) => upstream.close(resolve))
    }
  })
})
