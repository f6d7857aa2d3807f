import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mcpState } from '../../daemon/src/surfaces/mcp/state.ts'
import { CLIENT_KINDS, connect } from './support/clients.ts'
import { aborted, lateTool, type McpDaemon, mcpDaemon, TOKEN } from './support/daemon.ts'

let daemon: McpDaemon

beforeAll(async () => {
  daemon = await mcpDaemon()
})

afterAll(async () => {
  await daemon.close()
})

async function until(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe.each(CLIENT_KINDS)('Streamable HTTP with the %s client', (kind) => {
  it('negotiates its revision and lists every tool with the catalog schemas', async () => {
    const client = await connect(kind, { http: daemon.mcpUrl, token: TOKEN })
    try {
      expect(client.protocolVersion()).toBe(kind === 'sdk-v2@2026-07-28' ? '2026-07-28' : '2025-11-25')
      const { tools } = await client.listTools()
      const catalog = mcpState(daemon.app.arw).dispatcher.catalog()
      expect(tools.map((t) => t.name)).toEqual(catalog.map((t) => t.name))
      const echo = tools.find((t) => t.name === 'demo.echo')!
      const declared = catalog.find((t) => t.name === 'demo.echo')!
      expect(echo.inputSchema).toEqual(declared.inputSchema)
      expect(echo.outputSchema).toEqual(declared.outputSchema)
      expect(echo.annotations).toMatchObject({
        title: 'Echo text',
        readOnlyHint: true,
        idempotentHint: true,
        openWorldHint: false,
      })
    } finally {
      await client.close()
    }
  })

  it('calls a tool: structured output plus its text rendering, journaled with surface mcp', async () => {
    const client = await connect(kind, { http: daemon.mcpUrl, token: TOKEN })
    try {
      const text = `hello from ${kind}`
      const result = await client.callTool('demo.echo', { text })
      expect(result.isError ?? false).toBe(false)
      expect(result.structuredContent).toEqual({ text })
      expect(JSON.parse(result.content[0]!['text'] as string)).toEqual({ text })
      const journal = daemon.app.arw.journal
      const records = (await journal.read(0, 100_000)).filter((e) => e.kind === 'tool.ran')
      const record = records.find((e) => (e.payload as { output?: { text?: string } }).output?.text === text)
      expect(record?.payload).toMatchObject({ tool: 'demo.echo@1.0.0', outcome: 'ok', surface: 'mcp' })
      expect(record?.actor).toEqual({ kind: 'admin', id: 'admin' })
    } finally {
      await client.close()
    }
  })

  it('answers a failing call with an isError result carrying the RFC 7807 problem', async () => {
    const client = await connect(kind, { http: daemon.mcpUrl, token: TOKEN })
    try {
      const result = await client.callTool('demo.echo', { text: 42 })
      expect(result.isError).toBe(true)
      // The problem rides in _meta and as text; structuredContent would break 1.x SDK clients.
      expect(result.structuredContent).toBeUndefined()
      const problem = (result as { _meta?: Record<string, unknown> })._meta?.['io.arw/problem']
      expect(problem).toMatchObject({
        type: 'urn:arw:problem:validation_failed',
        status: 400,
        code: 'validation_failed',
        errors: [{ pointer: '/input/text', keyword: 'type' }],
      })
      expect(JSON.parse(result.content[0]!['text'] as string)).toEqual(problem)
      await expect(client.callTool('no.such.tool', {})).rejects.toThrow(/Unknown tool/)
    } finally {
      await client.close()
    }
  })

  it('forwards progress from ctx.progress', async () => {
    const client = await connect(kind, { http: daemon.mcpUrl, token: TOKEN })
    try {
      const progress: Array<{ progress: number; total?: number; message?: string }> = []
      const result = await client.callTool(
        'test.wait',
        { tag: `progress-${kind}`, ticks: 3 },
        { onprogress: (p) => progress.push(p) },
      )
      expect(result.structuredContent).toEqual({ tag: `progress-${kind}` })
      expect(progress.map((p) => [p.progress, p.total, p.message])).toEqual([
        [1, 3, 'tick 1'],
        [2, 3, 'tick 2'],
        [3, 3, 'tick 3'],
      ])
    } finally {
      await client.close()
    }
  })

  it('cancellation reaches the handler AbortSignal', async () => {
    const client = await connect(kind, { http: daemon.mcpUrl, token: TOKEN })
    try {
      const tag = `cancel-${kind}`
      const controller = new AbortController()
      const call = client.callTool('test.wait', { tag }, { signal: controller.signal })
      await new Promise((r) => setTimeout(r, 100))
      controller.abort('user cancelled')
      await expect(call).rejects.toThrow()
      await until(() => aborted.has(tag), 'the handler to see its signal fire')
      await until(
        async () =>
          (await daemon.app.arw.journal.read(0, 100_000)).some(
            (e) =>
              e.kind === 'tool.ran' &&
              (e.payload as { outcome?: string; surface?: string; input?: { tag?: string } }).outcome ===
                'cancelled',
          ),
        'the cancelled call in the journal',
      )
    } finally {
      await client.close()
    }
  })

  it('notifies tools/list_changed when a tool is registered at run time', async () => {
    const client = await connect(kind, { http: daemon.mcpUrl, token: TOKEN })
    try {
      let changed = 0
      await client.onToolsChanged(() => changed++)
      const listeners = mcpState(daemon.app.arw).listeners
      await until(() => listeners.size > 0, 'the notification stream to open')
      const name = `late.${kind.replace(/[^a-z0-9]/g, '')}`
      daemon.app.arw.registry.addTools([lateTool(name)])
      await until(() => changed > 0, 'tools/list_changed')
      const { tools } = await client.listTools()
      expect(tools.some((t) => t.name === name)).toBe(true)
    } finally {
      await client.close()
    }
  })
})

describe('authentication', () => {
  it('refuses a client without the bearer token', async () => {
    await expect(connect('sdk-1.x', { http: daemon.mcpUrl })).rejects.toThrow()
    await expect(connect('sdk-v2', { http: daemon.mcpUrl, token: 'wrong-token' })).rejects.toThrow()
  })
})

describe('isolation and transport security', () => {
  const H = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${TOKEN}`,
  }

  async function session(): Promise<Record<string, string>> {
    const res = await fetch(daemon.mcpUrl, {
      method: 'POST',
      headers: H,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    })
    await res.text()
    return {
      ...H,
      'mcp-session-id': res.headers.get('mcp-session-id')!,
      'mcp-protocol-version': '2025-11-25',
    }
  }

  it('answers every client its own call when concurrent clients reuse the same JSON-RPC ids', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => session()))
    const calls: Promise<void>[] = []
    for (let round = 0; round < 25; round++) {
      clients.forEach((headers, c) => {
        const text = `client-${c}-round-${round}`
        calls.push(
          (async () => {
            const res = await fetch(daemon.mcpUrl, {
              method: 'POST',
              headers,
              // Every client uses id 7 for every call.
              body: JSON.stringify({
                jsonrpc: '2.0',
                id: 7,
                method: 'tools/call',
                params: { name: 'demo.echo', arguments: { text } },
              }),
            })
            const body = (await res.json()) as { id: number; result: { structuredContent: unknown } }
            expect(body.id).toBe(7)
            expect(body.result.structuredContent).toEqual({ text })
          })(),
        )
      })
    }
    await Promise.all(calls)
    expect(calls).toHaveLength(500)
  })

  it('refuses a browser origin that is not loopback (DNS rebinding) with 403', async () => {
    const headers = await session()
    const res = await fetch(daemon.mcpUrl, {
      method: 'POST',
      headers: { ...headers, origin: 'https://evil.example' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    })
    expect(res.status).toBe(403)
    await res.text()
    const ok = await fetch(daemon.mcpUrl, {
      method: 'POST',
      headers: { ...headers, origin: 'http://127.0.0.1:3000' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    })
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as { result: unknown }).result).toEqual({})
  })

  it('tells a client whose session is unknown to initialize again (404), never leaves it hanging', async () => {
    const res = await fetch(daemon.mcpUrl, {
      method: 'POST',
      headers: {
        ...H,
        'mcp-session-id': '2025-11-25.1.-.forged.signature',
        'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    })
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/initialize/)
  })
})

describe('tools/call _meta', () => {
  it('carries the task id, step and idempotency key as HTTP callers send them, with an MCP instance', async () => {
    const headers = {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'demo.echo',
    }
    const callWith = async (meta: Record<string, unknown>, args: unknown) => {
      const res = await fetch(daemon.mcpUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: {
            name: 'demo.echo',
            arguments: args,
            _meta: {
              'io.modelcontextprotocol/protocolVersion': '2026-07-28',
              'io.modelcontextprotocol/clientCapabilities': {},
              'io.modelcontextprotocol/clientInfo': { name: 'test', version: '1' },
              ...meta,
            },
          },
        }),
      })
      const body = (await res.json()) as {
        result: { structuredContent?: unknown; _meta?: Record<string, unknown> }
      }
      if (!body.result) throw new Error(JSON.stringify(body))
      return body
    }
    const meta = {
      'io.arw/task_id': 'mcp-task-7',
      'io.arw/step': 'first',
      'io.arw/idempotency_key': 'mcp-key-7',
    }
    await callWith(meta, { text: 'once' })
    await callWith(meta, { text: 'once' })
    const records = await daemon.app.arw.journal.byTask('mcp-task-7')
    // The retry under the same key was a replay: one record, with everything HTTP would record.
    expect(records).toHaveLength(1)
    expect(records[0]).toMatchObject({
      task_id: 'mcp-task-7',
      payload: { surface: 'mcp', step: 'first', idempotency_key: 'mcp-key-7', output: { text: 'once' } },
    })
    const failed = await callWith({}, { text: 5 })
    const problem = failed.result._meta?.['io.arw/problem'] as { instance: string; code: string }
    expect(problem).toMatchObject({ code: 'validation_failed', instance: 'mcp:tools/call/demo.echo' })
  })
})
