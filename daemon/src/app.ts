import { SYSTEM_PRINCIPAL } from '@arw/protocol'
import type { Registry, ToolSpec } from '@arw/registry'
import { Store } from '@arw/store'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import pino, { type Logger } from 'pino'
import { adminTokenAuthenticator } from './auth/admin-token.ts'
import { AuthChain } from './auth/chain.ts'
import { localOperatorAuthenticator } from './auth/local-operator.ts'
import { guardOptions } from './auth/request-guard.ts'
import type { Config } from './config.ts'
import { daemonStarted, daemonStopped } from './events.ts'
import type { Area, AreaContext, AreaRuntime, AreaStartContext } from './kernel/area.ts'
import { EgressPort } from './kernel/egress.ts'
import { Metrics } from './kernel/metrics.ts'
import { Admission } from './pipeline/admission.ts'
import type { ApprovalGate } from './pipeline/approvals.ts'
import type { AreaScope } from './pipeline/call-context.ts'
import { Idempotency } from './pipeline/idempotency.ts'
import { Pipeline } from './pipeline/invoke.ts'
import type { PolicyStage } from './pipeline/policy.ts'
import type { SettleStage } from './pipeline/settle.ts'
import { createRegistry, type RegistryOptions, servedAreas } from './registry.ts'
import { surfaceRoutes } from './routes.ts'
import type { Services } from './services.ts'
import { ensureStateDir } from './state/dir.ts'
import { StateLock } from './state/lock.ts'
import { bindingRoutes } from './surfaces/http/bindings.ts'
import {
  answerClientError,
  answerFrameworkError,
  installProblemHandlers,
  MAX_PARAM_LENGTH,
} from './surfaces/http/problems.ts'
import { type BoundRoute, registerRoutes } from './surfaces/http/route.ts'
import { installValidation } from './surfaces/http/validation.ts'
import { closeMcp } from './surfaces/mcp/state.ts'
import { closeSse } from './surfaces/sse/state.ts'
import { DAEMON_VERSION } from './version.ts'

/** The variable that turns the response contract check on (testing/contract.ts reads the same name). */
const CONTRACT_CHECK_ENV = 'ARW_CONTRACT_CHECK'

export interface BuildOptions extends RegistryOptions {
  config: Config
  /** A registry to serve instead of the one built from the areas (tests). */
  registry?: Registry
  logger?: Logger
  /** Policy stages, approval gate and settle stages of an embedder (after the areas' own). */
  policy?: readonly PolicyStage[]
  approvals?: ApprovalGate
  settle?: readonly SettleStage[]
}

export type { ToolSpec }

/** Headers whose values must never reach a log. */
const REDACT = ['req.headers["x-arw-admin"]', 'req.headers.authorization', 'req.headers.cookie']

