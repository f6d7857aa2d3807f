import { hash, timingSafeEqual } from 'node:crypto'
import { ERRORS, type Principal, ProblemError } from '@arw/protocol'
import type { FastifyRequest } from 'fastify'
import type { Config } from '../../config.ts'

const WINDOW_MS = 60_000
const MAX_TRACKED = 10_000

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}

/** The token a request presents: X-ARW-Admin, else `Authorization: Bearer <token>`. */
export function presentedToken(headers: FastifyRequest['headers']): string | undefined {
  const header = headers['x-arw-admin']
  if (typeof header === 'string' && header !== '') return header
  const authorization = headers.authorization
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (match) return match[1]
  }
  return undefined
}

/**
 * Admin authentication. The configured token is kept only as its SHA-256 and compared in constant
 * time against the hash of what was presented (equal lengths, so no length leak). Wrong tokens are
 * counted per client address; past the limit the address is refused for the rest of the minute.
 * Tokens never reach a log or a problem.
 */
export class AdminAuth {
  readonly #expected: Buffer | undefined
  readonly #debug: boolean
  readonly #limit: number
  readonly #failures = new Map<string, { count: number; since: number }>()

  constructor(config: Pick<Config, 'adminTokenSha256' | 'debug' | 'authFailuresPerMinute'>) {
    this.#expected = config.adminTokenSha256 ? Buffer.from(config.adminTokenSha256, 'hex') : undefined
    this.#debug = config.debug
    this.#limit = config.authFailuresPerMinute
  }

  get configured(): boolean {
    return this.#expected !== undefined
  }

  /** The admin principal of the request, or throws unauthorized / forbidden / rate_limited. */
  authenticate(headers: FastifyRequest['headers'], address: string | undefined): Principal {
    const key = address ?? 'unknown'
    const failures = this.#failures.get(key)
    const now = Date.now()
    if (failures && now - failures.since < WINDOW_MS && failures.count >= this.#limit) {
      const retryAfter = Math.ceil((failures.since + WINDOW_MS - now) / 1000)
      throw new ProblemError(ERRORS.auth_rate_limited, { retryAfter }, { retry_after: retryAfter })
    }
    if (!this.#expected) {
      if (this.#debug && isLoopback(address)) return { kind: 'admin', id: 'debug-loopback' }
      throw new ProblemError(ERRORS.admin_disabled)
    }
    const token = presentedToken(headers)
    if (token === undefined) throw new ProblemError(ERRORS.unauthorized)
    // The one-shot hash is about twice as fast as createHash() on every admin request.
    const presented = hash('sha256', token, 'buffer')
    if (timingSafeEqual(presented, this.#expected)) return { kind: 'admin', id: 'admin' }
    this.#recordFailure(key, now)
    throw new ProblemError(ERRORS.unauthorized)
  }

  #recordFailure(key: string, now: number): void {
    const current = this.#failures.get(key)
    if (current && now - current.since < WINDOW_MS) {
      current.count++
      return
    }
    if (this.#failures.size >= MAX_TRACKED) {
      // Drop the oldest entries first (Map keeps insertion order) so memory stays bounded.
      for (const [k, v] of this.#failures) {
        if (now - v.since >= WINDOW_MS || this.#failures.size >= MAX_TRACKED) this.#failures.delete(k)
        if (this.#failures.size < MAX_TRACKED) break
      }
    }
    this.#failures.delete(key)
    this.#failures.set(key, { count: 1, since: now })
  }
}
