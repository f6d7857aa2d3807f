import type { Principal, ProblemCode, Severity, TraceContext } from '@arw/protocol'
import type { Static, TSchema } from 'typebox'
import type { DeclaredBinding, HttpBinding } from './http-binding.ts'

export type Stability = 'stable' | 'experimental' | 'deprecated'
export type Risk = 'low' | 'medium' | 'high' | 'critical'

/** MCP-style behaviour hints: advisory for clients, also used by policy. */
export interface ToolHints {
  /** Does not change any state. */
  readOnly?: boolean
  /** May destroy or overwrite state (meaningful when not read-only). */
  destructive?: boolean
  /** Calling twice with the same input has the effect of calling once. */
  idempotent?: boolean
  /** Reaches outside this daemon (network, other systems). */
  openWorld?: boolean
}

export interface Deprecation {
  /** RFC 3339 date the version was deprecated (sent as the Deprecation header). */
  since?: string
  /** RFC 3339 date after which the version may be removed. */
  sunset?: string
  /** The id@version that replaces it. */
  replacement?: string
  /** Where the migration is explained. */
  link?: string
}

/** Admission limits of a tool (the pipeline enforces them before the handler runs). */
export interface ToolLimits {
  /** Sustained calls per second, with `burst` as bucket size. */
  ratePerSecond?: number
  burst?: number
  /** At most this many calls run at once; more are refused with rate_limited. */
  maxConcurrent?: number
}

export interface ProgressUpdate {
  progress: number
  total?: number
  message?: string
}

/** What a call consumed, reported by its handler (`ctx.usage`) for the settle stage (budgets, cost). */
export interface Usage {
  tokens?: number
  cost?: number
}

/**
 * The caller's end of a call, when its surface can talk back (MCP: log notifications, sampling,
 * elicitation). The surface supplies it with the call; tools that use it declare a capability so
 * the catalog and policy see it.
 */
export interface ClientChannel {
  /** The capabilities the client declared (MCP initialize, or the request's `_meta` envelope). */
  readonly capabilities: Record<string, unknown>
  /** Sends a log notification when the client's log level lets it through. */
  log(level: string, data: unknown, logger?: string): void
  /** Sends a request to the client (`sampling/createMessage`, `elicitation/create`) and waits for its answer. */
  request(method: string, params: Record<string, unknown>): Promise<unknown>
  /** Closes the response stream of this call without ending the call (MCP SEP-1699); may be a no-op. */
  closeStream(): void
}

/** What a handler gets besides its input. Everything a tool does to the world goes through here. */
export interface ToolContext {
  /** Aborted when the call times out, the caller goes away or the call is cancelled. */
  signal: AbortSignal
  principal: Principal
  trace: TraceContext
  tool: string
  /** Publishes a declared event kind, recorded in the journal with this call's trace. */
  emit(kind: string, payload: unknown, severity?: Severity): Promise<void>
  /** Calls another tool through the same governed pipeline, as this call's principal. */
  invoke(ref: string, input: unknown): Promise<unknown>
  /** Reports progress on a long call (surfaces that can carry it forward it, e.g. MCP). */
  progress(update: ProgressUpdate): void
  /** Reports what the call consumed; added up over the call and handed to the settle stage. */
  usage(report: Usage): void
  /** The caller's channel back, when its surface has one (undefined otherwise). */
  readonly client: ClientChannel | undefined
  /**
   * For a tool of a local module linked as a connection: the secret bound to that connection
   * (`bind-secret`), in clear, for the module to authenticate to the service it wraps. Undefined
   * everywhere else. Never log it or put it in an answer; the daemon redacts it from failures.
   */
  readonly secret?: string | undefined
  log: {
    info(message: string, data?: Record<string, unknown>): void
    warn(message: string, data?: Record<string, unknown>): void
    error(message: string, data?: Record<string, unknown>): void
  }
}

/**
 * A worked call of a tool: an input it accepts and, when it is deterministic, the output it gives.
 * Registration checks both against the schemas, so a wrong example fails at once; the README's tool
 * table, the OpenAPI and MCP catalogs (JSON Schema `examples`) and the fuzz test's valid inputs are
 * taken from them.
 */
export interface ToolExample<I = unknown, O = unknown> {
  title?: string
  input: I
  output?: O
}

/**
 * A tool declaration. `C` is the context its handler gets: the base ToolContext for tools declared
 * outside the daemon (plugins), or the daemon's area context (services, collections, config) for
 * tools of an area.
 */
export interface ToolSpec<I extends TSchema = TSchema, O extends TSchema = TSchema, C = ToolContext> {
  /** Dotted name without version, e.g. `memory.probe`. */
  name: string
  version: string
  title: string
  description: string
  input: I
  output: O
  /** Codes this tool can fail with besides the pipeline's own (validation, policy, timeout...). */
  errors?: readonly ProblemCode[]
  stability?: Stability
  risk?: Risk
  hints?: ToolHints
  capabilities?: readonly string[]
  /** Cut off after this long with a timeout problem. Default 30 s. */
  timeoutMs?: number
  limits?: ToolLimits
  deprecation?: Deprecation
  /**
   * The permission a caller's principal needs (e.g. `connections:write`). Admin principals hold
   * every permission; others must list it (or a `<scope>:*` / `*` wildcard) in `permissions`.
   */
  permission?: string
  /**
   * REST routes that serve this tool besides `POST /tools/{id}:invoke`, e.g. `GET /connections` or
   * both `PATCH` and `PUT` on `/connections/{id}`. Path parameters name input properties.
   */
  http?: HttpBinding | readonly HttpBinding[]
  /** Worked calls; the first one is the tool's typical call (see ToolExample). */
  examples?: readonly ToolExample<Static<I>, Static<O>>[]
  handler(input: Static<I>, ctx: C): Promise<Static<O>> | Static<O>
}

/** A registered, frozen declaration with its derived fields. */
export interface ToolDeclaration
  extends Required<
    Omit<
      ToolSpec<TSchema, TSchema, any>,
      'deprecation' | 'limits' | 'errors' | 'permission' | 'http' | 'examples'
    >
  > {
  id: string
  /** Its examples, checked against its schemas (empty when it declares none). */
  examples: readonly ToolExample[]
  errors: readonly ProblemCode[]
  /** Its REST bindings, in declaration order (empty when it has none). */
  http: readonly DeclaredBinding[]
  limits: ToolLimits
  deprecation: Deprecation | undefined
  permission: string | undefined
  /** The area that declared it (its handler gets that area's context); undefined outside an area. */
  area: string | undefined
  /**
   * Top-level input properties declared `writeOnly: true` (JSON Schema: sent, never returned), e.g.
   * a secret: call records keep them as `[redacted]`, whatever their name.
   */
  writeOnly: readonly string[]
}

export const DEFAULT_TIMEOUT_MS = 30_000

/** Declares a tool. Typing flows from the schemas into the handler; checks happen at registration. */
export function defineTool<I extends TSchema, O extends TSchema>(spec: ToolSpec<I, O>): ToolSpec<I, O> {
  return spec
}

export interface EventSpec<P extends TSchema = TSchema> {
  /** Dotted kind, e.g. `tool.ran`. */
  kind: string
  version: string
  title: string
  description: string
  payload: P
  severity?: Severity
  /**
   * False for stream notices (SSE hello, gap) that are sent to one subscriber and never written to
   * the journal: they carry no `id`, so they never move a client's Last-Event-ID.
   */
  journaled?: boolean
}

export function defineEvent<P extends TSchema>(spec: EventSpec<P>): EventSpec<P> {
  return spec
}
