import Fastify from 'fastify'
import { announce, portOf } from './ready.ts'

// Anchor: a bare Fastify route that validates its JSON body against a schema.
const app = Fastify({ logger: false })
app.post(
  '/tools/:call',
  {
    schema: {
      body: {
        type: 'object',
        required: ['input'],
        properties: {
          input: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
        },
      },
    },
  },
  async (request) => ({ output: (request.body as { input: unknown }).input }),
)
await app.listen({ host: '127.0.0.1', port: 0 })
announce(portOf(app.server))