/**
 * Builds a ready daemon without listening: store opened, journal recovered, areas started, routes
 * registered. Only the CLI's `start` listens on a port; tests use `app.inject()`.
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
  // Exactly one process writes a state directory: a second one would keep its own sequence and
  // overwrite the first one's records. (On PostgreSQL the directory still holds the lock and the
  // per-start local token; the database itself may be shared.)
  ensureStateDir(config.stateDir)
  const lock = StateLock.acquire(config.stateDir)
  let store: Store
  try {
    store = await Store.open({
      location: config.store ?? config.stateDir,
      durability: config.durability,
      ...(config.journalRetention
        ? {
            retention: {
              ...config.journalRetention,
              onPass: (pass: { removed: number; oldest: number; error?: unknown }) => {
                if (pass.error) logger.error({ err: pass.error }, 'journal retention failed')
                else if (pass.removed > 0)
                  logger.info(
                    { removed: pass.removed, oldest: pass.oldest },
                    'journal retention removed old records',
                  )
              },
            },
          }
        : {}),
    })
  } catch (error) {
    lock.release()
    throw error
  }
  const journal = store.journal
  const areas = servedAreas(config, options)
  const registry = options.registry ?? createRegistry({ ...options, config })
  // Tools' REST bindings are routes too (same entry hook and stats; spec/ documents them from the
  // registry). One that takes a route of the daemon fails the build before any area starts.
  let bindings: ReturnType<typeof bindingRoutes>
  try {
    bindings = bindingRoutes(registry, [...surfaceRoutes(), ...areas.flatMap((a) => a.routes ?? [])])
  } catch (error) {
    await journal.close()
    await store.close()
    lock.release()
    throw error
  }
  const metrics = new Metrics(journal)
  const admission = new Admission()
  const egress = new EgressPort()

  // Areas start in list order; the pipeline is built from what they plug in, so a start that
  // calls a tool (through its context's invoke) waits until every area has started.
  let resolveStarted!: (pipeline: Pipeline) => void
  const started = new Promise<Pipeline>((resolve) => {
    resolveStarted = resolve
  })
  const contexts = new Map<string, AreaContext<unknown, unknown>>()
  const runtimes: Array<{ area: Area; runtime: AreaRuntime<unknown> }> = []
  try {
    for (const area of areas) {
      const start: AreaStartContext<unknown> = {
        name: area.name,
        config: config.areas[area.name],
        stateDir: config.stateDir,
        registry,
        journal,
        collection: (name, options) => store.collection({ ...options, area: area.name, name }),
        transaction: (fn) => store.transaction(fn),
        admission,
        metrics,
        logger: logger.child({ area: area.name }),
        invoke: async (request) => (await started).invoke(request),
        egress,
      }
      const runtime = (await area.start?.(start)) ?? { services: undefined }
      runtimes.push({ area, runtime })
      if (runtime.egress) egress.install(runtime.egress)
      contexts.set(area.name, { ...start, services: runtime.services })
    }
  } catch (error) {
    await closeRuntimes(runtimes, logger)
    await store.close()
    lock.release()
    throw error
  }
  const plugged = runtimes.map((r) => r.runtime)
  const approvals = [...plugged.map((r) => r.approvals), options.approvals].filter((a) => a !== undefined)
  if (approvals.length > 1) {
    await closeRuntimes(runtimes, logger)
    await store.close()
    lock.release()
    throw new Error('more than one approval gate is configured')
  }
  const pipeline = new Pipeline({
    registry,
    journal,
    idempotency: new Idempotency(store, config.idempotencyTtlMs),
    logger,
    scopes: contexts as ReadonlyMap<string, AreaScope>,
    policy: [...plugged.flatMap((r) => r.policy ?? []), ...(options.policy ?? [])],
    settle: [...plugged.flatMap((r) => r.settle ?? []), ...(options.settle ?? [])],
    admission,
    admissionKeys: plugged.flatMap((r) => r.admissionKeys ?? []),
    approvalWaitMs: config.approvalWaitMs,
    recordValueLimit: config.recordValueLimit,
    ...(approvals[0] ? { approvals: approvals[0] } : {}),
  })
  resolveStarted(pipeline)
  const auth = new AuthChain({
    authenticators: [
      localOperatorAuthenticator(lock.token),
      ...(config.adminTokenSha256 ? [adminTokenAuthenticator(config.adminTokenSha256)] : []),
      ...plugged.flatMap((r) => r.authenticators ?? []),
    ],
    debug: config.debug,
    failuresPerMinute: config.authFailuresPerMinute,
  })
  const routes: BoundRoute[] = [
    ...surfaceRoutes().map((route) => ({ route, ctx: undefined as unknown })),
    ...areas.flatMap((area) => (area.routes ?? []).map((route) => ({ route, ctx: contexts.get(area.name) }))),
  ]
  const services: Services = {
    version: DAEMON_VERSION,
    config,
    registry,
    store,
    journal,
    pipeline,
    auth,
    guard: guardOptions(config),
    metrics,
    stateLock: lock,
    logger,
    startedAt: Date.now(),
    routeDocs: routes.map((r) => r.route.doc),
  }
  // Surface routes are built from the daemon's services.
  for (const bound of routes) if (bound.ctx === undefined) bound.ctx = services

  const app = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    // Per-request log lines would cost more than the call itself at tens of thousands per second;
    // calls are in the journal instead, and failures are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    // A pino child logger per request costs microseconds; calls carry their trace id in the
    // journal, and the few request-level log lines add it themselves.
    childLoggerFactory: (logger) => logger,
    bodyLimit: config.bodyLimit,
    // Forwarded client addresses are believed only from the configured proxies.
    trustProxy: config.trustProxy.length > 0 ? [...config.trustProxy] : false,
    // Tool ids contain dots and @; keep the router from treating them specially.
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: MAX_PARAM_LENGTH },
    // Failures before any route still answer catalog problems.
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
    return503OnClosing: true,
    // No implicit HEAD for GET routes: Fastify would answer it by running the GET handler, so a
    // HEAD on a tool's GET binding ran (and recorded) the tool. The spec lists no HEAD operation,
    // and a method it does not list answers 404 route_not_found, as it says.
    exposeHeadRoutes: false,
    forceCloseConnections: 'idle',
  })
  app.decorate('arw', services)
  app.decorateRequest('trace', null as never)
  app.decorateRequest('principal', undefined)
  // Test runs check every answer against spec/openapi.yaml (see testing/contract.ts); before the
  // routes, so that no answer escapes it.
  const contractFile = process.env[CONTRACT_CHECK_ENV]
  if (contractFile) {
    const { installContractCheck } = await import('./testing/contract.ts')
    installContractCheck(app, contractFile, { registry, routes: services.routeDocs })
  }
  // Only JSON bodies are accepted; anything else is a clear 415.
  app.removeContentTypeParser('text/plain')
  installValidation(app)
  installProblemHandlers(app)

  registerRoutes(app, services, [...routes, ...bindings.map((route) => ({ route, ctx: services }))])

  app.addHook('preClose', async () => {
    closeSse(services)
    closeMcp(services)
  })
  app.addHook('onClose', async () => {
    await closeRuntimes(runtimes, logger)
    // Every request has been answered by now: the stop is the journal's last record of this run.
    try {
      await journal.append({
        kind: daemonStopped.kind,
        version: daemonStopped.version,
        severity: 'notice',
        actor: { kind: SYSTEM_PRINCIPAL.kind, id: SYSTEM_PRINCIPAL.id },
        payload: {
          version: DAEMON_VERSION,
          pid: process.pid,
          uptime_s: Math.round((Date.now() - services.startedAt) / 10) / 100,
        },
      })
    } catch (error) {
      logger.error({ err: error }, 'could not journal daemon.stopped')
    }
    // Writes already issued are committed before the store closes.
    await store.close()
    lock.release()
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

/** Stops areas in reverse start order; one that fails to stop does not keep the others running. */
async function closeRuntimes(
  runtimes: ReadonlyArray<{ area: Area; runtime: AreaRuntime<unknown> }>,
  logger: Logger,
): Promise<void> {
  for (const { area, runtime } of [...runtimes].reverse()) {
    try {
      await runtime.close?.()
    } catch (error) {
      logger.error({ err: error, area: area.name }, 'area failed to stop')
    }
  }
}
