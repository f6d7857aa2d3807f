import { createServer } from 'node:http'

// Floor of the startup group: a Node process that answers its first HTTP request (plain
// JavaScript, no framework).
createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')
}).listen(Number(process.env['PORT']), '127.0.0.1')
