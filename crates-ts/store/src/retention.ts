/**
 * Journal retention: which old records a backend may remove. Records go from the oldest end only,
 * in whole chunks, and the newest record always stays, so the sequence never moves back and ids
 * are never given twice; what remains is still gap-free from `oldest` to the head.
 */
export interface JournalRetention {
  /** Records older than this (by their `time`) are removed. */
  readonly maxAgeMs?: number
  /** The oldest records are removed while the journal is larger than this (see Backend.retain). */
  readonly maxBytes?: number
}

/** Records a backend removes per write at most, so appends are never held up behind a long one. */
export const RETENTION_CHUNK = 1000

/** The `time` of a serialized envelope (`{"id":N,"time":"…",…}`) without parsing the rest. */
export function timeOfLine(json: string): string | undefined {
  const at = json.indexOf('"time":"')
  if (at === -1) return undefined
  const start = at + 8
  return json.slice(start, json.indexOf('"', start))
}

/**
 * The newest id in `oldest..newest` whose record is older than `cutoff` (ISO 8601, compared as
 * text), or `oldest - 1` when none is. Ids are dense and times grow with them, so this is a binary
 * search: a few point reads, however long the journal.
 */
export async function ageCut(
  oldest: number,
  newest: number,
  cutoff: string,
  timeAt: (id: number) => Promise<string | undefined>,
): Promise<number> {
  let lo = oldest - 1
  let hi = newest
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2)
    const time = await timeAt(mid)
    if (time !== undefined && time < cutoff) lo = mid
    else hi = mid - 1
  }
  return lo
}
