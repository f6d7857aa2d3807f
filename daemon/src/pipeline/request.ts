import type { Principal, Problem, TraceContext } from '@arw/protocol'
import type { ClientChannel, ProgressUpdate, RegisteredTool } from '@arw/registry'

/** One call, as every surface hands it to the pipeline. The pipeline knows no transport. */
export interface InvokeRequest {
  /** `name` or `name@x.y.z`. */
  ref: string
  input: unknown
  principal: Principal
  trace: TraceContext
  /** Which surface the call came through: http, mcp, cli, debug, nested, ... */
  surface: string
  /**
   * What a problem of this call names as its RFC 7807 `instance`: the surface's own reference to
   * the occurrence (the request path on HTTP, `mcp:tools/call/<name>` on MCP). Defaults to
   * `<surface>:<ref>`.
   */
  instance?: string | undefined
  taskId?: string | undefined
  step?: string | undefined
  idempotencyKey?: string | undefined
  /** Resumes a call suspended by the approval gate (`approval_required` gave this id). */
  approvalId?: string | undefined
  /** Aborts the call (caller went away, MCP cancellation). */
  signal?: AbortSignal
  /**
   * A lazy alternative to `signal` for surfaces where watching costs something per call (an HTTP
   * close listener): called only if someone needs to know, with the function that cancels the
   * call; returns the function that stops watching.
   */
  watchCancel?: (cancel: () => void) => () => void
  onProgress?: (update: ProgressUpdate) => void
  /** The caller's channel back, when the surface has one (MCP). */
  client?: ClientChannel
  /** Nesting depth of calls made by tools through ctx.invoke. */
  depth?: number
  /** The call that made this one (nested calls). */
  parent?: { tool: string; spanId: string }
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
