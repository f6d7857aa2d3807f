import { ERRORS, hasPermission, isProblemError, type Problem, ProblemError } from '@arw/protocol'
import type { RegisteredTool, Registry, Usage } from '@arw/registry'
import type { Journal, Write } from '@arw/store'
import type { Logger } from 'pino'
import { toolRan } from '../events.ts'
import { Admission, type AdmissionKey } from './admission.ts'
import { type ApprovalGate, noApprovals } from './approvals.ts'
import { type AreaScope, actorOf, CallContext, type CallDeps, CancelledError } from './call-context.ts'
import { Idempotency, type StoredAnswer } from './idempotency.ts'
import {
  nestingStage,
  PolicyChain,
  type PolicyDecision,
  type PolicyRequest,
  type PolicyStage,
} from './policy.ts'
import { RECORD_VALUE_LIMIT, recordValue } from './record.ts'
import { InvokeError, type InvokeOutcome, type InvokeRequest, type InvokeResult } from './request.ts'
import type { SettledCall, SettleStage } from './settle.ts'

export { InvokeError, type InvokeOutcome, type InvokeRequest, type InvokeResult } from './request.ts'

/**
 * Names the admission keys of a call besides the built-in ones (a connection, a tenant's quota),
 * each with the call's priority in that key's queue when the area ranks its callers.
 */
export type AdmissionKeyer = (
  request: InvokeRequest,
  tool: RegisteredTool,
) => readonly AdmissionKey[] | undefined

export interface PipelineOptions {
  registry: Registry
  journal: Journal
  idempotency: Idempotency
  logger: Logger
  /** The running areas' contexts, by area name (what their tools' handlers get). */
  scopes?: ReadonlyMap<string, AreaScope>
  /** Policy stages, in order, after the built-in nesting limit. */
  policy?: readonly PolicyStage[]
  approvals?: ApprovalGate
  settle?: readonly SettleStage[]
  admission?: Admission
  admissionKeys?: readonly AdmissionKeyer[]
  /** How long a call may wait at the approval gate before it is suspended, ms. */
  approvalWaitMs?: number
  /** Largest JSON (bytes) of an input or output kept in a call record (RECORD_VALUE_LIMIT). */
  recordValueLimit?: number
}

/** Without a configured wait, a call that needs an approval is suspended at once. */
const DEFAULT_APPROVAL_WAIT_MS = 0

/**
 * The one path of every call: resolve → permission → idempotency → validate input → policy chain
 * → approval gate → admission → handler under a timeout → validate output → settle → record
 * (durable, with the settle stages' writes) → publish → answer. Surfaces only translate their wire
 * format to an InvokeRequest and the outcome back; what varies (policy, approvals, settling,
 * limits) is given at construction, so nothing of it can be swapped under a running call.
 */
export class Pipeline {
  readonly registry: Registry
  readonly journal: Journal
  readonly admission: Admission
  readonly #idempotency: Idempotency
  readonly #log: Logger
  readonly #policy: PolicyChain
  readonly #approvals: ApprovalGate
  readonly #settle: readonly SettleStage[]
  readonly #keyers: readonly AdmissionKeyer[]
  readonly #approvalWaitMs: number
  readonly #recordLimit: number
  readonly #deps: CallDeps

