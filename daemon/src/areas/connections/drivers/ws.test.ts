import type { AddressInfo } from 'node:net'
import type { ProgressUpdate } from '@arw/registry'
import { pino } from 'pino'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type WebSocket, WebSocketServer } from 'ws'
import { type UpstreamCall, UpstreamError, type UpstreamSession } from '../driver.ts'
import { upstreamFailure } from './failure.test-support.ts'
import { wsDriver } from './ws.ts'

// A JSON message service the test serves on loopback with the `ws` package, speaking the protocol
// ws.ts documents; it records every message it gets so the tests see what the driver sent.

const SECRET = 'ws-canary-7c1d'
const logger = pino({ level: 'silent' })

const TOOLS = [
  {
    name: 'echo',
    input: { type: 'object', properties: { text: { type: 'string' } } },
    hints: { readOnly: true },
  },
  { name: 'fail', input: { type: 'object' } },
  { name: 'count', input: { type: 'object', properties: { to: { type: 'integer' } } } },
  { name: 'hang', input: { type: 'object' } },
  { name: 'die', input: { type: 'object' } },
]

let server: WebSocketServer
let url: string
const received: Record<string, unknown>[] = []
const upgrades: (string | undefined)[] = []
const sockets = new Set<WebSocket>()

function answer(socket: WebSocket, message: Record<string, unknown>): void {
  const id = message['id']
  if (message['type'] === 'tools/list') {
    socket.send(JSON.stringify({ type: 'result', id, output: { tools: [...TOOLS, { name: 'broken' }] } }))
    return
  }
  if (message['type'] !== 'call') return
  const input = message['input'] as Record<string, unknown>
  switch (message['tool']) {
    case 'echo':
      socket.send(JSON.stringify({ type: 'result', id, output: { text: input['text'] } }))
      return
    case 'fail':
      socket.send(
        JSON.stringify({ type: 'error', id, message: `no such thing (token ${SECRET})`, status: 404 }),
      )
      return
    case 'count': {
      const to = input['to'] as number
      for (let i = 1; i <= to; i++)
        socket.send(JSON.stringify({ type: 'progress', id, progress: i, total: to }))
      socket.send(JSON.stringify({ type: 'result', id, output: { counted: to } }))
      return
    }
    case 'hang':
      return
    case 'die':
      socket.terminate()
      return
  }
}

