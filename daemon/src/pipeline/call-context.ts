import type { Journal } from '@arw/journal'
import { type EventActor, newSpanId, type Severity, type TraceContext } from '@arw/protocol'
import type { ProgressUpdate, RegisteredTool, Registry, ToolContext } from '@arw/registry'
import type { Logger } from 'pino'
import type { InvokeOutcome, InvokeRequest } from './invoke.ts'

export class CancelledError extends Error {
  constructor() {
    super('call cancelled')
    this.name = 'CancelledError'
  }
}

export interface CallDeps {
  registry: Registry
  journal: Journal
  logger: Logger
  invoke(request: InvokeRequest): Promise<InvokeOutcome>
}

/**
 * What a handler sees as `ctx`. Its costly parts are made on first use only: most handlers never
 * read their signal or log, and an AbortController plus a child logger per call would otherwise be
 * a large share of a fast tool's cost. When a handler does read `signal`, the caller's cancellation
 * (a hung-up HTTP client, an MCP cancel) is wired to it from then on.
 */
export class CallContext implements ToolContext {
  readonly principal: InvokeRequest['principal']
  readonly trace: TraceContext
  readonly tool: string
  readonly #deps: CallDeps
  readonly #request: InvokeRequest
  #reject: ((error: Error) => void) | undefined
  #controller: AbortController | undefined
  #unwatch: (() => void) | undefined
  #log: ToolContext['log'] | undefined
  #done = false

  constructor(deps: CallDeps, tool: RegisteredTool, request: InvokeRequest) {
    this.#deps = deps
    this.#request = request
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
      ...(request.taskId ? { taskId: request.taskId } : {}),
      signal: this.signal,
      depth: (request.depth ?? 0) + 1,
    })
    return nested.result.output
  }

  progress(update: ProgressUpdate): void {
    this.#request.onProgress?.(update)
  }
}

export function actorOf(principal: InvokeRequest['principal']): EventActor {
  return { kind: principal.kind, id: principal.id }
}
