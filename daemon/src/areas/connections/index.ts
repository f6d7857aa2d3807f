import { ERRORS } from '@arw/protocol'
import { defineArea } from '../../kernel/area.ts'
import { type ConnectionsConfig, connectionsConfig } from './config.ts'
import { connectionTools } from './connection-tools.ts'
import { connectorTools } from './connector-tools.ts'
import { DRIVERS } from './drivers/index.ts'
import { connectionsEvents } from './events.ts'
import { Federation } from './federation.ts'
import { linkTools } from './link-tools.ts'
import { openCollections } from './records.ts'
import { loadKeyFile, SecretBox } from './secrets.ts'
import type { ConnectionsServices } from './services.ts'

/**
 * Connectors, connections and links (seed 003 "Connections"): where an upstream service is
 * registered once, with its limits and secret, and where its tools become registry tools that
 * pass the same pipeline as built-in ones (federation.ts).
 */
export const connections = defineArea<ConnectionsServices, ConnectionsConfig>({
  name: 'connections',
  description:
    'Upstream services (MCP servers, OpenAPI services, WebSocket services, local modules) registered once, with limits and a secret, whose tools are federated into the registry.',
  tools: [...connectorTools, ...connectionTools, ...linkTools],
  events: connectionsEvents,
  errors: [
    ERRORS.not_found,
    ERRORS.conflict,
    ERRORS.version_conflict,
    ERRORS.unavailable,
    ERRORS.upstream_error,
    ERRORS.rate_limited,
    ERRORS.timeout,
    ERRORS.gone,
  ],
  config: connectionsConfig,
  async start(ctx) {
    // An embedder's config may leave the slice out: the defaults then.
    const config = ctx.config ?? connectionsConfig.parse({}, [])
    const secrets = new SecretBox(config.secretKey ?? loadKeyFile(ctx.stateDir))
    const collections = openCollections((name, options) => ctx.collection(name, options))
    const federation = new Federation({
      registry: ctx.registry,
      journal: ctx.journal,
      admission: ctx.admission,
      logger: ctx.logger,
      config,
      collections,
      secrets,
      drivers: DRIVERS,
      egress: ctx.egress,
    })
    await federation.start()
    // Refusals by a connection's limits happen in admission, before any handler runs.
    const stopNotes = ctx.admission.onRefused((key) => {
      if (key.startsWith('connection:'))
        federation.noteRateLimited(key.slice('connection:'.length), 'admission')
    })
    return {
      services: { federation, collections, drivers: DRIVERS, secrets, config },
      // A call of an imported tool is admitted under its connection's limits too.
      admissionKeys: [
        (request, tool) => {
          const key = federation.keyOf(tool.id, request.principal)
          return key === undefined ? undefined : [key]
        },
      ],
      close: () => {
        stopNotes()
        return federation.close()
      },
    }
  },
})
