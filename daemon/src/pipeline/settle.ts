import type { ProblemCode } from '@arw/protocol'
import type { RegisteredTool, Usage } from '@arw/registry'
import type { Write } from '@arw/store'
import type { PolicyDecision } from './policy.ts'
import type { InvokeRequest } from './request.ts'

/** A call that has ended, as settle stages see it. */
export interface SettledCall {
  request: InvokeRequest
  /** Undefined when the reference did not resolve. */
  tool: RegisteredTool | undefined
  outcome: 'ok' | 'error' | 'cancelled'
  /** The problem code of a failed call. */
  code: ProblemCode | undefined
  decision: PolicyDecision | undefined
  /** Whether the handler ran (a refusal before it did consumed nothing). */
  executed: boolean
  /** What the handler reported through ctx.usage, summed. */
  usage: Usage
  duration_ms: number
}

/**
 * A settle stage runs after every call, success or failure, to settle what was reserved for it (a
 * budget, a cost). Its writes commit in the same journal batch as the call record: the call is
 * recorded with them or not at all.
 */
export interface SettleStage {
  readonly id: string
  settle(call: SettledCall): readonly Write[] | undefined | Promise<readonly Write[] | undefined>
}
