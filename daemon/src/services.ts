import type { Journal, Store } from '@arw/journal'
import type { Principal, TraceContext } from '@arw/protocol'
import type { Registry } from '@arw/registry'
import type { HttpRouteDoc } from '@arw/spec'
import type { Logger } from 'pino'
import type { Stats } from './areas/introspection/stats.ts'
import type { Config } from './config.ts'
import type { Pipeline } from './pipeline/invoke.ts'
import type { AdminAuth } from './surfaces/http/auth.ts'
import type { EventHub } from './surfaces/sse/hub.ts'

/** The shared services of one daemon, decorated once on the Fastify instance as `app.arw`. */
export interface Services {
  readonly version: string
  readonly config: Config
  readonly registry: Registry
  readonly store: Store
  readonly journal: Journal
  readonly pipeline: Pipeline
  readonly auth: AdminAuth
  readonly hub: EventHub
  readonly stats: Stats
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
    auth?: 'admin' | 'public'
  }
}
