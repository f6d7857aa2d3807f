import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { z } from 'zod'
import { announce, portOf } from './ready.ts'

// Anchor: the official MCP SDK (1.x) over Streamable HTTP, serving one echo tool named like the
// daemon's. `stateless` builds a server and transport per request, as the SDK's stateless example
// does; otherwise one stateful session (initialized by the bench) is reused for every call.
const stateless = process.argv[2] === 'stateless'

function newServer(): McpServer {
  const server = new McpServer({ name: 'bench-sdk', version: '1.0.0' })
  server.registerTool(
    'demo.echo',
    {
      title: 'Echo text',
      description: 'Returns the text it was given.',
      inputSchema: { text: z.string() },
      outputSchema: { text: z.string() },
    },
    async ({ text }) => ({ content: [{ type: 'text', text }], structuredContent: { text } }),
  )
  return server
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      } catch (error) {
        reject(error)
      }
    })
  })
}

const sessions = new Map<string, StreamableHTTPServerTransport>()

const http = createServer(async (req, res) => {
  try {
    const body = req.method === 'POST' ? await readBody(req) : undefined
    if (stateless) {
      const server = newServer()
      const transport = new StreamableHTTPServerTransport({})
      res.on('close', () => {
        void transport.close()
        void server.close()
      })
      await server.connect(transport)
      await transport.handleRequest(req, res, body)
      return
    }
    const id = req.headers['mcp-session-id']
    let transport = typeof id === 'string' ? sessions.get(id) : undefined
    if (!transport) {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => {
          sessions.set(sid, transport!)
        },
      })
      await newServer().connect(transport)
    }
    await transport.handleRequest(req, res, body)
  } catch {
    if (!res.headersSent) res.writeHead(400).end()
  }
})
http.listen(0, '127.0.0.1', () => announce(portOf(http)))