  constructor(options: PipelineOptions) {
    this.registry = options.registry
    this.journal = options.journal
    this.#idempotency = options.idempotency
    this.#log = options.logger
    this.#policy = new PolicyChain([nestingStage, ...(options.policy ?? [])])
    this.#approvals = options.approvals ?? noApprovals
    this.#settle = options.settle ?? []
    this.admission = options.admission ?? new Admission()
    this.#keyers = options.admissionKeys ?? []
    this.#approvalWaitMs = options.approvalWaitMs ?? DEFAULT_APPROVAL_WAIT_MS
    this.#recordLimit = options.recordValueLimit ?? RECORD_VALUE_LIMIT
    this.#deps = {
      registry: this.registry,
      journal: this.journal,
      logger: this.#log,
      scopes: options.scopes ?? new Map(),
      invoke: (request) => this.invoke(request),
    }
    // A tool's declared limits are the limits of its admission key, also for tools added later.
    const limitTools = (ids: readonly string[]) => {
      for (const id of ids) {
        const tool = this.registry.tryResolve(id)
        if (tool && Object.keys(tool.limits).length > 0) this.admission.configure(toolKey(tool), tool.limits)
      }
    }
    limitTools(this.registry.tools().map((t) => t.id))
    this.registry.onChange(({ added, removed }) => {
      limitTools(added)
      for (const id of removed) this.admission.configure(`tool:${id}`, undefined)
    })
  }

  /** Runs a call; resolves with its result or rejects with an InvokeError carrying the problem. */
  async invoke(request: InvokeRequest): Promise<InvokeOutcome> {
    const started = performance.now()
    let tool: RegisteredTool | undefined
    let decision: PolicyDecision | undefined
    let idem: { scope: string; fingerprint: string; end: () => void } | undefined
    let executed = false
    let ctx: CallContext | undefined
    let approvalId: string | undefined
    try {
      tool = this.registry.resolve(request.ref)
      if (tool.permission !== undefined && !hasPermission(request.principal, tool.permission)) {
        throw new ProblemError(ERRORS.forbidden, {
          reason: `${tool.id} needs the permission ${tool.permission}`,
        })
      }
      if (request.idempotencyKey !== undefined) {
        Idempotency.validateKey(request.idempotencyKey)
        const scope = this.#idempotency.scope(request.principal, request.idempotencyKey)
        const print = fingerprintOf(tool, request)
        const stored = await this.#idempotency.lookup(scope, print, request.idempotencyKey)
        if (stored) return this.#replay(stored, tool)
        idem = { scope, fingerprint: print, end: this.#idempotency.begin(scope, print) }
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
      const policyRequest: PolicyRequest = {
        principal: request.principal,
        tool,
        input,
        surface: request.surface,
        trace: request.trace,
        taskId: request.taskId,
        depth: request.depth ?? 0,
        parent: request.parent,
      }
      const decided = this.#policy.evaluate(policyRequest)
      decision = decided instanceof Promise ? await decided : decided
      if (decision.decision === 'deny')
        throw new ProblemError(ERRORS.policy_denied, { reason: decision.reason })
      if (decision.decision === 'needs_approval') {
        const approved = await this.#approve(
          policyRequest,
          decision,
          idem?.fingerprint ?? fingerprintOf(tool, request),
          request,
        )
        input = approved.input
        approvalId = approved.approval_id
      }
      const admitted = this.#admit(request, tool)
      const release = admitted instanceof Promise ? await admitted : admitted
      executed = true
      let output: unknown
      try {
        ctx = new CallContext(this.#deps, tool, request)
        output = await this.#run(tool, input, request, ctx)
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
      const usage = ctx.reportedUsage
      // No settle stage (the common case): no promise, no extra turn of the microtask queue.
      const writes =
        this.#settle.length === 0
          ? undefined
          : await this.#settled({
              request,
              tool,
              outcome: 'ok',
              code: undefined,
              decision,
              executed,
              usage: usage ?? {},
              duration_ms,
            })
      try {
        await this.#record(
          request,
          'info',
          this.#payload(request, tool.id, 'ok', duration_ms, decision, {
            input: recordValue(input, this.#recordLimit, tool.writeOnly),
            output: recordValue(output, this.#recordLimit),
            usage,
            approval_id: approvalId,
          }),
          writes,
          idem && { idem, status: 200, body: result },
        )
      } catch (error) {
        throw new JournalFailure(error)
      }
      return { result, tool, replayed: false }
    } catch (error) {
      throw await this.#fail(error, request, tool, decision, started, executed, idem, ctx, approvalId)
    } finally {
      idem?.end()
    }
  }

  /**
   * Asks the approval gate, with a signal that aborts when the caller goes away and a deadline, so
   * a call waiting for a human never outlives its caller.
   */
  async #approve(
    policyRequest: PolicyRequest,
    decision: PolicyDecision,
    fingerprint: string,
    request: InvokeRequest,
  ) {
    const controller = new AbortController()
    const onAbort = () => controller.abort(request.signal?.reason)
    request.signal?.addEventListener('abort', onAbort, { once: true })
    if (request.signal?.aborted) onAbort()
    const unwatch = request.watchCancel?.(() => controller.abort())
    try {
      return await this.#approvals.request({
        ...policyRequest,
        decision,
        fingerprint: `${policyRequest.principal.kind}:${policyRequest.principal.id}\0${fingerprint}`,
        signal: controller.signal,
        deadline: Date.now() + Math.min(this.#approvalWaitMs, policyRequest.tool.timeoutMs),
        approvalId: request.approvalId,
      })
    } finally {
      request.signal?.removeEventListener('abort', onAbort)
      unwatch?.()
    }
  }

  /** Admission under the tool's key, the principal's and tenant's, and any key an area names. */
  #admit(request: InvokeRequest, tool: RegisteredTool) {
    if (!this.admission.active) return noRelease
    const keys: AdmissionKey[] = [
      toolKey(tool),
      `principal:${request.principal.kind}:${request.principal.id}`,
    ]
    if (request.principal.tenant !== undefined) keys.push(`tenant:${request.principal.tenant}`)
    for (const keyer of this.#keyers) {
      const more = keyer(request, tool)
      if (more) keys.push(...more)
    }
    const deadline = Date.now() + tool.timeoutMs
    return this.admission.admit(keys, request.signal ? { signal: request.signal, deadline } : { deadline })
  }

  /** Asks every settle stage for its writes; a stage that fails is logged and leaves none. */
  async #settled(call: SettledCall): Promise<Write[] | undefined> {
    if (this.#settle.length === 0) return undefined
    const writes: Write[] = []
    for (const stage of this.#settle) {
      try {
        const pending = stage.settle(call)
        const out = pending instanceof Promise ? await pending : pending
        if (out) writes.push(...out)
      } catch (error) {
        this.#log.error(
          { err: error, stage: stage.id, tool: call.tool?.id, trace_id: call.request.trace.traceId },
          'settle stage failed',
        )
      }
    }
    return writes
  }

  /**
   * Runs the handler. A synchronous handler (most fast tools) returns before any timer could fire,
   * so it runs without one; a handler that returns a promise races its timeout and cancellation.
   */
  async #run(
    tool: RegisteredTool,
    input: unknown,
    request: InvokeRequest,
    ctx: CallContext,
  ): Promise<unknown> {
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
   * Appends the call's `tool.ran` record with the settle stages' writes; a keyed call's answer is
   * stored in the same transaction, so a replayable answer never exists without its record.
   */
  #record(
    request: InvokeRequest,
    severity: 'info' | 'warning' | 'error',
    payload: Record<string, unknown>,
    writes: Write[] | undefined,
    answer?: { idem: { scope: string; fingerprint: string }; status: number; body: unknown },
  ): Promise<unknown> {
    let all = writes
    if (answer) {
      const stored = this.#idempotency.write(answer.idem.scope, {
        fingerprint: answer.idem.fingerprint,
        status: answer.status,
        body: answer.body,
        created: Date.now(),
      })
      all = all ? [...all, stored] : [stored]
    }
    return this.journal.append(
      {
        kind: 'tool.ran',
        version: toolRan.version,
        severity,
        trace_id: request.trace.traceId,
        span_id: request.trace.spanId,
        ...(request.taskId ? { task_id: request.taskId } : {}),
        actor: actorOf(request.principal),
        payload,
      },
      all,
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
    if (request.parent !== undefined) payload['parent'] = request.parent
    for (const key in extra) {
      const value = extra[key]
      if (value !== undefined) payload[key] = value
    }
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
    ctx: CallContext | undefined,
    approvalId: string | undefined,
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
    const instance = request.instance ?? `${request.surface}:${request.ref}`
    const problem = problemError.toProblem(instance, request.trace.traceId)
    const duration_ms = roundMs(performance.now() - started)
    const usage: Usage | undefined = ctx?.reportedUsage
    const outcome = cancelled ? 'cancelled' : 'error'
    // A journal failure already settled (its writes went down with the record); do not settle twice.
    const writes =
      error instanceof JournalFailure
        ? undefined
        : this.#settle.length === 0
          ? undefined
          : await this.#settled({
              request,
              tool,
              outcome,
              code: problem.code,
              decision,
              executed,
              usage: usage ?? {},
              duration_ms,
            })
    // Only answers the handler produced are replayed; refusals before it ran and server faults
    // (timeouts, internal errors) leave the key free for a retry.
    const answer = idem && executed && problem.status < 500 && !cancelled ? idem : undefined
    try {
      await this.#record(
        request,
        problem.status >= 500 ? 'error' : 'warning',
        this.#payload(request, tool?.id ?? request.ref, outcome, duration_ms, decision, {
          code: problem.code,
          status: problem.status,
          error: internal,
          input: executed ? recordValue(request.input, this.#recordLimit, tool?.writeOnly) : undefined,
          usage,
          approval_id: approvalId ?? problem.approval_id,
        }),
        writes,
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

/** What makes two calls the same call (idempotency, approvals); hashing costs microseconds, so only they compute it. */
function fingerprintOf(tool: RegisteredTool, request: InvokeRequest): string {
  return Idempotency.fingerprint([tool.id, request.input, request.taskId, request.step])
}

function toolKey(tool: RegisteredTool): string {
  return `tool:${tool.id}`
}

function noRelease(): void {}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
