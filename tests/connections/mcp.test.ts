import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { TEST_TOKEN } from '../../daemon/src/testing/harness.ts'
import { type McpUpstream, startMcpUpstream } from '../../daemon/src/testing/mcp-upstream.ts'
import { invoke, rest, StateDir } from './support.ts'

// Connections of kind mcp, end to end: a real upstream MCP server (an SDK McpServer over
// Streamable HTTP on loopback; the reference server-everything over stdio), linked through the
// daemon's REST routes, its tools called over the daemon's HTTP invoke and its own MCP surface.

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

/** An MCP client of the daemon itself (the official SDK's, with the admin token). */
async function daemonMcp(base: string): Promise<Client> {
  const client = new Client({ name: 'arw-test', version: '1.0.0' })
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${TEST_TOKEN}` } },
    }),
  )
  return client
}

async function link(
  app: FastifyInstance,
  id: string,
  target: Record<string, unknown>,
  tuning: Record<string, unknown> = {},
) {
  const created = await rest(app, 'POST', '/connections', {
    id: `c-${id}`,
    connectorId: 'mcp',
    target,
    ...tuning,
  })
  expect(created.status, JSON.stringify(created.body)).toBe(200)
  const linked = await rest(app, 'POST', '/links', {
    id: `l-${id}`,
    connectionId: `c-${id}`,
    serviceId: id,
    autoEnable: true,
  })
  expect(linked.status, JSON.stringify(linked.body)).toBe(200)
  return linked.body.link
}

describe('an MCP server over Streamable HTTP, linked as a connection of kind mcp', () => {
  let upstream: McpUpstream
  let state: StateDir
  let app: FastifyInstance
  let base: string
  let mcp: Client
  let linked: { status: string; tools: string[] }

  beforeAll(async () => {
    upstream = await startMcpUpstream()
    state = new StateDir()
    app = await state.start()
    base = await listen(app)
    linked = await link(
      app,
      'up',
      { url: upstream.url },
      // One attempt per call and a small breaker, so the test can count failures.
      { retry: { maxAttempts: 1 }, breaker: { failures: 2, halfOpenAfterMs: 200 } },
    )
    mcp = await daemonMcp(base)
  })
  afterAll(async () => {
    await mcp?.close()
    await app?.close()
    state?.remove()
    await upstream?.close()
  })

  it('imports its tools: in /admin/introspect/tools and the daemon MCP tools/list, with their schemas', async () => {
    expect(linked.status).toBe('up')
    expect(linked.tools).toEqual(
      expect.arrayContaining([
        'up.echo@1.0.0',
        'up.shout@1.0.0',
        'up.fail@1.0.0',
        'up.steps@1.0.0',
        'up.hang@1.0.0',
      ]),
    )
    const introspected = await rest(app, 'GET', '/admin/introspect/tools')
    expect(introspected.body.find((t: { id: string }) => t.id === 'up.echo@1.0.0')).toMatchObject({
      hints: { readOnly: true, idempotent: true },
    })
    const { tools } = await mcp.listTools()
    const echo = tools.find((t) => t.name === 'up.echo')
    expect(echo?.inputSchema).toMatchObject({ type: 'object', properties: { text: { type: 'string' } } })
    expect(echo?.outputSchema).toMatchObject({ type: 'object', properties: { text: { type: 'string' } } })
    // A tool without an output schema upstream answers its content blocks, and says so.
    expect(tools.find((t) => t.name === 'up.shout')?.outputSchema).toMatchObject({
      properties: { content: { type: 'array' } },
    })
  })

  it('calls an imported tool over HTTP invoke and over the daemon MCP, through the pipeline', async () => {
    const invoked = await invoke(app, 'up.echo', { text: 'hello' })
    expect(invoked.status).toBe(200)
    expect(invoked.body.output).toEqual({ text: 'hello' })
    const shouted = await invoke(app, 'up.shout', { text: 'hello' })
    expect(shouted.body.output).toEqual({ content: [{ type: 'text', text: 'HELLO' }] })
    // Input is checked against the imported schema before anything goes upstream.
    const bad = await invoke(app, 'up.echo', { text: 42 })
    expect(bad.status).toBe(400)
    expect(bad.body.code).toBe('validation_failed')
    const called = await mcp.callTool({ name: 'up.echo', arguments: { text: 'over mcp' } })
    expect(called.structuredContent).toEqual({ text: 'over mcp' })
  })

  it('answers upstream_error with an excerpt when the upstream tool reports an error', async () => {
    const failed = await invoke(app, 'up.fail', {})
    expect(failed.status).toBe(502)
    expect(failed.body.code).toBe('upstream_error')
    expect(failed.body.detail).toContain('quota exhausted')
    // Back to healthy for the breaker count of the test below.
    expect((await invoke(app, 'up.echo', { text: 'ok' })).status).toBe(200)
  })

  it('passes upstream progress through to the caller of the daemon MCP', async () => {
    const progress: Array<{ progress: number; total: number | undefined; message: string | undefined }> = []
    const result = await mcp.callTool({ name: 'up.steps', arguments: { count: 3, delayMs: 20 } }, undefined, {
      onprogress: (p) => progress.push({ progress: p.progress, total: p.total, message: p.message }),
    })
    expect(result.structuredContent).toEqual({ done: 3 })
    expect(progress).toEqual([1, 2, 3].map((i) => ({ progress: i, total: 3, message: `step ${i}` })))
  })

  it('passes a cancellation from the daemon MCP caller to the upstream', async () => {
    const before = { hanging: upstream.hanging, aborted: upstream.aborted }
    const controller = new AbortController()
    const pending = mcp.callTool({ name: 'up.hang', arguments: {} }, undefined, { signal: controller.signal })
    await vi.waitFor(() => expect(upstream.hanging).toBe(before.hanging + 1))
    controller.abort()
    await expect(pending).rejects.toThrow()
    await vi.waitFor(() => expect(upstream.aborted).toBe(before.aborted + 1))
    // A cancellation is not an upstream failure: the connection stays healthy.
    expect((await rest(app, 'GET', '/connections/c-up')).body.connection.status).toBe('healthy')
  })

  it('cancels the upstream call when an HTTP invoke caller hangs up', async () => {
    const before = { hanging: upstream.hanging, aborted: upstream.aborted }
    const controller = new AbortController()
    const pending = fetch(`${base}/tools/up.hang:invoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-arw-admin': TEST_TOKEN },
      body: JSON.stringify({ input: {} }),
      signal: controller.signal,
    })
    await vi.waitFor(() => expect(upstream.hanging).toBe(before.hanging + 1))
    controller.abort()
    await expect(pending).rejects.toThrow()
    await vi.waitFor(() => expect(upstream.aborted).toBe(before.aborted + 1))
  })

  it('re-imports when the upstream tool list changes, and tells the daemon MCP clients', async () => {
    const changed = vi.fn()
    mcp.setNotificationHandler(ToolListChangedNotificationSchema, changed)
    upstream.addTool('late')
    await vi.waitFor(() => expect(changed).toHaveBeenCalled(), { timeout: 10_000 })
    await vi.waitFor(async () => {
      expect((await mcp.listTools()).tools.map((t) => t.name)).toContain('up.late')
    })
    expect((await invoke(app, 'up.late', {})).body.output).toEqual({
      content: [{ type: 'text', text: 'late' }],
    })
  })

  it('upstream killed mid-call: upstream_error; the breaker opens; calls recover once the upstream is back', async () => {
    const hanging = upstream.hanging
    const pending = invoke(app, 'up.hang', {})
    await vi.waitFor(() => expect(upstream.hanging).toBe(hanging + 1))
    await upstream.kill()
    const killed = await pending
    expect(killed.status).toBe(502)
    expect(killed.body.code).toBe('upstream_error')
    // Failures in a row open the circuit: calls are then refused at once.
    let refused: Awaited<ReturnType<typeof invoke>> | undefined
    for (let i = 0; i < 5 && refused === undefined; i++) {
      const res = await invoke(app, 'up.echo', { text: 'down' })
      if (res.body.code === 'unavailable') refused = res
      else expect(res.body.code).toBe('upstream_error')
    }
    expect(refused?.status).toBe(503)
    expect(refused?.body.detail).toMatch(/circuit is open/)
    expect((await rest(app, 'GET', '/connections/c-up')).body.connection.status).toBe('error')
    await upstream.restart()
    await vi.waitFor(
      async () => {
        const res = await invoke(app, 'up.echo', { text: 'back' })
        expect(res.body.output).toEqual({ text: 'back' })
      },
      { timeout: 15_000, interval: 100 },
    )
    await vi.waitFor(async () =>
      expect((await rest(app, 'GET', '/connections/c-up')).body.connection.status).toBe('healthy'),
    )
    expect(
      (await mcp.callTool({ name: 'up.echo', arguments: { text: 'mcp back' } })).structuredContent,
    ).toEqual({
      text: 'mcp back',
    })
  })
})

