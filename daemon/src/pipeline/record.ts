/**
 * What a call record keeps of inputs and outputs. Records are read by operators and exported for
 * audit, so values under secret-looking keys are replaced, and large values are summarised by size
 * rather than copied into the journal.
 */
export const RECORD_VALUE_LIMIT = 4096

const SECRET_KEY =
  /pass(word|phrase)?|secret|token|api[-_]?key|authori[sz]ation|cookie|private[-_]?key|credential/i

export function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value
  if (depth > 32) return '[too deep]'
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value))
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(v, depth + 1)
  return out
}

/** The value as recorded: redacted, or `{ omitted: true, bytes }` when its JSON exceeds the limit. */
export function recordValue(value: unknown): unknown {
  if (value === undefined) return undefined
  const json = JSON.stringify(value)
  if (json === undefined) return undefined
  if (json.length > RECORD_VALUE_LIMIT) return { omitted: true, bytes: Buffer.byteLength(json) }
  // Fast path: nothing to redact in most small values.
  return SECRET_KEY.test(json) ? redact(value) : value
}
