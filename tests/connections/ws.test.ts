import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type WebSocket, WebSocketServer } from 'ws'
import { invoke, rest, StateDir } from './support.ts'

// A WebSocket JSON service (the protocol of drivers/ws.ts) served on loopback and linked with a
// bound secret: its tools are called over HTTP invoke; when the service drops the socket the link
// goes down, its tools answer unavailable, and the area brings it back by itself.

const SECRET = 'ws-e2e-secret-a41f'

const TOOLS = [
  {
    name: 'lookup',
    input: {
      type: 'object',
      required: ['key'],
      properties: { key: { type: 'string' } },
      additionalProperties: false,
    },
    output: { type: 'object', required: ['value'], properties: { value: { type: 'string' } } },
    hints: { readOnly: true },
  },
  { name: 'missing', input: { type: 'object', properties: {} } },
]

let server: WebSocketServer
const sockets = new Set<WebSocket>()
let state: StateDir
let app: FastifyInstance

beforeAll(async () => {
  server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (info, done) => done(info.req.headers.authorization === `Bearer ${SECRET}`, 401),
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('message', (data) => {
      const m = JSON.parse(data.toString()) as {
        type: string
        id: string
        tool?: string
        input?: { key?: string }
      }
      if (m.type === 'tools/list')
        socket.send(JSON.stringify({ type: 'result', id: m.id, output: { tools: TOOLS } }))
      else if (m.type === 'call' && m.tool === 'lookup')
        socket.send(JSON.stringify({ type: 'result', id: m.id, output: { value: `v:${m.input?.key}` } }))
      else if (m.type === 'call')
        socket.send(JSON.stringify({ type: 'error', id: m.id, message: 'not here', status: 404 }))
    })
  })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`
  state = new StateDir()
  app = await state.start()
  expect(
    (await rest(app, 'POST', '/connections', { id: 'c-kv', connectorId: 'ws', target: { url } })).status,
  ).toBe(200)
  expect((await rest(app, 'POST', '/connections/c-kv/bind-secret', { secret: SECRET })).status).toBe(200)
  const linked = await rest(app, 'POST', '/links', {
    id: 'l-kv',
    connectionId: 'c-kv',
    serviceId: 'kv',
    autoEnable: true,
  })
  expect(linked.body.link).toMatchObject({ status: 'up' })
})

afterAll(async () => {
  await app?.close()
  state?.remove()
  for (const socket of sockets) socket.terminate()
  await new Promise((resolve) => server.close(resolve))
})

async function linkStatus(): Promise<string> {
  return (await rest(app, 'GET', '/links?connectionId=c-kv')).body.links[0].status
}

describe('a WebSocket service linked under a namespace', () => {
  it('lists its tools and answers calls over HTTP invoke, the upgrade authorized by the bound secret', async () => {
    const res = await invoke(app, 'kv.lookup', { key: 'a' })
    expect(res.status).toBe(200)
    expect(res.body.output).toEqual({ value: 'v:a' })
    const bad = await invoke(app, 'kv.lookup', {})
    expect(bad.status).toBe(400)
  })

  it("maps the service's error to upstream_error with its status", async () => {
    const res = await invoke(app, 'kv.missing', {})
    expect(res.status).toBe(502)
    expect(res.body.code).toBe('upstream_error')
    expect(res.body.detail).toMatch(/not here.*status 404/)
  })

  it('goes down when the service drops the socket, answers unavailable, and comes back by itself', async () => {
    for (const socket of sockets) socket.terminate()
    let status = await linkStatus()
    for (let i = 0; i < 100 && status === 'up'; i++) {
      await new Promise((r) => setTimeout(r, 10))
      status = await linkStatus()
    }
    expect(status).not.toBe('up')
    const meanwhile = await invoke(app, 'kv.lookup', { key: 'b' })
    // Either still down (unavailable) or already back (the reconnect is quick): never an internal error.
    expect([200, 503]).toContain(meanwhile.status)
    for (let i = 0; i < 200 && status !== 'up'; i++) {
      await new Promise((r) => setTimeout(r, 25))
      status = await linkStatus()
    }
    expect(status).toBe('up')
    const again = await invoke(app, 'kv.lookup', { key: 'c' })
    expect(again.body.output).toEqual({ value: 'v:c' })
  })
})