describe('the reference server (server-everything) over stdio, linked as a connection of kind mcp', () => {
  const everything = createRequire(import.meta.url).resolve(
    '@modelcontextprotocol/server-everything/dist/index.js',
  )
  let state: StateDir
  let app: FastifyInstance
  let mcp: Client

  beforeAll(async () => {
    state = new StateDir()
    app = await state.start()
    const linked = await link(app, 'everything', { command: process.execPath, args: [everything, 'stdio'] })
    expect(linked.status).toBe('up')
    mcp = await daemonMcp(await listen(app))
  })
  afterAll(async () => {
    await mcp?.close()
    await app?.close()
    state?.remove()
  })

  it('imports its tools and calls them over HTTP invoke and the daemon MCP, with progress', async () => {
    const { tools } = await mcp.listTools()
    expect(tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['everything.echo', 'everything.get-sum', 'everything.get-structured-content']),
    )
    expect((await invoke(app, 'everything.get-sum', { a: 2, b: 3 })).body.output).toEqual({
      content: [{ type: 'text', text: 'The sum of 2 and 3 is 5.' }],
    })
    const weather = await mcp.callTool({
      name: 'everything.get-structured-content',
      arguments: { location: 'Chicago' },
    })
    expect(weather.structuredContent).toMatchObject({ temperature: 36 })
    const progress: number[] = []
    await mcp.callTool(
      { name: 'everything.trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    )
    // The last update may come in the same chunk as the result, which the 1.x client drops.
    expect(progress.slice(0, 2)).toEqual([1, 2])
  })

  it('server process killed mid-call: upstream_error, and the link comes back with a new process', async () => {
    const progress: number[] = []
    const pending = mcp.callTool(
      { name: 'everything.trigger-long-running-operation', arguments: { duration: 60, steps: 600 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress), timeout: 30_000 },
    )
    // The call is running upstream once it reports progress.
    await vi.waitFor(() => expect(progress.length).toBeGreaterThan(0), { timeout: 10_000 })
    const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    const [pid] = out
      .split('\n')
      .filter((line) => line.includes('server-everything'))
      .map((line) => Number.parseInt(line.trim(), 10))
    process.kill(pid!, 'SIGKILL')
    const killed = await pending
    expect(killed.isError).toBe(true)
    expect(killed._meta?.['io.arw/problem']).toMatchObject({ code: 'upstream_error', status: 502 })
    await vi.waitFor(
      async () => {
        const res = await invoke(app, 'everything.echo', { message: 'again' })
        expect(res.body.output).toEqual({ content: [{ type: 'text', text: 'Echo: again' }] })
      },
      { timeout: 15_000, interval: 200 },
    )
  })
})
