/**
 * Cursor pagination shared by every list: `{ items, next_cursor }`. A cursor is an opaque base64url
 * token; clients pass it back verbatim and never parse it.
 */
export interface Page<T> {
  items: T[]
  next_cursor: string | null
}

export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')
}

/** Returns undefined for a cursor that is not one of ours, so callers answer a validation problem. */
export function decodeCursor<T = unknown>(cursor: string): T | undefined {
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(cursor)) return undefined
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as T
  } catch {
    return undefined
  }
}

/** Pages an already sorted array by position: the cursor holds the index of the next item. */
export function pageOf<T>(all: readonly T[], limit: number, cursor?: string): Page<T> | undefined {
  let start = 0
  if (cursor !== undefined) {
    const decoded = decodeCursor<{ i: number }>(cursor)
    if (!decoded || !Number.isInteger(decoded.i) || decoded.i < 0) return undefined
    start = decoded.i
  }
  const items = all.slice(start, start + limit)
  const next = start + limit < all.length ? encodeCursor({ i: start + limit }) : null
  return { items, next_cursor: next }
}
