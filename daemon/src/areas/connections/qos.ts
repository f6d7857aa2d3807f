import type { Principal } from '@arw/protocol'
import type { Priority, Qos } from './model.ts'

/**
 * A connection's QoS: which callers go first in its concurrency queue. The connection names
 * callers (by principal, tenant or role) and their priority; everyone else gets `qos.priority`.
 * Priorities order only the waiting: no caller gets more than the connection's `max` slots or
 * bypasses its rate limit, and a low-priority waiter still runs after being passed over a few
 * times (see MAX_PASSED in pipeline/admission.ts).
 */

/** Admission priorities: higher is served first; `normal` is the pipeline's default 0. */
const RANK: Record<Priority, number> = { low: -1, normal: 0, high: 1 }

export function callerPriority(qos: Qos, principal: Principal): Priority {
  for (const rule of qos.callers ?? []) {
    if (rule.principal !== undefined && rule.principal !== `${principal.kind}:${principal.id}`) continue
    if (rule.tenant !== undefined && rule.tenant !== principal.tenant) continue
    if (rule.role !== undefined && !principal.roles?.includes(rule.role)) continue
    return rule.priority
  }
  return qos.priority
}

/** The caller's rank in the connection's admission queue. */
export function admissionPriority(qos: Qos, principal: Principal): number {
  return RANK[callerPriority(qos, principal)]
}
