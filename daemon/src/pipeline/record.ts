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

/**
 * Walks a value without serializing it: whether a key looks secret, and a lower bound of its JSON
 * size that stops counting past the limit. Most call values are small and clean, and for those
 * this is far cheaper than stringifying them.
 */
function survey(value: unknown, state: { size: number; secret: boolean }, depth: number): void {
  if (state.size > RECORD_VALUE_LIMIT || depth > 32) return
  if (typeof value === 'string') state.size += value.length + 2
  else if (value === null || typeof value !== 'object') state.size += 24
  else if (Array.isArray(value)) {
    state.size += 2
    for (const item of value) survey(item, state, depth + 1)
  } else {
    state.size += 2
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue
      state.size += key.length + 4
      if (SECRET_KEY.test(key)) state.secret = true
      survey((value as Record<string, unknown>)[key], state, depth + 1)
    }
  }
}

/** The value as recorded: redacted, or `{ omitted: true, bytes }` when its JSON exceeds the limit. */
export function recordValue(value: unknown): unknown {
  if (value === undefined) return undefined
  const state = { size: 0, secret: false }
  survey(value, state, 0)
  if (state.size > RECORD_VALUE_LIMIT) {
    const json = JSON.stringify(value)
    if (json === undefined) return undefined
    if (json.length > RECORD_VALUE_LIMIT) return { omitted: true, bytes: Buffer.byteLength(json) }
  }
  return state.secret ? redact(value) : value
}
