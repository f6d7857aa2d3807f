import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { z } from 'zod'

/**
 * A real MCP server over Streamable HTTP, built with the official SDK (McpServer), for tests of the
 * MCP connector: it listens on 127.0.0.1 on a port of its own, keeps one McpServer per session, and
 * records what the tests check from the upstream side (aborted calls, the Authorization it got).
 *
 * Tools:
 *   echo      {text} → structured {text}; read-only, idempotent, with an output schema
 *   shout     {text} → content only (no output schema), upper-cased
 *   fail      {}     → an isError result whose text the caller should see an excerpt of
 *   leak      {}     → an isError result quoting the Authorization header it got
 *   steps     {count, delayMs} → `count` progress notifications, then {done: count}
 *   hang      {}     → never answers; records when its call is aborted (the client cancelled)
 */
export interface McpUpstream {
  url: string
  port: number
  /** Calls of `hang` whose abort signal fired upstream (cancellation reached the server). */
  aborted: number
  /** Calls of `hang` that started (a test waits for one before cancelling or killing). */
  hanging: number
  /** The Authorization header of the last request. */
  authorization: string | undefined
  /** The `_meta.traceparent` of the last `echo` call. */
  traceparent: unknown
  /** Adds a tool to every open session (each sends notifications/tools/list_changed). */
  addTool(name: string): void
  /** Forgets every session but keeps its streams open (a server restarted behind a proxy). */
  forget(): void
  /** Drops every connection and stops listening, as a crashed server would. */
  kill(): Promise<void>
  /** Listens again on the same port (a fresh process: no sessions). */
  restart(): Promise<void>
  close(): Promise<void>
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('error', reject)
    req.on('end', () => {
      try {
        resolve(chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString('utf8')))
      } catch (error) {
        reject(error)
      }
    })
  })
}

export async function startMcpUpstream(): Promise<McpUpstream> {
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>()
  const extraTools: string[] = []

  const state: McpUpstream = {
    url: '',
    port: 0,
    aborted: 0,
    hanging: 0,
    authorization: undefined,
    traceparent: undefined,
    addTool(name) {
      extraTools.push(name)
      for (const { server } of sessions.values()) registerExtra(server, name)
    },
    forget: () => sessions.clear(),
    kill: async () => {
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
      for (const { transport } of sessions.values()) await transport.close().catch(() => undefined)
      sessions.clear()
    },
    restart: () => listen(state.port),
    close: async () => {
      if (http.listening) await state.kill()
    },
  }

  function registerExtra(server: McpServer, name: string): void {
    server.registerTool(name, { description: `Added at run time: ${name}`, inputSchema: {} }, async () => ({
      content: [{ type: 'text', text: name }],
    }))
  }

  function newServer(): McpServer {
    const server = new McpServer({ name: 'test-upstream', version: '1.0.0' })
    server.registerTool(
      'echo',
      {
        title: 'Echo',
        description: 'Returns the text it was given.',
        inputSchema: { text: z.string() },
        outputSchema: { text: z.string() },
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      async ({ text }, extra) => {
        state.traceparent = extra._meta?.['traceparent']
        return { content: [{ type: 'text', text }], structuredContent: { text } }
      },
    )
    server.registerTool(
      'shout',
      { description: 'Upper-cases the text.', inputSchema: { text: z.string() } },
      async ({ text }) => ({ content: [{ type: 'text', text: text.toUpperCase() }] }),
    )
    server.registerTool('fail', { description: 'Always fails.', inputSchema: {} }, async () => ({
      isError: true,
      content: [{ type: 'text', text: 'the upstream refused: quota exhausted' }],
    }))
    server.registerTool(
      'leak',
      { description: 'Fails, quoting the credentials it got.', inputSchema: {} },
      async (_a, extra) => ({
        isError: true,
        content: [{ type: 'text', text: `refused ${extra.requestInfo?.headers['authorization'] ?? ''}` }],
      }),
    )
    server.registerTool(
      'steps',
      {
        description: 'Reports progress `count` times.',
        inputSchema: { count: z.number().int(), delayMs: z.number().int() },
        outputSchema: { done: z.number() },
      },
      async ({ count, delayMs }, extra) => {
        const token = extra._meta?.progressToken
        for (let i = 1; i <= count; i++) {
          await new Promise((resolve) => setTimeout(resolve, delayMs))
          if (token !== undefined) {
            await extra.sendNotification({
              method: 'notifications/progress',
              params: { progressToken: token, progress: i, total: count, message: `step ${i}` },
            })
          }
        }
        // The 1.x SDK client drops a progress notification read in the same chunk as the result
        // (see the mcp driver): a pause keeps the last one apart, as a real tool's work would.
        await new Promise((resolve) => setTimeout(resolve, delayMs))
        return { content: [{ type: 'text', text: String(count) }], structuredContent: { done: count } }
      },
    )
    server.registerTool('hang', { description: 'Never answers.', inputSchema: {} }, (_args, extra) => {
      state.hanging++
      return new Promise((_resolve, reject) => {
        extra.signal.addEventListener('abort', () => {
          state.aborted++
          reject(new Error('aborted'))
        })
      })
    })
    for (const name of extraTools) registerExtra(server, name)
    return server
  }

  const http: Server = createServer(async (req, res) => {
    try {
      state.authorization = req.headers.authorization
      const body = req.method === 'POST' ? await readJson(req) : undefined
      const id = req.headers['mcp-session-id']
      let session = typeof id === 'string' ? sessions.get(id) : undefined
      if (!session) {
        if (typeof id === 'string') {
          res.writeHead(404, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              jsonrpc: '2.0',
              error: { code: -32001, message: 'Session not found' },
              id: null,
            }),
          )
          return
        }
        const server = newServer()
        const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: randomUUID,
          onsessioninitialized: (sid) => {
            sessions.set(sid, { transport, server })
          },
        })
        transport.onclose = () => {
          if (transport.sessionId) sessions.delete(transport.sessionId)
        }
        await server.connect(transport)
        session = { transport, server }
      }
      await session.transport.handleRequest(req, res, body)
    } catch (error) {
      if (!res.headersSent) res.writeHead(500).end(String(error))
    }
  })

  function listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      http.once('error', reject)
      http.listen(port, '127.0.0.1', () => {
        http.off('error', reject)
        state.port = (http.address() as AddressInfo).port
        state.url = `http://127.0.0.1:${state.port}/mcp`
        resolve()
      })
    })
  }

  await listen(0)
  return state
}
