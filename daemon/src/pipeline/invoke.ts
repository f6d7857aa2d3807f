import type { Journal } from '@arw/journal'
import {
  ERRORS,
  isProblemError,
  type Principal,
  type Problem,
  ProblemError,
  type TraceContext,
} from '@arw/protocol'
import type { ProgressUpdate, RegisteredTool, Registry } from '@arw/registry'
import type { Logger } from 'pino'
import { Admission } from './admission.ts'
import { actorOf, CallContext, type CallDeps, CancelledError } from './call-context.ts'
import { Idempotency, type StoredAnswer } from './idempotency.ts'
import { type ApprovalGate, allowAll, type PolicyDecision, type PolicyHook } from './policy.ts'
import { recordValue } from './record.ts'

/** One call, as every surface hands it to the pipeline. */
export interface InvokeRequest {
  /** `name` or `name@x.y.z`. */
  ref: string
  input: unknown
  principal: Principal
  trace: TraceContext
  /** Which surface the call came through: http, mcp, cli, debug, nested, ... */
  surface: string
  taskId?: string
  step?: string
  idempotencyKey?: string
  /** Aborts the call (caller went away, MCP cancellation). */
  signal?: AbortSignal
  /**
   * A lazy alternative to `signal` for surfaces where watching costs something per call (an HTTP
   * close listener): called only if the handler reads its signal, with the function that cancels
   * the call; returns the function that stops watching.
   */
  watchCancel?: (cancel: () => void) => () => void
  onProgress?: (update: ProgressUpdate) => void
  /** Nesting depth of calls made by tools through ctx.invoke. */
  depth?: number
}

/** The answer of a successful call, the same on every surface. */
export interface InvokeResult {
  output: unknown
  tool: string
  trace_id: string
  duration_ms: number
}

export interface InvokeOutcome {
  result: InvokeResult
  /** The resolved tool (surfaces add deprecation headers from it). */
  tool: RegisteredTool
  /** True when this answer is the replay of an earlier call with the same Idempotency-Key. */
  replayed: boolean
}

/** A failed call: the problem to answer with, and the tool when it resolved. */
export class InvokeError extends Error {
  readonly problem: Problem
  readonly tool: RegisteredTool | undefined
  readonly replayed: boolean
  constructor(problem: Problem, tool: RegisteredTool | undefined, replayed = false) {
    super(problem.detail)
    this.name = 'InvokeError'
    this.problem = problem
    this.tool = tool
    this.replayed = replayed
  }
}

export interface PipelineOptions {
  registry: Registry
  journal: Journal
  idempotency: Idempotency
  logger: Logger
  policy?: PolicyHook
  approvals?: ApprovalGate
}

const MAX_DEPTH = 8

const noApprovals: ApprovalGate = async ({ tool, reason }) => {
  throw new ProblemError(ERRORS.approval_required, { tool: tool.id, reason })
}

/**
 * The one path of every call: resolve → validate input → policy → approval gate → admission →
 * handler under a timeout → validate output → record (durable) → publish → answer. Surfaces only
 * translate their wire format to an InvokeRequest and the outcome back.
 */
export class Pipeline {
  readonly registry: Registry
  readonly journal: Journal
  readonly #idempotency: Idempotency
  readonly #admission = new Admission()
  readonly #log: Logger
  policy: PolicyHook
  approvals: ApprovalGate
  readonly #deps: CallDeps

