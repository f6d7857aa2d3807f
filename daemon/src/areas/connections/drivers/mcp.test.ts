import { execFileSync } from 'node:child_process'
import { createServer, type Server as HttpServer } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import type { ProgressUpdate } from '@arw/registry'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import pino from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { type McpUpstream, startMcpUpstream } from '../../../testing/mcp-upstream.ts'
import type { UpstreamSession } from '../driver.ts'
import { upstreamFailure } from './failure.test-support.ts'
import { CONTENT_RESULT_SCHEMA, checkMcpTarget, mcpDriver } from './mcp.ts'

// The MCP connector against real servers on this machine: the reference server
// `@modelcontextprotocol/server-everything` started over stdio by the driver, and an SDK McpServer
// over Streamable HTTP on 127.0.0.1 (daemon/src/testing/mcp-upstream.ts).

const logger = pino({ level: 'silent' })
const EVERYTHING = createRequire(import.meta.url).resolve(
  '@modelcontextprotocol/server-everything/dist/index.js',
)
const everything = (extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: [EVERYTHING, 'stdio'],
  ...extra,
})

const sessions: UpstreamSession[] = []
async function open(target: Record<string, unknown>, secret?: string): Promise<UpstreamSession> {
  expect(checkMcpTarget(target)).toEqual([])
  const session = await mcpDriver.open({
    target,
    secret,
    signal: new AbortController().signal,
    logger,
    egress: () => {},
  })
  sessions.push(session)
  return session
}
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()))
})

function call(timeoutMs = 20_000, signal = new AbortController().signal) {
  const progress: ProgressUpdate[] = []
  return { progress, options: { signal, timeoutMs, progress: (p: ProgressUpdate) => progress.push(p) } }
}

/** The pids of this process's children running the reference server (the driver spawned them). */
function everythingChildren(): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
  return out
    .split('\n')
    .filter((line) => line.includes('server-everything'))
    .map((line) => Number.parseInt(line.trim(), 10))
}

describe('mcp targets', () => {
  it('accepts a stdio command or an http(s) URL, and says what is wrong otherwise', () => {
    expect(
      checkMcpTarget({ command: 'node', args: ['server.js'], env: { A: '1' }, secretEnv: 'TOKEN' }),
    ).toEqual([])
    expect(checkMcpTarget({ url: 'https://mcp.example.com/mcp', headers: { 'x-team': 'a' } })).toEqual([])
    expect(checkMcpTarget({})).toHaveLength(1)
    expect(checkMcpTarget({ command: 'node', url: 'http://x' })).toHaveLength(1)
    expect(checkMcpTarget({ command: 'npx foo | sh' })[0]).toMatch(/without a shell/)
    expect(checkMcpTarget({ command: 42 })[0]).toMatch(/non-empty string/)
    expect(checkMcpTarget({ command: 'node', args: 'server.js' })[0]).toMatch(/args/)
    expect(checkMcpTarget({ command: 'node', secretEnv: 'A B' })[0]).toMatch(/secretEnv/)
    expect(checkMcpTarget({ command: 'node', headers: {} })[0]).toMatch(/not a field/)
    expect(checkMcpTarget({ url: 'file:///etc/passwd' })[0]).toMatch(/http or https/)
    expect(checkMcpTarget({ url: 'not a url' })[0]).toMatch(/absolute URL/)
    expect(checkMcpTarget({ url: 'http://user:pw@host/mcp' })[0]).toMatch(/credentials/)
    expect(checkMcpTarget({ url: 'http://host/mcp', headers: { Authorization: 'Bearer x' } })[0]).toMatch(
      /secret/,
    )
  })

  it('fails to open a command that does not exist with an UpstreamError', async () => {
    const error = await upstreamFailure(open({ command: '/nonexistent/mcp-server' }))
    expect(error.message).toMatch(/ENOENT|could not|connecting/)
  })
})

