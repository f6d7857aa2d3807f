import type { Principal, TraceContext } from '@arw/protocol'
import type { RegisteredTool } from '@arw/registry'

/** Something a stage asks of the call besides a verdict (e.g. reserve a budget), recorded with it. */
export interface Obligation {
  kind: string
  [detail: string]: unknown
}

/** One stage's answer. */
export interface PolicyVerdict {
  decision: 'allow' | 'deny' | 'needs_approval'
  reason: string
  policy_id?: string
  obligations?: readonly Obligation[]
}

/** What the chain decided, as recorded in the call's `tool.ran` record. */
export interface PolicyDecision extends PolicyVerdict {
  /** Each stage's own verdict, in chain order (absent when the chain has no stage). */
  stages?: Array<PolicyVerdict & { stage: string }>
}

/** Everything a stage may decide on. */
export interface PolicyRequest {
  principal: Principal
  tool: RegisteredTool
  input: unknown
  surface: string
  trace: TraceContext
  taskId: string | undefined
  /** 0 for a call from a surface, n for a call made by a tool n levels down. */
  depth: number
  /** The call that made this one through ctx.invoke, when it is nested. */
  parent: { tool: string; spanId: string } | undefined
}

/**
 * One stage of the policy chain (an envelope of the governance area, a budget, a nesting limit).
 * Answers a verdict, or undefined when the call is none of its business.
 */
export interface PolicyStage {
  readonly id: string
  evaluate(request: PolicyRequest): PolicyVerdict | undefined | Promise<PolicyVerdict | undefined>
}

const DEFAULT: PolicyDecision = Object.freeze({ decision: 'allow', reason: 'default policy: allow' })

/**
 * The ordered chain of policy stages. Every stage is asked in order; the first deny ends the chain
 * (later stages are not asked); otherwise any needs_approval makes the call wait for an approval;
 * otherwise it is allowed. The decision names the stage that settled it and lists every verdict.
 */
export class PolicyChain {
  readonly #stages: readonly PolicyStage[]

  constructor(stages: readonly PolicyStage[]) {
    this.#stages = Object.freeze([...stages])
  }

  /** The chain's decision; synchronous while every stage answers synchronously (the common case). */
  evaluate(request: PolicyRequest): PolicyDecision | Promise<PolicyDecision> {
    const verdicts: Array<PolicyVerdict & { stage: string }> = []
    for (let i = 0; i < this.#stages.length; i++) {
      const stage = this.#stages[i]!
      const pending = stage.evaluate(request)
      if (pending instanceof Promise) return this.#continue(request, i, pending, verdicts)
      if (pending !== undefined && this.#take(stage, pending, verdicts)) return decide(verdicts)
    }
    return decide(verdicts)
  }

  async #continue(
    request: PolicyRequest,
    at: number,
    pending: Promise<PolicyVerdict | undefined>,
    verdicts: Array<PolicyVerdict & { stage: string }>,
  ): Promise<PolicyDecision> {
    let answer: PolicyVerdict | undefined = await pending
    for (let i = at; i < this.#stages.length; i++) {
      const stage = this.#stages[i]!
      if (i > at) answer = await stage.evaluate(request)
      if (answer !== undefined && this.#take(stage, answer, verdicts)) break
    }
    return decide(verdicts)
  }

  /** Adds a verdict; true when it ends the chain (a deny). */
  #take(
    stage: PolicyStage,
    verdict: PolicyVerdict,
    verdicts: Array<PolicyVerdict & { stage: string }>,
  ): boolean {
    verdicts.push({ stage: stage.id, ...verdict })
    return verdict.decision === 'deny'
  }
}

function decide(verdicts: Array<PolicyVerdict & { stage: string }>): PolicyDecision {
  if (verdicts.length === 0) return DEFAULT
  const deny = verdicts.find((v) => v.decision === 'deny')
  const approval = verdicts.find((v) => v.decision === 'needs_approval')
  const settled = deny ?? approval
  const obligations = merged(verdicts)
  if (settled) {
    const { stage: _stage, ...verdict } = settled
    return { ...verdict, ...(obligations.length > 0 ? { obligations } : {}), stages: verdicts }
  }
  const last = verdicts[verdicts.length - 1]!
  return {
    decision: 'allow',
    reason: verdicts.map((v) => v.reason).join('; '),
    ...(last.policy_id !== undefined ? { policy_id: last.policy_id } : {}),
    ...(obligations.length > 0 ? { obligations } : {}),
    stages: verdicts,
  }
}

function merged(stages: ReadonlyArray<PolicyVerdict>): Obligation[] {
  return stages.flatMap((s) => s.obligations ?? [])
}

/** The nesting limit: a tool calling tools calling tools ... is cut off past this depth. */
export const MAX_DEPTH = 8

export const nestingStage: PolicyStage = {
  id: 'arw.nesting',
  evaluate: ({ depth }) =>
    depth > MAX_DEPTH
      ? {
          decision: 'deny',
          reason: `nested calls deeper than ${MAX_DEPTH} are refused`,
          policy_id: 'arw.nesting',
        }
      : undefined,
}