  constructor(options: PipelineOptions) {
    this.registry = options.registry
    this.journal = options.journal
    this.#idempotency = options.idempotency
    this.#log = options.logger
    this.policy = options.policy ?? allowAll
    this.approvals = options.approvals ?? noApprovals
    this.#deps = {
      registry: this.registry,
      journal: this.journal,
      logger: this.#log,
      invoke: (request) => this.invoke(request),
    }
  }

  /** Runs a call; resolves with its result or rejects with an InvokeError carrying the problem. */
  async invoke(request: InvokeRequest): Promise<InvokeOutcome> {
    const started = performance.now()
    let tool: RegisteredTool | undefined
    let decision: PolicyDecision | undefined
    let idem: { scope: string; fingerprint: string; end: () => void } | undefined
    let executed = false
    try {
      tool = this.registry.resolve(request.ref)
      if (request.idempotencyKey !== undefined) {
        Idempotency.validateKey(request.idempotencyKey)
        const scope = this.#idempotency.scope(request.principal, request.idempotencyKey)
        const fingerprint = Idempotency.fingerprint([tool.id, request.input, request.taskId, request.step])
        const stored = await this.#idempotency.lookup(scope, fingerprint, request.idempotencyKey)
        if (stored) return this.#replay(stored, tool)
        idem = { scope, fingerprint, end: this.#idempotency.begin(scope, fingerprint) }
      }
      let input = tool.inputValidator.withDefaults(request.input)
      if (!tool.inputValidator.check(input)) {
        const errors = tool.inputValidator.errors(input)
        throw new ProblemError(
          ERRORS.validation_failed,
          { count: errors.length, schema: `${tool.id} input` },
          { errors: errors.map((e) => ({ ...e, pointer: `/input${e.pointer}` })) },
        )
      }
      if ((request.depth ?? 0) > MAX_DEPTH) {
        throw new ProblemError(ERRORS.policy_denied, {
          reason: `nested calls deeper than ${MAX_DEPTH} are refused`,
        })
      }
      const decided = this.policy({ principal: request.principal, tool, input, surface: request.surface })
      decision = decided instanceof Promise ? await decided : decided
      if (decision.decision === 'deny')
        throw new ProblemError(ERRORS.policy_denied, { reason: decision.reason })
      if (decision.decision === 'needs_approval') {
        const approved = await this.approvals({
          principal: request.principal,
          tool,
          input,
          surface: request.surface,
          reason: decision.reason,
          trace_id: request.trace.traceId,
        })
        input = approved.input
      }
      const release = this.#admission.admit(tool)
      executed = true
      let output: unknown
      try {
        output = await this.#run(tool, input, request)
      } finally {
        release()
      }
      if (!tool.outputValidator.check(output)) {
        const errors = tool.outputValidator.errors(output)
        this.#log.error(
          { tool: tool.id, trace_id: request.trace.traceId, errors },
          'tool output failed its schema',
        )
        throw new ProblemError(ERRORS.output_invalid, { tool: tool.id })
      }
      const duration_ms = roundMs(performance.now() - started)
      const result: InvokeResult = { output, tool: tool.id, trace_id: request.trace.traceId, duration_ms }
      try {
        await this.#record(
          request,
          'info',
          this.#payload(request, tool.id, 'ok', duration_ms, decision, {
            input: recordValue(input),
            output: recordValue(output),
          }),
          idem && { idem, status: 200, body: result },
        )
      } catch (error) {
        throw new JournalFailure(error)
      }
      return { result, tool, replayed: false }
    } catch (error) {
      throw await this.#fail(error, request, tool, decision, started, executed, idem)
    } finally {
      idem?.end()
    }
  }

  /**
   * Runs the handler. A synchronous handler (most fast tools) returns before any timer could fire,
   * so it runs without one; a handler that returns a promise races its timeout and cancellation.
   */
  async #run(tool: RegisteredTool, input: unknown, request: InvokeRequest): Promise<unknown> {
    const ctx = new CallContext(this.#deps, tool, request)
    let result: unknown
    try {
      result = tool.handler(input as never, ctx)
    } catch (error) {
      ctx.finish()
      throw error
    }
    if (!(result instanceof Promise)) {
      ctx.finish()
      return result
    }
    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    let unwatch: (() => void) | undefined
    // Handlers that ignore their signal still lose the race; their late result is dropped.
    const stopped = new Promise<never>((_, reject) => {
      ctx.onCancel(reject)
      timer = setTimeout(() => {
        const problem = new ProblemError(ERRORS.timeout, { tool: tool.id, timeoutMs: tool.timeoutMs })
        reject(problem)
        ctx.finish(problem)
      }, tool.timeoutMs)
      // A call that waits is cut off when its caller cancels, even if its handler ignores the signal.
      unwatch = request.watchCancel?.(() => ctx.cancel())
      const caller = request.signal
      if (!caller) return
      onAbort = () => ctx.cancel(caller.reason)
      if (caller.aborted) onAbort()
      else caller.addEventListener('abort', onAbort, { once: true })
    })
    stopped.catch(() => {})
    result.catch(() => {})
    try {
      return await Promise.race([result, stopped])
    } finally {
      clearTimeout(timer)
      ctx.finish()
      if (onAbort) request.signal?.removeEventListener('abort', onAbort)
      unwatch?.()
    }
  }

  /**
   * Appends the call's `tool.ran` record. A keyed call's answer is stored in the same transaction
   * (journal.append's `alongside`), so a replayable answer never exists without its record.
   */
  #record(
    request: InvokeRequest,
    severity: 'info' | 'warning' | 'error',
    payload: Record<string, unknown>,
    answer?: { idem: { scope: string; fingerprint: string }; status: number; body: unknown },
  ): Promise<unknown> {
    return this.journal.append(
      {
        kind: 'tool.ran',
        version: '1.0.0',
        severity,
        trace_id: request.trace.traceId,
        span_id: request.trace.spanId,
        ...(request.taskId ? { task_id: request.taskId } : {}),
        actor: actorOf(request.principal),
        payload,
      },
      answer &&
        (() =>
          this.#idempotency.save(answer.idem.scope, {
            fingerprint: answer.idem.fingerprint,
            status: answer.status,
            body: answer.body,
            created: Date.now(),
          })),
    )
  }

  #payload(
    request: InvokeRequest,
    tool: string,
    outcome: 'ok' | 'error' | 'cancelled',
    duration_ms: number,
    decision: PolicyDecision | undefined,
    extra: Record<string, unknown>,
  ): Record<string, unknown> {
    const payload: Record<string, unknown> = { tool, outcome, surface: request.surface, duration_ms }
    if (decision) payload['decision'] = decision
    if (request.idempotencyKey !== undefined) payload['idempotency_key'] = request.idempotencyKey
    if (request.step !== undefined) payload['step'] = request.step
    for (const [key, value] of Object.entries(extra)) if (value !== undefined) payload[key] = value
    return payload
  }

  #replay(stored: StoredAnswer, tool: RegisteredTool): InvokeOutcome {
    if (stored.status >= 400) {
      const problem = { ...(stored.body as Problem) }
      throw new InvokeError(problem, tool, true)
    }
    return { result: stored.body as InvokeResult, tool, replayed: true }
  }

  async #fail(
    error: unknown,
    request: InvokeRequest,
    tool: RegisteredTool | undefined,
    decision: PolicyDecision | undefined,
    started: number,
    executed: boolean,
    idem: { scope: string; fingerprint: string } | undefined,
  ): Promise<InvokeError> {
    if (error instanceof InvokeError) return error
    const cancelled = error instanceof CancelledError
    let problemError: ProblemError
    let internal: string | undefined
    if (isProblemError(error)) problemError = error
    else if (error instanceof JournalFailure) {
      // The handler ran but its record was not committed: not acknowledged. The failure record
      // below still tries to tell the journal that it ran.
      this.#log.error(
        { err: error.cause, tool: tool?.id, trace_id: request.trace.traceId },
        'could not record a call',
      )
      problemError = new ProblemError(ERRORS.unavailable, { reason: 'the journal could not record the call' })
      internal = error.name
    } else if (cancelled) problemError = new ProblemError(ERRORS.cancelled, { tool: tool?.id ?? request.ref })
    else {
      internal = error instanceof Error ? error.name : typeof error
      this.#log.error({ err: error, tool: tool?.id, trace_id: request.trace.traceId }, 'tool call failed')
      problemError = new ProblemError(ERRORS.internal_error, { traceId: request.trace.traceId })
    }
    const instance = `/tools/${tool?.id ?? request.ref}:invoke`
    const problem = problemError.toProblem(instance, request.trace.traceId)
    const duration_ms = roundMs(performance.now() - started)
    // Only answers the handler produced are replayed; refusals before it ran and server faults
    // (timeouts, internal errors) leave the key free for a retry.
    const answer = idem && executed && problem.status < 500 && !cancelled ? idem : undefined
    try {
      await this.#record(
        request,
        problem.status >= 500 ? 'error' : 'warning',
        this.#payload(
          request,
          tool?.id ?? request.ref,
          cancelled ? 'cancelled' : 'error',
          duration_ms,
          decision,
          {
            code: problem.code,
            status: problem.status,
            error: internal,
            input: executed ? recordValue(request.input) : undefined,
          },
        ),
        answer && { idem: answer, status: problem.status, body: problem },
      )
    } catch (writeError) {
      this.#log.error({ err: writeError }, 'could not record a failed call')
      const fault = new ProblemError(ERRORS.unavailable, { reason: 'the journal could not record the call' })
      return new InvokeError(fault.toProblem(instance, request.trace.traceId), tool)
    }
    return new InvokeError(problem, tool)
  }
}

/** The call's record could not be committed (the store refused the write). */
class JournalFailure extends Error {
  constructor(cause: unknown) {
    super('the journal could not record the call', { cause })
    this.name = 'JournalFailure'
  }
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
