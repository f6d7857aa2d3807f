import { Journal, Store } from '@arw/journal'
import { SYSTEM_PRINCIPAL } from '@arw/protocol'
import type { Registry, ToolSpec } from '@arw/registry'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import pino, { type Logger } from 'pino'
import { Stats } from './areas/introspection/stats.ts'
import { type CatalogOptions, createRegistry } from './catalog.ts'
import type { Config } from './config.ts'
import { daemonStarted } from './events.ts'
import { Idempotency } from './pipeline/idempotency.ts'
import { Pipeline } from './pipeline/invoke.ts'
import type { ApprovalGate, PolicyHook } from './pipeline/policy.ts'
import type { Services } from './services.ts'
import { AdminAuth } from './surfaces/http/auth.ts'
import { installProblemHandlers } from './surfaces/http/problems.ts'
import { registerRoutes } from './surfaces/http/route.ts'
import { allRoutes } from './surfaces/http/routes.ts'
import { installValidation } from './surfaces/http/validation.ts'
import { EventHub } from './surfaces/sse/hub.ts'
import { gapFrame } from './surfaces/sse/routes.ts'
import { DAEMON_VERSION } from './version.ts'

export interface BuildOptions extends CatalogOptions {
  config: Config
  /** A registry to serve instead of the product's own (tests). */
  registry?: Registry
  logger?: Logger
  policy?: PolicyHook
  approvals?: ApprovalGate
}

export type { ToolSpec }

/** Headers whose values must never reach a log. */
const REDACT = ['req.headers["x-arw-admin"]', 'req.headers.authorization', 'req.headers.cookie']

/**
 * Builds a ready daemon without listening: store opened, journal recovered, routes registered.
 * Only the CLI's `start` listens on a port; tests use `app.inject()`.
 */
export async function buildApp(options: BuildOptions): Promise<FastifyInstance> {
  const { config } = options
  const logger =
    options.logger ??
    pino({
      level: config.logLevel,
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { service: 'arw' },
    })
  const store = Store.open({ dir: config.stateDir, durability: config.durability })
  const journal = new Journal(store)
  const registry = options.registry ?? createRegistry(options)
  const pipeline = new Pipeline({
    registry,
    journal,
    idempotency: new Idempotency(store, config.idempotencyTtlMs),
    logger,
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.approvals ? { approvals: options.approvals } : {}),
  })
  const hub = new EventHub(journal, {
    maxQueue: config.sseMaxQueue,
    heartbeatMs: config.sseHeartbeatMs,
    gapFrame,
  })
  const routes = allRoutes()
  const services: Services = {
    version: DAEMON_VERSION,
    config,
    registry,
    store,
    journal,
    pipeline,
    auth: new AdminAuth(config),
    hub,
    stats: new Stats(journal),
    logger,
    startedAt: Date.now(),
    routeDocs: routes.map((r) => r.doc),
  }

  const app = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    // Per-request log lines would cost more than the call itself at tens of thousands per second;
    // calls are in the journal instead, and failures are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    // A pino child logger per request costs microseconds; calls carry their trace id in the
    // journal, and the few request-level log lines add it themselves.
    childLoggerFactory: (logger) => logger,
    bodyLimit: config.bodyLimit,
    // Tool ids contain dots and @; keep the router from treating them specially.
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 300 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  })
  app.decorate('arw', services)
  app.decorateRequest('trace', null as never)
  app.decorateRequest('principal', undefined)
  // Only JSON bodies are accepted; anything else is a clear 415.
  app.removeContentTypeParser('text/plain')
  installValidation(app)
  installProblemHandlers(app)

  registerRoutes(app, services, routes)

  app.addHook('preClose', async () => {
    hub.close()
  })
  app.addHook('onClose', async () => {
    // Writes already issued are committed before the environment closes.
    await journal.close()
    await store.close()
  })

  const head = journal.head
  await journal.append({
    kind: daemonStarted.kind,
    version: daemonStarted.version,
    severity: 'notice',
    actor: { kind: SYSTEM_PRINCIPAL.kind, id: SYSTEM_PRINCIPAL.id },
    payload: { version: DAEMON_VERSION, pid: process.pid, durability: config.durability, journal_head: head },
  })
  await app.ready()
  return app
}
