import { hash } from 'node:crypto'

/**
 * What a call record keeps of inputs and outputs. Records are read by operators and exported for
 * audit, so values under secret-looking keys are replaced, and large values are summarised by their
 * SHA-256 and size rather than copied into the journal (which would otherwise grow by every
 * megabyte a caller sends). The default of ARW_RECORD_VALUE_LIMIT, in bytes of JSON.
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
function survey(
  value: unknown,
  state: { size: number; secret: boolean },
  depth: number,
  limit: number,
): void {
  if (state.size > limit || depth > 32) return
  if (typeof value === 'string') state.size += value.length + 2
  else if (value === null || typeof value !== 'object') state.size += 24
  else if (Array.isArray(value)) {
    state.size += 2
    for (const item of value) survey(item, state, depth + 1, limit)
  } else {
    state.size += 2
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue
      state.size += key.length + 4
      if (SECRET_KEY.test(key)) state.secret = true
      survey((value as Record<string, unknown>)[key], state, depth + 1, limit)
    }
  }
}

const NONE: readonly string[] = []

/**
 * The value as recorded: redacted, or `{ omitted: true, bytes, sha256 }` when its JSON exceeds
 * `limit` bytes. The digest is of that JSON (UTF-8) after redaction, so a copy of the value (with
 * the same secrets redacted) can be checked against the record without the record holding it.
 * `writeOnly` names top-level properties kept as `[redacted]` whatever their name (a tool's input
 * properties declared `writeOnly: true`).
 */
export function recordValue(
  value: unknown,
  limit = RECORD_VALUE_LIMIT,
  writeOnly: readonly string[] = NONE,
): unknown {
  if (value === undefined) return undefined
  if (writeOnly.length > 0 && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const masked: Record<string, unknown> = { ...(value as Record<string, unknown>) }
    for (const name of writeOnly) if (name in masked) masked[name] = '[redacted]'
    value = masked
  }
  const state = { size: 0, secret: false }
  survey(value, state, 0, limit)
  if (state.size <= limit) return state.secret ? redact(value) : value
  // The survey stopped at the limit, so it may not have seen every key: redact the whole value.
  const kept = redact(value)
  const json = JSON.stringify(kept)
  if (json === undefined) return undefined
  const bytes = Buffer.byteLength(json)
  return bytes > limit ? { omitted: true, bytes, sha256: hash('sha256', json, 'hex') } : kept
}