describe('mcp over stdio: the reference server (server-everything)', () => {
  it('lists its tools with their schemas and hints', async () => {
    const session = await open(everything())
    const tools = await session.tools()
    const echo = tools.find((t) => t.name === 'echo')
    expect(echo).toMatchObject({
      title: 'Echo Tool',
      input: { type: 'object', properties: { message: { type: 'string' } } },
      output: CONTENT_RESULT_SCHEMA,
      hints: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
      retrySafe: true,
    })
    const structured = tools.find((t) => t.name === 'get-structured-content')
    expect(structured?.output).toMatchObject({
      type: 'object',
      properties: { temperature: { type: 'number' } },
    })
  })

  it('calls a tool: content when it has no output schema, structured content when it has one', async () => {
    const session = await open(everything())
    await session.tools()
    expect(await session.call('echo', { message: 'hi' }, call().options)).toEqual({
      content: [{ type: 'text', text: 'Echo: hi' }],
    })
    expect(await session.call('get-structured-content', { location: 'Chicago' }, call().options)).toEqual({
      temperature: 36,
      conditions: 'Light rain / drizzle',
      humidity: 82,
    })
  })

  it('gives the bound secret to the server in the environment variable the target names', async () => {
    const session = await open(everything({ secretEnv: 'API_TOKEN', env: { TEAM: 'blue' } }), 'canary-s3cret')
    const result = (await session.call('get-env', {}, call().options)) as { content: Array<{ text: string }> }
    const env = JSON.parse(result.content[0]!.text) as Record<string, string>
    expect(env['API_TOKEN']).toBe('canary-s3cret')
    expect(env['TEAM']).toBe('blue')
  })

  it('forwards the progress the server reports', async () => {
    const session = await open(everything())
    const { progress, options } = call()
    await session.call('trigger-long-running-operation', { duration: 0.3, steps: 3 }, options)
    expect(progress).toEqual([
      { progress: 1, total: 3 },
      { progress: 2, total: 3 },
      { progress: 3, total: 3 },
    ])
  })

  it('answers a ping', async () => {
    const session = await open(everything())
    await expect(session.ping(new AbortController().signal)).resolves.toBeUndefined()
  })

  it('fails a call with an UpstreamError when the server process dies mid-call, and says the session closed', async () => {
    const session = await open(everything())
    const closed = new Promise<string>((resolve) => session.onClosed?.(resolve))
    const { progress, options } = call()
    const pending = session.call('trigger-long-running-operation', { duration: 60, steps: 600 }, options)
    await vi.waitFor(() => expect(progress.length).toBeGreaterThan(0), { timeout: 10_000 })
    const [pid] = everythingChildren()
    process.kill(pid!, 'SIGKILL')
    const error = await upstreamFailure(pending)
    expect(error.timedOut).toBe(false)
    // The call may have run upstream: not safe to send again.
    expect(error.retryable).toBe(false)
    expect(await closed).toMatch(/closed/)
    // A later call is refused without reaching anything, so it may be retried on a new session.
    expect((await upstreamFailure(session.call('echo', { message: 'x' }, call().options))).retryable).toBe(
      true,
    )
  })

  it('cancels a call when its signal aborts', async () => {
    const session = await open(everything())
    const controller = new AbortController()
    const { progress, options } = call(20_000, controller.signal)
    const pending = session.call('trigger-long-running-operation', { duration: 60, steps: 600 }, options)
    await vi.waitFor(() => expect(progress.length).toBeGreaterThan(0), { timeout: 10_000 })
    controller.abort()
    // The caller's own abort ends the call with its reason: not an upstream failure.
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    // The session is still usable after a cancelled call.
    expect(await session.call('echo', { message: 'after' }, call().options)).toEqual({
      content: [{ type: 'text', text: 'Echo: after' }],
    })
  })
})

