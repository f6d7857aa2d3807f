import Fastify from 'fastify'

// Anchor for the startup group: the least a Fastify server does before its first answer. Plain
// JavaScript run by plain `node`, so it pays no compile step: the daemon is measured against what
// a started Node + Fastify process costs, not against another TypeScript loader.
const app = Fastify({ logger: false })
app.get('/healthz', async () => ({ status: 'ok' }))
await app.listen({ host: '127.0.0.1', port: Number(process.env['PORT']) })
