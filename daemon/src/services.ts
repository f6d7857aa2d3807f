import type { Principal, TraceContext } from '@arw/protocol'
import type { Registry } from '@arw/registry'
import type { HttpRouteDoc } from '@arw/spec'
import type { Journal, Store } from '@arw/store'
import type { Logger } from 'pino'
import type { AuthChain } from './auth/chain.ts'
import type { GuardOptions } from './auth/request-guard.ts'
import type { Config } from './config.ts'
import type { Metrics } from './kernel/metrics.ts'
import type { Pipeline } from './pipeline/invoke.ts'
import type { StateLock } from './state/lock.ts'

/**
 * The core services of one daemon, decorated once on the Fastify instance as `app.arw`: what
 * every surface serves from. Surfaces keep their own state (the SSE hub, MCP sessions) to
 * themselves; areas get theirs through their contexts.
 */
export interface Services {
  readonly version: string
  readonly config: Config
  readonly registry: Registry
  readonly store: Store
  readonly journal: Journal
  readonly pipeline: Pipeline
  /** The authentication port: every surface authenticates through it. */
  readonly auth: AuthChain
  readonly guard: GuardOptions
  readonly metrics: Metrics
  /** This process's exclusive hold on the state directory. */
  readonly stateLock: StateLock
  readonly logger: Logger
  readonly startedAt: number
  /** Every HTTP route's declaration (what /spec/openapi.yaml documents). */
  readonly routeDocs: readonly HttpRouteDoc[]
}

declare module 'fastify' {
  interface FastifyInstance {
    arw: Services
  }
  interface FastifyRequest {
    trace: TraceContext
    principal: Principal | undefined
  }
  interface FastifyContextConfig {
    auth?: HttpRouteDoc['auth']
  }
}
