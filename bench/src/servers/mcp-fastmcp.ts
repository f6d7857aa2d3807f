import { createServer } from 'node:net'
import { FastMCP } from 'fastmcp'
import { z } from 'zod'
import { announce } from './ready.ts'

// Anchor: fastmcp's HTTP stream server (stateless mode), serving the same echo tool.
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

const server = new FastMCP({ name: 'bench-fastmcp', version: '1.0.0' })
server.addTool({
  name: 'demo.echo',
  description: 'Returns the text it was given.',
  parameters: z.object({ text: z.string() }),
  execute: async ({ text }) => text,
})
const port = await freePort()
await server.start({
  transportType: 'httpStream',
  httpStream: { port, host: '127.0.0.1', endpoint: '/mcp', stateless: true },
})
announce(port)
