import { CATALOG, type CatalogEntry } from '@arw/protocol'
import type { EventSpec, Registry, ToolContext, ToolSpec } from '@arw/registry'
import type { Collection, CollectionSpec, Journal, Transaction } from '@arw/store'
import type { Logger } from 'pino'
import type { TSchema } from 'typebox'
import type { Authenticator } from '../auth/authenticator.ts'
import type { Admission } from '../pipeline/admission.ts'
import type { ApprovalGate } from '../pipeline/approvals.ts'
import type { AdmissionKeyer } from '../pipeline/invoke.ts'
import type { PolicyStage } from '../pipeline/policy.ts'
import type { InvokeOutcome, InvokeRequest } from '../pipeline/request.ts'
import type { SettleStage } from '../pipeline/settle.ts'
import type { ConfigVar } from './config-var.ts'
import type { EgressGate } from './egress.ts'
import type { Metrics } from './metrics.ts'
import type { RouteDef } from './route.ts'

/** What an area declares of a collection besides its name (its indexes). */
export type CollectionOptions<T> = Omit<CollectionSpec<T>, 'area' | 'name'>

/** An area's slice of the configuration: the variables it reads and how. */
export interface AreaConfig<C> {
  readonly vars: readonly ConfigVar[]
  /** Reads the slice from the environment; pushes one line per bad value onto `problems`. */
  parse(env: NodeJS.ProcessEnv, problems: string[]): C
}

/** What an area's `start` gets: everything it may use, nothing of any surface. */
export interface AreaStartContext<C> {
  readonly name: string
  readonly config: C
  /** The daemon's state directory (ARW_STATE_DIR): for files an area keeps beside the store. */
  readonly stateDir: string
  readonly registry: Registry
  readonly journal: Journal
  /** This area's collections, namespaced by its name; indexes are declared with the collection. */
  collection<T>(name: string, options?: CollectionOptions<T>): Collection<T>
  /** Writes to its collections and journal appends, committed together or not at all. */
  transaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R>
  readonly admission: Admission
  readonly metrics: Metrics
  readonly logger: Logger
  /** Calls a tool through the governed pipeline (set `surface` and `principal` to say who). */
  invoke(request: InvokeRequest): Promise<InvokeOutcome>
  /** Every request the area sends out passes here first (kernel/egress.ts). */
  readonly egress: EgressGate
}

/** The running part of an area: its services, what it plugs into the pipeline, how it stops. */
export interface AreaRuntime<S> {
  services: S
  /** Policy stages, asked in area order after the built-in ones. */
  policy?: readonly PolicyStage[]
  /** The approval gate (at most one area provides it). */
  approvals?: ApprovalGate
  settle?: readonly SettleStage[]
  /** Authenticators, tried after the built-in admin token. */
  authenticators?: readonly Authenticator[]
  /** Names admission keys of calls (e.g. the connection a federated tool goes through). */
  admissionKeys?: readonly AdmissionKeyer[]
  /** The egress gate (at most one area provides it; areas started later see it at once). */
  egress?: EgressGate
  close?(): void | Promise<void>
}

/** What an area's routes get: its start context plus its services. */
export interface AreaContext<S, C> extends AreaStartContext<C> {
  readonly services: S
}

/** The context the handlers of an area's tools get: the call's own, plus the area's, at call time. */
export interface AreaToolContext<S, C> extends ToolContext {
  readonly services: S
  readonly config: C
  readonly registry: Registry
  readonly journal: Journal
  collection<T>(name: string, options?: CollectionOptions<T>): Collection<T>
  transaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R>
}

export interface AreaSpec<S = undefined, C = undefined> {
  /** Lowercase, also the namespace of its collections and the key of its config slice. */
  name: string
  description: string
  tools?: readonly ToolSpec<any, any, AreaToolContext<S, C>>[]
  events?: readonly EventSpec<any>[]
  /** Catalog entries its tools and routes raise (entries of the one error catalog). */
  errors?: readonly CatalogEntry[]
  config?: AreaConfig<C>
  routes?: readonly RouteDef<AreaContext<S, C>>[]
  /** Whether the daemon serves the area with this config slice (default: always). */
  enabled?(config: C): boolean
  start?(ctx: AreaStartContext<C>): AreaRuntime<S> | Promise<AreaRuntime<S>>
}

/** An area as the daemon holds it (its types erased in the list of areas). */
export type Area = AreaSpec<any, any>

const AREA_NAME = /^[a-z][a-z0-9-]*$/

/** Declares an area: one folder, listed once in areas/index.ts. */
export function defineArea<S = undefined, C = undefined>(spec: AreaSpec<S, C>): AreaSpec<S, C> {
  if (!AREA_NAME.test(spec.name)) throw new Error(`area name "${spec.name}" must match ${AREA_NAME}`)
  for (const entry of spec.errors ?? []) {
    if (!CATALOG.includes(entry))
      throw new Error(`area ${spec.name}: ${entry.name} is not in the error catalog`)
  }
  return Object.freeze(spec)
}

/**
 * Typed helpers for declaring an area's tools and routes, with its services `S` and config slice
 * `C` in their contexts: `const { tool, route } = areaKit<MyServices>()`.
 */
export function areaKit<S = undefined, C = undefined>() {
  return {
    tool: <I extends TSchema, O extends TSchema>(spec: ToolSpec<I, O, AreaToolContext<S, C>>) => spec,
    route: (def: RouteDef<AreaContext<S, C>>) => def,
  }
}
