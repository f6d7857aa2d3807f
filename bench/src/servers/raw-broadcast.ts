import { createServer, type ServerResponse } from 'node:http'
import { announce, portOf } from './ready.ts'

// Anchor for SSE fan-out: every POST /publish writes one frame to every open GET /events stream.
// The frame has the size of a daemon tool.ran event, so both move the same bytes.
const subscribers = new Set<ServerResponse>()
let seq = 0
const payload = JSON.stringify({
  time: new Date().toISOString(),
  kind: 'tool.ran',
  version: '1.0.0',
  severity: 'info',
  trace_id: '0123456789abcdef0123456789abcdef',
  span_id: '0123456789abcdef',
  actor: { kind: 'admin', id: 'admin' },
  payload: {
    tool: 'demo.echo@1.0.0',
    outcome: 'ok',
    surface: 'http',
    duration_ms: 0.02,
    decision: { decision: 'allow', reason: 'default policy: allow' },
    input: { text: 'hello' },
    output: { text: 'hello' },
  },
})
const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    res.write(': hello\n\n')
    subscribers.add(res)
    req.on('close', () => subscribers.delete(res))
    return
  }
  req.resume()
  req.on('end', () => {
    const frame = `id: ${++seq}\nevent: tool.ran\ndata: ${payload}\n\n`
    for (const sub of subscribers) sub.write(frame)
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}')
  })
})
server.listen(0, '127.0.0.1', () => announce(portOf(server)))
