import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Principal } from '@arw/protocol'
import type { Collection, Store } from '@arw/store'
import { isLegacyVersion } from './protocol.ts'

/** What a session id says about its session. */
export interface SessionInfo {
  id: string
  /** The protocol revision negotiated by `initialize`. */
  version: string
  /** Unix seconds. */
  issuedAt: number
  /** The client capabilities declared at initialize that the server acts on (sampling, elicitation, roots). */
  clientCapabilities: Record<string, unknown>
}

const FLAGS: ReadonlyArray<[string, string]> = [
  ['e', 'elicitation'],
  ['r', 'roots'],
  ['s', 'sampling'],
]

/** A session lives this long after `initialize`; then the client is told (404) to initialize again. */
export const SESSION_MAX_AGE_S = 7 * 24 * 3600
const CACHE_LIMIT = 10_000
/**
 * How long a verified id is trusted without asking the store whether it was revoked. DELETE on this
 * process takes effect at once; one on another replica sharing the store, within this long. Asking
 * on every call would cost a store read per MCP request.
 */
export const REVOCATION_RECHECK_MS = 1000
const KEY_ID = 'session-key'

/**
 * Self-validating MCP session ids: `<version>.<issued-at>.<capability flags>.<nonce>.<mac>`, where the MAC is an
 * HMAC-SHA256 over the first four parts and the caller's principal, keyed by a secret kept in the
 * store. Nothing about a session lives only in memory: any replica sharing the store, or this
 * process after a restart, accepts the id; an id that does not verify, expired, or was ended with
 * DELETE is unknown (404), so the client initializes again. Verified ids are cached per process.
 */
export class SessionTokens {
  readonly #key: Buffer
  readonly #revoked: Collection<number>
  readonly #cache = new Map<string, { info: SessionInfo; checkedAt: number }>()
  readonly #now: () => number
  readonly #clockMs: () => number

  private constructor(key: Buffer, revoked: Collection<number>, now: () => number, clockMs: () => number) {
    this.#key = key
    this.#revoked = revoked
    this.#now = now
    this.#clockMs = clockMs
  }

  /** Loads the signing key from the store, creating it once (atomically) when missing. */
  static async open(
    store: Store,
    now: () => number = () => Math.floor(Date.now() / 1000),
    clockMs: () => number = () => performance.now(),
  ): Promise<SessionTokens> {
    // Both collections are opened now, while the store is surely open: the daemon may be closed
    // before the first request awaits this.
    const keys = store.collection<string>({ area: 'mcp', name: 'keys', formerly: { name: 'mcp' } })
    const revoked = store.collection<number>({
      area: 'mcp',
      name: 'revoked-sessions',
      formerly: { name: 'mcp-revoked-sessions' },
    })
    let key = await keys.get(KEY_ID)
    if (key === undefined) {
      // Created only when absent: daemons starting together on one store agree on one key.
      const created = randomBytes(32).toString('base64url')
      key = await keys.put(KEY_ID, created, { ifVersion: 0 }).then(
        () => created,
        async (error: unknown) => {
          const winner = await keys.get(KEY_ID)
          if (winner === undefined) throw error
          return winner
        },
      )
    }
    return new SessionTokens(Buffer.from(key, 'base64url'), revoked, now, clockMs)
  }

  issue(version: string, principal: Principal, clientCapabilities: unknown): string {
    const caps = (clientCapabilities ?? {}) as Record<string, unknown>
    const flags = FLAGS.filter(([, name]) => caps[name] !== undefined && caps[name] !== null)
      .map(([flag]) => flag)
      .join('')
    const body = `${version}.${this.#now()}.${flags || '-'}.${randomBytes(12).toString('base64url')}`
    return `${body}.${this.#mac(body, principal)}`
  }

  /**
   * The session an id stands for, or undefined when it is not (or no longer) valid for this
   * principal. Answers at once (no promise) for an id verified and checked against revocations in
   * the last REVOCATION_RECHECK_MS, which is every call of a busy session.
   */
  verify(id: string, principal: Principal): SessionInfo | undefined | Promise<SessionInfo | undefined> {
    const cacheKey = `${principal.kind}:${principal.id}\n${id}`
    const cached = this.#cache.get(cacheKey)
    if (cached === undefined) return this.#verify(id, principal, cacheKey)
    if (this.#now() - cached.info.issuedAt > SESSION_MAX_AGE_S) {
      this.#cache.delete(cacheKey)
      return undefined
    }
    const now = this.#clockMs()
    if (now - cached.checkedAt < REVOCATION_RECHECK_MS) return cached.info
    return this.#revoked.get(id).then((revoked) => {
      if (revoked !== undefined) {
        this.#cache.delete(cacheKey)
        return undefined
      }
      cached.checkedAt = now
      return cached.info
    })
  }

  async #verify(id: string, principal: Principal, cacheKey: string): Promise<SessionInfo | undefined> {
    if (id.length > 200) return undefined
    const dot = id.lastIndexOf('.')
    if (dot <= 0) return undefined
    const body = id.slice(0, dot)
    const presented = Buffer.from(id.slice(dot + 1), 'base64url')
    const expected = Buffer.from(this.#mac(body, principal), 'base64url')
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return undefined
    const [version, issued, flags] = body.split('.')
    const issuedAt = Number(issued)
    if (!version || !isLegacyVersion(version) || !Number.isInteger(issuedAt) || flags === undefined)
      return undefined
    if (this.#now() - issuedAt > SESSION_MAX_AGE_S || (await this.#revoked.get(id)) !== undefined)
      return undefined
    const clientCapabilities: Record<string, unknown> = {}
    for (const [flag, name] of FLAGS) if (flags.includes(flag)) clientCapabilities[name] = {}
    const info: SessionInfo = { id, version, issuedAt, clientCapabilities }
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value!)
    this.#cache.set(cacheKey, { info, checkedAt: this.#clockMs() })
    return info
  }

  /** Ends a session for every replica (DELETE /mcp). */
  async revoke(id: string): Promise<void> {
    for (const key of this.#cache.keys()) if (key.endsWith(`\n${id}`)) this.#cache.delete(key)
    // Kept as long as the id could still verify; then the store deletes it.
    await this.#revoked.put(id, this.#now(), { ttlMs: SESSION_MAX_AGE_S * 1000 })
  }

  #mac(body: string, principal: Principal): string {
    return createHmac('sha256', this.#key)
      .update(`${principal.kind}:${principal.id}\n${body}`)
      .digest('base64url')
  }
}
