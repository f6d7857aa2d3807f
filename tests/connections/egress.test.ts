import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { invoke, rest, StateDir } from './support.ts'

// A REST upstream on loopback, counted: the egress policy decides before a request leaves, so a
// denied destination sees no request at all; settings change without a restart and are kept.

const doc = {
  openapi: '3.1.0',
  info: { title: 'Clock', version: '1.0.0' },
  paths: { '/now': { get: { operationId: 'now', responses: { '200': { description: 'ok' } } } } },
}

let hits = 0
let server: Server
let base: string
let state: StateDir
let app: FastifyInstance

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++
    res.setHeader('content-type', 'application/json')
    res.end(req.url === '/openapi.json' ? JSON.stringify(doc) : JSON.stringify({ at: 1 }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  state = new StateDir()
  app = await state.start()
})

afterAll(async () => {
  await app?.close()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  state.remove()
})

describe('egress policy over a real upstream', () => {
  it('refuses a destination not on the allowlist before anything is sent, then lets it through once allowed', async () => {
    const closed = await rest(app, 'PATCH', '/egress/settings', {
      posture: 'allowlist',
      allow: ['example.com'],
    })
    expect(closed.status).toBe(200)
    expect(closed.body.source).toBe('stored')
    const preview = await rest(app, 'POST', '/egress/preview', { url: `${base}/now` })
    expect(preview.body.decision).toBe('denied')

    const created = await rest(app, 'POST', '/connections', {
      id: 'clock',
      connectorId: 'http',
      target: { openapi: `${base}/openapi.json`, baseUrl: base },
    })
    expect(created.status).toBe(200)
    const linked = await rest(app, 'POST', '/links', {
      connectionId: 'clock',
      serviceId: 'clock',
      autoEnable: true,
    })
    expect(linked.body.link.status).toBe('error')
    expect(JSON.stringify(linked.body.link.health.errors)).toContain('not on the egress allowlist')
    expect(hits).toBe(0)

    const ledger = await rest(app, 'GET', '/egress/ledger?decision=denied')
    expect(ledger.body.entries[0]).toMatchObject({
      decision: 'denied',
      connection: 'clock',
      host: '127.0.0.1',
    })

    const port = new URL(base).port
    const opened = await rest(app, 'PATCH', '/egress/settings', { allow: [`127.0.0.1:${port}`] })
    expect(opened.status).toBe(200)
    for (let i = 0; i < 50; i++) {
      const links = await rest(app, 'GET', '/links?connectionId=clock')
      if (links.body.links[0]?.status === 'up') break
      await new Promise((r) => setTimeout(r, 100))
    }
    const ok = await invoke(app, 'clock.now', {})
    expect(ok.status).toBe(200)
    expect(hits).toBeGreaterThan(0)

    // A deny rule wins over the allow rule: the call is refused with egress_denied, nothing sent.
    await rest(app, 'PATCH', '/egress/settings', { deny: ['127.0.0.1'] })
    const before = hits
    const denied = await invoke(app, 'clock.now', {})
    expect(denied.status).toBe(403)
    expect(denied.body.type).toContain('egress_denied')
    expect(hits).toBe(before)

    const tallies = await rest(app, 'GET', '/state/egress')
    const row = tallies.body.destinations.find((d: { connection: string }) => d.connection === 'clock')
    expect(row.allowed).toBeGreaterThan(0)
    expect(row.denied).toBeGreaterThan(0)
  })

  it('keeps the settings across a restart', async () => {
    await app.close()
    app = await state.start()
    const read = await rest(app, 'GET', '/egress/settings')
    expect(read.body.settings.deny).toEqual(['127.0.0.1'])
    expect(read.body.settings.posture).toBe('allowlist')
  })
})