describe('mcp over Streamable HTTP: an SDK McpServer on loopback', () => {
  let upstream: McpUpstream
  beforeAll(async () => {
    upstream = await startMcpUpstream()
  })
  afterAll(async () => {
    await upstream.close()
  })

  it('lists tools; a tool without annotations gets the MCP defaults (destructive, open world, not retried)', async () => {
    const session = await open({ url: upstream.url })
    const tools = await session.tools()
    expect(tools.map((t) => t.name).sort()).toEqual(['echo', 'fail', 'hang', 'leak', 'shout', 'steps'])
    expect(tools.find((t) => t.name === 'echo')).toMatchObject({
      output: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      hints: { readOnly: true, idempotent: true, openWorld: false },
      retrySafe: true,
    })
    expect(tools.find((t) => t.name === 'shout')).toMatchObject({
      output: CONTENT_RESULT_SCHEMA,
      hints: { readOnly: false, destructive: true, idempotent: false, openWorld: true },
      retrySafe: false,
    })
  })

  it('calls tools and sends the bound secret as a bearer token', async () => {
    const session = await open({ url: upstream.url, headers: { 'x-team': 'blue' } }, 'canary-s3cret')
    await session.tools()
    expect(await session.call('echo', { text: 'hi' }, call().options)).toEqual({ text: 'hi' })
    expect(await session.call('shout', { text: 'hi' }, call().options)).toEqual({
      content: [{ type: 'text', text: 'HI' }],
    })
    expect(upstream.authorization).toBe('Bearer canary-s3cret')
  })

  it("sends the call's trace upstream as _meta.traceparent", async () => {
    const session = await open({ url: upstream.url })
    const trace = { traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), flags: '01' }
    await session.call('echo', { text: 'traced' }, { ...call().options, trace })
    expect(upstream.traceparent).toBe(`00-${trace.traceId}-${trace.spanId}-01`)
  })

  it('turns an isError result into an UpstreamError with an excerpt of its text', async () => {
    const session = await open({ url: upstream.url })
    const error = await upstreamFailure(session.call('fail', {}, call().options))
    expect(error.excerpt).toContain('quota exhausted')
    expect(error.retryable).toBe(false)
  })

  it('never lets the secret out in an error excerpt, even when the upstream quotes it', async () => {
    const session = await open({ url: upstream.url }, 'canary-s3cret')
    const error = await upstreamFailure(session.call('leak', {}, call().options))
    expect(error.excerpt).toBe('refused Bearer [redacted]')
  })

  it('forwards progress with its messages', async () => {
    const session = await open({ url: upstream.url })
    await session.tools()
    const { progress, options } = call()
    expect(await session.call('steps', { count: 3, delayMs: 5 }, options)).toEqual({ done: 3 })
    expect(progress).toEqual([1, 2, 3].map((i) => ({ progress: i, total: 3, message: `step ${i}` })))
  })

  it('cancels upstream: the server sees its call aborted', async () => {
    const session = await open({ url: upstream.url })
    const before = { hanging: upstream.hanging, aborted: upstream.aborted }
    const controller = new AbortController()
    const pending = session.call('hang', {}, call(20_000, controller.signal).options)
    await vi.waitFor(() => expect(upstream.hanging).toBe(before.hanging + 1))
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    await vi.waitFor(() => expect(upstream.aborted).toBe(before.aborted + 1))
  })

  it('times a call out after the time it was given', async () => {
    const session = await open({ url: upstream.url })
    const error = await upstreamFailure(session.call('hang', {}, call(200).options))
    expect(error.timedOut).toBe(true)
  })

  it('tells the area when the tool list changed', async () => {
    const session = await open({ url: upstream.url })
    const changed = vi.fn()
    session.onToolsChanged?.(changed)
    // The notification comes on the session's standing stream, which opens after initialization.
    await vi.waitFor(async () => {
      upstream.addTool(`late-${Date.now()}`)
      expect(changed).toHaveBeenCalled()
    })
    expect((await session.tools()).some((t) => t.name.startsWith('late-'))).toBe(true)
  })

  it('gives up opening a server that does not answer when the open is aborted', async () => {
    // A listener that accepts and never answers.
    const silent = createServer(() => undefined)
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/mcp`
      const error = await upstreamFailure(
        mcpDriver.open({
          target: { url },
          secret: undefined,
          signal: AbortSignal.timeout(200),
          logger,
          egress: () => {},
        }),
      )
      expect(error.timedOut).toBe(true)
    } finally {
      silent.closeAllConnections()
      await new Promise((resolve) => silent.close(resolve))
    }
  })

  it('refuses to open an unreachable server with a retryable UpstreamError', async () => {
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as AddressInfo).port
    await new Promise((resolve) => probe.close(resolve))
    const error = await upstreamFailure(open({ url: `http://127.0.0.1:${port}/mcp` }))
    expect(error.retryable).toBe(true)
  })

  it('fails a call at once when the server dies mid-call; calls while it is down may be retried; the session ends when it is back without it', async () => {
    const session = await open({ url: upstream.url })
    const closed = vi.fn()
    session.onClosed?.(closed)
    const hanging = upstream.hanging
    // A timeout longer than the test's: the call must fail because the stream broke, not time out.
    const pending = session.call('hang', {}, call(120_000).options)
    await vi.waitFor(() => expect(upstream.hanging).toBe(hanging + 1))
    await upstream.kill()
    const error = await upstreamFailure(pending)
    expect(error.timedOut).toBe(false)
    // It may have run upstream: not safe to send again.
    expect(error.retryable).toBe(false)
    // While the server is down nothing reaches it: those calls are safe to repeat.
    const refused = await upstreamFailure(session.call('echo', { text: 'down' }, call().options))
    expect(refused.retryable).toBe(true)
    expect(closed).not.toHaveBeenCalled()
    await upstream.restart()
    // The restarted server does not know the session: the session ends, a new one works.
    await vi.waitFor(async () => {
      await session.call('echo', { text: 'back' }, call().options).catch(() => undefined)
      expect(closed).toHaveBeenCalledWith(expect.stringMatching(/forgot the session/))
    })
    const again = await open({ url: upstream.url })
    expect(await again.call('echo', { text: 'back' }, call().options)).toEqual({ text: 'back' })
  })

  it('says the session closed when the server forgot it (a 404 for its session id)', async () => {
    const session = await open({ url: upstream.url })
    await session.call('echo', { text: 'one' }, call().options)
    const closed = new Promise<string>((resolve) => session.onClosed?.(resolve))
    upstream.forget()
    const error = await upstreamFailure(session.call('echo', { text: 'two' }, call().options))
    expect(error.status).toBe(404)
    // The server never ran the call: a new session may send it again.
    expect(error.retryable).toBe(true)
    expect(await closed).toMatch(/forgot the session/)
  })
})

