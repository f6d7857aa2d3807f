import { ERRORS, type Principal, ProblemError } from '@arw/protocol'
import { type Authenticator, type AuthRequest, presentedToken } from './authenticator.ts'

const WINDOW_MS = 60_000
const MAX_TRACKED = 10_000

/** Who calls when ARW_DEBUG=1 opens admin routes to direct loopback callers without a token. */
export const DEBUG_LOOPBACK_PRINCIPAL: Principal = Object.freeze({ kind: 'admin', id: 'debug-loopback' })

export interface AuthChainOptions {
  authenticators: readonly Authenticator[]
  /** ARW_DEBUG=1: with no authenticator configured, direct loopback callers are admins. */
  debug: boolean
  /** Failed attempts per client per minute before further attempts are refused (429). */
  failuresPerMinute: number
}

/**
 * The authentication port every surface uses (HTTP routes, /mcp, the SSE stream, the debug UI):
 * an ordered chain of authenticators, the first that accepts the request names its principal.
 * A presented credential that none accepts is a failure, counted per real client address (through
 * trusted proxies, so one client behind a proxy cannot lock out the others); past the limit that
 * client is refused for the rest of the minute, right credential or not, which keeps guessing slow.
 */
export class AuthChain {
  readonly #authenticators: readonly Authenticator[]
  readonly #debug: boolean
  readonly #limit: number
  readonly #failures = new Map<string, { count: number; since: number }>()

  constructor(options: AuthChainOptions) {
    this.#authenticators = Object.freeze([...options.authenticators])
    this.#debug = options.debug
    this.#limit = options.failuresPerMinute
  }

  /** Whether any way of authenticating is configured (else admin routes are closed or debug-open). */
  get configured(): boolean {
    return this.#authenticators.some((a) => !a.implicit)
  }

  /** The principal of the request, or throws unauthorized / forbidden / rate_limited. */
  authenticate(request: AuthRequest): Principal | Promise<Principal> {
    const now = Date.now()
    const failures = this.#failures.get(request.client)
    if (failures && now - failures.since < WINDOW_MS && failures.count >= this.#limit) {
      const retryAfter = Math.ceil((failures.since + WINDOW_MS - now) / 1000)
      throw new ProblemError(ERRORS.auth_rate_limited, { retryAfter }, { retry_after: retryAfter })
    }
    return this.#next(request, 0, now)
  }

  #next(request: AuthRequest, from: number, now: number): Principal | Promise<Principal> {
    for (let i = from; i < this.#authenticators.length; i++) {
      const answer = this.#authenticators[i]!.authenticate(request)
      if (answer instanceof Promise)
        return answer.then((principal) => principal ?? this.#next(request, i + 1, now))
      if (answer !== undefined) return answer
    }
    return this.#none(request, now)
  }

  #none(request: AuthRequest, now: number): Principal {
    if (!this.configured) {
      if (this.#debug && request.loopback) return DEBUG_LOOPBACK_PRINCIPAL
      throw new ProblemError(ERRORS.admin_disabled)
    }
    if (presentedToken(request.headers) !== undefined) this.#recordFailure(request.client, now)
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
