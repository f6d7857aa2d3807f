import { ERRORS, ProblemError } from '@arw/protocol'
import type { PolicyDecision, PolicyRequest } from './policy.ts'

/** What the gate is asked: the call, the verdict that asked for an approval, and how long it may wait. */
export interface ApprovalRequest extends PolicyRequest {
  decision: PolicyDecision
  /**
   * Identifies this exact call (tool version, input, task, step, principal): an approval granted
   * for one call never runs another.
   */
  fingerprint: string
  /** Aborted when the caller goes away: a waiting gate must give up then. */
  signal: AbortSignal
  /** Epoch ms after which the gate must not keep the call waiting. */
  deadline: number
  /** Set when the caller resumes a suspended call with the approval id it was given. */
  approvalId: string | undefined
}

export interface ApprovalOutcome {
  /** The input to run with: the original, or the approver's edited arguments. */
  input: unknown
  approval_id: string
}

/**
 * The approval gate, consulted when policy answers needs_approval. It either resolves once a human
 * approved (waiting at most until the deadline, and never after the signal aborts), or throws:
 * `approval_required` with the approval id when the call is suspended (the caller comes back later
 * with that id, through any surface), `policy_denied` when the approver rejected it.
 */
export interface ApprovalGate {
  request(request: ApprovalRequest): Promise<ApprovalOutcome>
}

/** Without an approvals area, a call that needs an approval cannot get one. */
export const noApprovals: ApprovalGate = {
  request: async ({ tool, decision }) => {
    throw new ProblemError(ERRORS.approval_required, {
      tool: tool.id,
      reason: `${decision.reason} (no approval workflow is configured on this daemon)`,
    })
  },
}
