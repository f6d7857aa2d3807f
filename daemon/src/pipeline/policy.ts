import type { Principal } from '@arw/protocol'
import type { RegisteredTool } from '@arw/registry'

export type PolicyDecision =
  | { decision: 'allow'; reason: string; policy_id?: string }
  | { decision: 'deny'; reason: string; policy_id?: string }
  | { decision: 'needs_approval'; reason: string; policy_id?: string }

export interface PolicyRequest {
  principal: Principal
  tool: RegisteredTool
  input: unknown
  surface: string
}

/**
 * The policy stage. Governance plugs its envelopes in here; until then the default allows every
 * call, and the pipeline still records who called and what was decided.
 */
export type PolicyHook = (request: PolicyRequest) => PolicyDecision | Promise<PolicyDecision>

export const allowAll: PolicyHook = () => ({ decision: 'allow', reason: 'default policy: allow' })

export interface ApprovalOutcome {
  /** The input to run with: the original, or the approver's edited arguments. */
  input: unknown
  approval_id: string
}

/**
 * The approval gate, consulted when policy answers needs_approval. It either resolves with the
 * (possibly edited) input once a human approved, or throws a problem (approval_required with the
 * approval id for callers that should come back, policy_denied when rejected).
 */
export type ApprovalGate = (
  request: PolicyRequest & { reason: string; trace_id: string },
) => Promise<ApprovalOutcome>
