import { randomBytes } from 'node:crypto'

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): `traceparent` is
 * `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`. A valid incoming header keeps its
 * trace id, so a caller's trace continues through us; otherwise a new trace starts here.
 */
export interface TraceContext {
  traceId: string
  /** The span of this hop (ours). */
  spanId: string
  /** The caller's span, when a valid traceparent came in. */
  parentSpanId?: string
  flags: string
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/
const ZERO_TRACE = '0'.repeat(32)
const ZERO_SPAN = '0'.repeat(16)

// Ids are cut from a pooled random buffer: one crypto call per 256 ids instead of one per id.
let pool = Buffer.alloc(0)
let poolOffset = 0
function randomHex(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    pool = randomBytes(4096)
    poolOffset = 0
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + bytes)
  poolOffset += bytes
  return hex
}

export function newTraceId(): string {
  return randomHex(16)
}

export function newSpanId(): string {
  return randomHex(8)
}

export function parseTraceparent(header: string | undefined): TraceContext | undefined {
  if (!header) return undefined
  const match = TRACEPARENT.exec(header.trim().toLowerCase())
  if (!match) return undefined
  const [, version, traceId, parentSpanId, flags] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ]
  // Version ff is forbidden; the all-zero ids are invalid by the spec.
  if (version === 'ff' || traceId === ZERO_TRACE || parentSpanId === ZERO_SPAN) return undefined
  // A future version may append fields; version 00 must have exactly four.
  if (version === '00' && header.trim().length !== 55) return undefined
  return { traceId, parentSpanId, spanId: newSpanId(), flags }
}

/** Continues the caller's trace when the header is valid, starts a new sampled one otherwise. */
export function traceFrom(header: string | undefined): TraceContext {
  return parseTraceparent(header) ?? { traceId: newTraceId(), spanId: newSpanId(), flags: '01' }
}

export function formatTraceparent(trace: TraceContext): string {
  return `00-${trace.traceId}-${trace.spanId}-${trace.flags}`
}
