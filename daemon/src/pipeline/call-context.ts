import { type EventActor, newSpanId, type Severity, type TraceContext } from '@arw/protocol'
import type {
  ClientChannel,
  ProgressUpdate,
  RegisteredTool,
  Registry,
  ToolContext,
  Usage,
} from '@arw/registry'
import type { Collection, CollectionSpec, Journal, Transaction } from '@arw/store'
import type { Logger } from 'pino'
import type { InvokeOutcome, InvokeRequest } from './request.ts'

export class CancelledError extends Error {
  constructor() {
    super('call cancelled')
    this.name = 'CancelledError'
  }
}

/** What an area gives the handlers of its tools at call time (see kernel/area.ts). */
export interface AreaScope {
  readonly services: unknown
  readonly config: unknown
  /** The area's collections, namespaced by its name. */
  collection<T>(name: string, options?: Omit<CollectionSpec<T>, 'area' | 'name'>): Collection<T>
  /** Collection writes and journal appends committed together or not at all. */
  transaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R>
}

export interface CallDeps {
  registry: Registry
  journal: Journal
  logger: Logger
  /** The running areas, by name. */
  scopes: ReadonlyMap<string, AreaScope>
  invoke(request: InvokeRequest): Promise<InvokeOutcome>
}

/**
 * What a handler sees as `ctx`: the base ToolContext, plus (for a tool of an area) its area's
 * services, config and collections, the registry and the journal, all looked up at call time.
 * Its costly parts are made on first use only: most handlers never read their signal or log, and
 * an AbortController plus a child logger per call would otherwise be a large share of a fast
 * tool's cost. When a handler does read `signal`, the caller's cancellation (a hung-up HTTP
 * client, an MCP cancel) is wired to it from then on.
 */
export class CallContext implements ToolContext {
  readonly principal: InvokeRequest['principal']
  readonly trace: TraceContext
  readonly tool: string
  readonly #deps: CallDeps
  readonly #request: InvokeRequest
  readonly #area: string | undefined
  #reject: ((error: Error) => void) | undefined
  #controller: AbortController | undefined
  #unwatch: (() => void) | undefined
  #log: ToolContext['log'] | undefined
  #usage: Usage | undefined
  #done = false

  constructor(deps: CallDeps, tool: RegisteredTool, request: InvokeRequest) {
    this.#deps = deps
    this.#request = request
    this.#area = tool.area
    this.principal = request.principal
    this.trace = request.trace
    this.tool = tool.id
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      const controller = new AbortController()
      this.#controller = controller
      if (!this.#done) this.#unwatch = this.#request.watchCancel?.(() => this.cancel())
    }
    return this.#controller.signal
  }

  get client(): ClientChannel | undefined {
    return this.#request.client
  }

  get registry(): Registry {
    return this.#deps.registry
  }

  get journal(): Journal {
    return this.#deps.journal
  }

  get services(): unknown {
    return this.#scope().services
  }

  get config(): unknown {
    return this.#scope().config
  }

  collection<T>(name: string, options?: Omit<CollectionSpec<T>, 'area' | 'name'>): Collection<T> {
    return this.#scope().collection<T>(name, options)
  }

  transaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R> {
    return this.#scope().transaction(fn)
  }

  #scope(): AreaScope {
    const scope = this.#area === undefined ? undefined : this.#deps.scopes.get(this.#area)
    if (!scope) throw new Error(`${this.tool} is not a tool of a running area; it has no area context`)
    return scope
  }

  /** Where a cancellation fails the call (the pipeline's race against the handler). */
  onCancel(reject: (error: Error) => void): void {
    this.#reject = reject
  }

  /** The caller went away: fail the call as cancelled and tell the handler. */
  cancel(reason?: unknown): void {
    this.#reject?.(new CancelledError())
    this.#controller?.abort(reason)
  }

  /** The call is over (timed out, failed or done): abort a handler still running, stop watching. */
  finish(reason?: unknown): void {
    this.#done = true
    this.#unwatch?.()
    this.#unwatch = undefined
    if (reason !== undefined) this.#controller?.abort(reason)
  }

  get log(): ToolContext['log'] {
    if (!this.#log) {
      const log = this.#deps.logger.child({ tool: this.tool, trace_id: this.trace.traceId })
      this.#log = {
        info: (message, data) => log.info(data ?? {}, message),
        warn: (message, data) => log.warn(data ?? {}, message),
        error: (message, data) => log.error(data ?? {}, message),
      }
    }
    return this.#log
  }

  usage(report: Usage): void {
    this.#usage ??= {}
    const sum = this.#usage
    for (const key of ['tokens', 'cost'] as const) {
      const value = report[key]
      if (value === undefined) continue
      if (!Number.isFinite(value) || value < 0) throw new Error(`usage.${key} must be a finite number >= 0`)
      sum[key] = (sum[key] ?? 0) + value
    }
  }

  /** What the handler reported, summed (undefined when it reported nothing). */
  get reportedUsage(): Usage | undefined {
    return this.#usage
  }

  async emit(kind: string, payload: unknown, severity?: Severity): Promise<void> {
    const declared = this.#deps.registry.event(kind)
    if (!declared) throw new Error(`event kind ${kind} is not declared`)
    if (!declared.validator.check(payload)) {
      throw new Error(
        `event ${kind} payload does not match its schema: ${JSON.stringify(declared.validator.errors(payload))}`,
      )
    }
    const request = this.#request
    await this.#deps.journal.append({
      kind,
      version: declared.version,
      severity: severity ?? declared.severity,
      trace_id: request.trace.traceId,
      span_id: request.trace.spanId,
      ...(request.taskId ? { task_id: request.taskId } : {}),
      actor: actorOf(request.principal),
      payload,
    })
  }

  async invoke(ref: string, input: unknown): Promise<unknown> {
    const request = this.#request
    const nested = await this.#deps.invoke({
      ref,
      input,
      principal: request.principal,
      trace: { ...request.trace, parentSpanId: request.trace.spanId, spanId: newSpanId() },
      surface: 'nested',
      instance: `nested:${this.tool}/${ref}`,
      ...(request.taskId ? { taskId: request.taskId } : {}),
      signal: this.signal,
      depth: (request.depth ?? 0) + 1,
      parent: { tool: this.tool, spanId: request.trace.spanId },
      ...(request.client ? { client: request.client } : {}),
    })
    return nested.result.output
  }

  progress(update: ProgressUpdate): void {
    this.#request.onProgress?.(update)
  }
}

export function actorOf(principal: InvokeRequest['principal']): EventActor {
  const actor: EventActor = { kind: principal.kind, id: principal.id }
  return actor
}
