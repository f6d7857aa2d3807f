import { type EventDraft, SYSTEM_PRINCIPAL, type TraceContext } from '@arw/protocol'
import type { EventSpec, Registry } from '@arw/registry'

/** An event draft of a declared kind, by the system or in a call's trace. */
export function draft<P>(
  registry: Registry,
  spec: EventSpec,
  payload: P,
  call?: { trace: TraceContext; principal: { kind: string; id: string } },
): EventDraft<P> {
  const declared = registry.event(spec.kind)
  if (!declared) throw new Error(`event kind ${spec.kind} is not declared`)
  if (!declared.validator.check(payload))
    throw new Error(
      `event ${spec.kind} payload does not match its schema: ${JSON.stringify(declared.validator.errors(payload))}`,
    )
  const actor = call
    ? { kind: call.principal.kind, id: call.principal.id }
    : { kind: SYSTEM_PRINCIPAL.kind, id: SYSTEM_PRINCIPAL.id }
  return {
    kind: spec.kind,
    version: declared.version,
    severity: declared.severity,
    ...(call ? { trace_id: call.trace.traceId, span_id: call.trace.spanId } : {}),
    actor: actor as EventDraft['actor'] & object,
    payload,
  }
}
