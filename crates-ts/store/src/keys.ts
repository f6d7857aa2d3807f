import { decodeCursor, ERRORS, encodeCursor, ProblemError } from '@arw/protocol'
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './port.ts'

/**
 * Keys, index values and names are strings without NUL: the LMDB backend separates the parts of
 * its composite keys with it, and PostgreSQL text cannot hold it.
 */
export function checkKey(what: string, key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024 || key.includes('\0'))
    throw new ProblemError(ERRORS.store_key_invalid, { what })
}

/** The page size asked for, bounded. */
export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE
  if (!Number.isInteger(limit) || limit < 1)
    throw new ProblemError(ERRORS.store_key_invalid, { what: 'limit' })
  return Math.min(limit, MAX_PAGE_SIZE)
}

/** A list cursor holds the last key of the page it follows (keys are unique and ordered). */
export function cursorOf(lastKey: string): string {
  return encodeCursor({ k: lastKey })
}

export function afterOf(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined
  const decoded = decodeCursor<{ k?: unknown }>(cursor)
  if (!decoded || typeof decoded.k !== 'string') throw new ProblemError(ERRORS.invalid_cursor)
  return decoded.k
}
