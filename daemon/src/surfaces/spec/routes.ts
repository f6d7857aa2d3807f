import { ERRORS, ProblemError } from '@arw/protocol'
import { specFiles } from '@arw/spec'
import type { FastifyReply } from 'fastify'
import Type from 'typebox'
import { defineRoute } from '../../kernel/route.ts'
import type { Services } from '../../services.ts'

/** The spec documents of the live registry, rebuilt only when the registry changes. */
let cache: { services: Services; revision: number; files: Map<string, string> } | undefined

function filesOf(services: Services): Map<string, string> {
  if (cache?.services === services && cache.revision === services.registry.revision) return cache.files
  const files = specFiles({
    registry: services.registry,
    routes: services.routeDocs,
    version: services.version,
  })
  cache = { services, revision: services.registry.revision, files }
  return files
}

const CONTENT_TYPES: Record<string, string> = {
  yaml: 'application/yaml; charset=utf-8',
  json: 'application/json; charset=utf-8',
}

function serve(name: string) {
  return (services: Services) => async (_request: unknown, reply: FastifyReply) => {
    const text = filesOf(services).get(name)
    if (text === undefined) throw new ProblemError(ERRORS.not_found, { what: `spec/${name}` })
    reply.type(CONTENT_TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'text/plain; charset=utf-8')
    return text
  }
}

const publicDoc = { tags: ['spec'], auth: 'public' as const }

export const specRoutes = [
  defineRoute<Services>({
    doc: {
      ...publicDoc,
      method: 'GET',
      path: '/spec/openapi.yaml',
      operationId: 'specOpenApi',
      summary: 'OpenAPI 3.1 document of every HTTP route and tool',
      responses: { 200: { description: 'YAML.', contentType: 'application/yaml', schema: Type.String() } },
    },
    handler: serve('openapi.yaml'),
  }),
  defineRoute<Services>({
    doc: {
      ...publicDoc,
      method: 'GET',
      path: '/spec/asyncapi.yaml',
      operationId: 'specAsyncApi',
      summary: 'AsyncAPI 3.0 document of every event kind',
      responses: { 200: { description: 'YAML.', contentType: 'application/yaml', schema: Type.String() } },
    },
    handler: serve('asyncapi.yaml'),
  }),
  defineRoute<Services>({
    doc: {
      ...publicDoc,
      method: 'GET',
      path: '/spec/mcp-tools.json',
      operationId: 'specMcpTools',
      summary: 'The MCP tool catalog, as MCP clients see it',
      responses: {
        200: { description: 'JSON.', schema: Type.Object({ tools: Type.Array(Type.Unknown()) }) },
      },
    },
    handler: serve('mcp-tools.json'),
  }),
  defineRoute<Services>({
    doc: {
      ...publicDoc,
      method: 'GET',
      path: '/spec/schemas/{file}',
      operationId: 'specToolSchema',
      summary: 'JSON Schema 2020-12 of one tool version',
      description: '`file` is `<name>@<version>.json`, as listed under spec/schemas/.',
      params: Type.Object({ file: Type.String({ pattern: '^[a-z0-9_.@-]+\\.json$' }) }),
      responses: { 200: { description: 'JSON Schema.', schema: Type.Unknown() } },
    },
    handler: (services) => async (request, reply) => {
      const file = (request.params as { file: string }).file
      return serve(`schemas/${file}`)(services)(request, reply)
    },
  }),
]