describe('mcp tools/list pagination', () => {
  let http: HttpServer
  let url: string
  beforeAll(async () => {
    // A low-level SDK server whose tools/list answers in pages of two.
    const names = ['a', 'b', 'c', 'd', 'e']
    http = createServer(async (req, res) => {
      const server = new Server({ name: 'pages', version: '1.0.0' }, { capabilities: { tools: {} } })
      server.setRequestHandler(ListToolsRequestSchema, (request) => {
        const start = Number(request.params?.cursor ?? 0)
        const page = names.slice(start, start + 2)
        return {
          tools: page.map((name) => ({ name, inputSchema: { type: 'object' as const } })),
          ...(start + 2 < names.length ? { nextCursor: String(start + 2) } : {}),
        }
      })
      server.setRequestHandler(CallToolRequestSchema, () => ({ content: [] }))
      const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true })
      res.on('close', () => void server.close())
      await server.connect(transport)
      await transport.handleRequest(req, res)
    })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`
  })
  afterAll(async () => {
    http.closeAllConnections()
    await new Promise((resolve) => http.close(resolve))
  })

  it('follows nextCursor until the last page', async () => {
    const session = await open({ url })
    expect((await session.tools()).map((t) => t.name)).toEqual(['a', 'b', 'c', 'd', 'e'])
  })
})

describe('mcp over Streamable HTTP: a stateless server answering JSON', () => {
  let http: HttpServer
  let base: string
  const seen: string[] = []
  beforeAll(async () => {
    // A stateless SDK server (no session id, JSON answers) behind a redirect from /old, and a
    // 503 for a call of `busy` that never reaches it.
    http = createServer(async (req, res) => {
      if (req.url === '/old') {
        res.writeHead(307, { location: '/mcp' }).end()
        return
      }
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined
      seen.push(`${req.method} ${body?.method ?? ''} ${req.headers['mcp-session-id'] ?? 'no session'}`)
      if (body?.params?.name === 'busy') {
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '2' }).end('try again later')
        return
      }
      const server = new Server({ name: 'stateless', version: '1.0.0' }, { capabilities: { tools: {} } })
      server.setRequestHandler(ListToolsRequestSchema, () => ({
        tools: [{ name: 'echo', inputSchema: { type: 'object' as const } }],
      }))
      server.setRequestHandler(CallToolRequestSchema, (request) => ({
        content: [{ type: 'text', text: String(request.params.arguments?.['text']) }],
      }))
      const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true })
      res.on('close', () => void server.close())
      await server.connect(transport)
      await transport.handleRequest(req, res, body)
    })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    http.closeAllConnections()
    await new Promise((resolve) => http.close(resolve))
  })

  it('calls tools without a session id', async () => {
    const session = await open({ url: `${base}/mcp` })
    seen.length = 0
    expect(await session.call('echo', { text: 'one' }, call().options)).toEqual({
      content: [{ type: 'text', text: 'one' }],
    })
    expect(seen.filter((line) => line.startsWith('POST'))).toEqual(['POST tools/call no session'])
  })

  it('follows a redirect within the origin for the calls of a session', async () => {
    const session = await open({ url: `${base}/old` })
    expect(await session.call('echo', { text: 'moved' }, call().options)).toEqual({
      content: [{ type: 'text', text: 'moved' }],
    })
  })

  it('fails a call the server answers with 503 with a retryable UpstreamError carrying the status and Retry-After', async () => {
    const session = await open({ url: `${base}/mcp` })
    const error = await upstreamFailure(session.call('busy', {}, call().options))
    expect(error.status).toBe(503)
    expect(error.retryable).toBe(true)
    expect(error.excerpt).toMatch(/try again later/)
    expect(error.retryAfterMs).toBe(2000)
  })
})