beforeAll(async () => {
  server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (info, done) => {
      upgrades.push(info.req.headers.authorization)
      done(info.req.headers.authorization === `Bearer ${SECRET}`, 401, 'Unauthorized')
    },
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>
      received.push(message)
      answer(socket, message)
    })
  })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/rpc`
})

afterAll(async () => {
  for (const socket of sockets) socket.terminate()
  await new Promise((resolve) => server.close(resolve))
})

beforeEach(() => {
  received.length = 0
})

function call(options: Partial<UpstreamCall> = {}): UpstreamCall {
  return { signal: new AbortController().signal, timeoutMs: 10_000, progress: () => {}, ...options }
}

async function open(target: Record<string, unknown>, secret: string | undefined): Promise<UpstreamSession> {
  expect(wsDriver.checkTarget(target)).toEqual([])
  return wsDriver.open({ target, secret, signal: AbortSignal.timeout(10_000), logger, egress: () => {} })
}

/** Waits until the service has received a message matching `predicate` (the socket is async). */
async function receivedMatching(
  predicate: (m: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const found = received.find(predicate)
    if (found) return found
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error('the service never received the expected message')
}

describe('the ws driver', () => {
  let session: UpstreamSession
  beforeAll(async () => {
    session = await open({ url }, SECRET)
  })
  afterAll(() => session.close())

  it('sends the secret as a bearer token on the upgrade, and is refused without it', async () => {
    expect(upgrades.at(-1)).toBe(`Bearer ${SECRET}`)
    const refused = await upstreamFailure(open({ url }, undefined))
    expect(refused.status).toBe(401)
    expect(upgrades.at(-1)).toBeUndefined()
  })

  it('asks the service for its tools, skipping a malformed entry', async () => {
    const tools = await session.tools()
    expect(tools.map((t) => t.name)).toEqual(['echo', 'fail', 'count', 'hang', 'die'])
    expect(tools[0]).toMatchObject({
      input: { properties: { text: { type: 'string' } } },
      hints: { readOnly: true },
    })
    expect(received).toContainEqual({ type: 'tools/list', id: expect.any(String) })
  })

  it('uses the tools the target declares without asking', async () => {
    const declared = await open({ url, tools: [TOOLS[0]] }, SECRET)
    expect((await declared.tools()).map((t) => t.name)).toEqual(['echo'])
    expect(received.some((m) => m['type'] === 'tools/list')).toBe(false)
    expect(await declared.call('echo', { text: 'hi' }, call())).toEqual({ text: 'hi' })
    await declared.close()
  })

  it('calls a tool and returns its output', async () => {
    expect(await session.call('echo', { text: 'héllo' }, call())).toEqual({ text: 'héllo' })
    expect(received).toContainEqual({
      type: 'call',
      id: expect.any(String),
      tool: 'echo',
      input: { text: 'héllo' },
    })
  })

  it("sends the call's trace as traceparent", async () => {
    const trace = { traceId: 'c'.repeat(32), spanId: 'd'.repeat(16), flags: '01' }
    await session.call('echo', { text: 'traced' }, call({ trace }))
    expect(received).toContainEqual(
      expect.objectContaining({ tool: 'echo', traceparent: `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01` }),
    )
  })

  it("turns the service's error into an UpstreamError with its status, secret cut out", async () => {
    const error = await upstreamFailure(session.call('fail', {}, call()))
    expect(error.status).toBe(404)
    expect(error.message).toContain('no such thing')
    expect(JSON.stringify({ m: error.message, e: error.excerpt })).not.toContain(SECRET)
  })

  it('passes progress through to the caller', async () => {
    const updates: ProgressUpdate[] = []
    const out = await session.call('count', { to: 3 }, call({ progress: (u) => updates.push(u) }))
    expect(out).toEqual({ counted: 3 })
    expect(updates).toEqual([
      { progress: 1, total: 3 },
      { progress: 2, total: 3 },
      { progress: 3, total: 3 },
    ])
  })

  it('sends cancel when the caller aborts, and when the call times out', async () => {
    const caller = new AbortController()
    const pending = session.call('hang', {}, call({ signal: caller.signal }))
    const sent = await receivedMatching((m) => m['tool'] === 'hang')
    caller.abort()
    const cancelled = await upstreamFailure(pending)
    expect(cancelled.timedOut).toBe(false)
    await receivedMatching((m) => m['type'] === 'cancel' && m['id'] === sent['id'])

    const timedOut = await upstreamFailure(session.call('hang', {}, call({ timeoutMs: 20 })))
    expect(timedOut.timedOut).toBe(true)
    const second = received.filter((m) => m['tool'] === 'hang').at(-1)!
    await receivedMatching((m) => m['type'] === 'cancel' && m['id'] === second['id'])
  })

  it('answers a ping', async () => {
    await expect(session.ping(AbortSignal.timeout(5000))).resolves.toBeUndefined()
  })

  it('fails the call in flight when the service closes the socket, and reports the session closed', async () => {
    const dying = await open({ url }, SECRET)
    const closed = new Promise<string>((resolve) => dying.onClosed!(resolve))
    const error = await upstreamFailure(dying.call('die', {}, call()))
    expect(error.message).toMatch(/WebSocket closed .*during the call/)
    expect(error.retryable).toBe(false)
    expect(await closed).toMatch(/WebSocket closed/)
    // Nothing can be sent on a dead socket: a later call is refused before sending (retryable).
    expect(await upstreamFailure(dying.call('echo', {}, call()))).toMatchObject({ retryable: true })
    await expect(dying.ping(AbortSignal.timeout(1000))).rejects.toBeInstanceOf(UpstreamError)
    await dying.close()
  })

  it('says what is wrong with a target', () => {
    expect(wsDriver.checkTarget({ url: 'http://x' })).toEqual([expect.stringMatching(/ws:\/\/ or wss:\/\//)])
    expect(wsDriver.checkTarget({ url, tools: [{ name: '', input: 3, extra: true }] })).toHaveLength(3)
  })
})
