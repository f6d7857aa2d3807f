import { createHash } from 'node:crypto'
import { ERRORS, type Principal, ProblemError } from '@arw/protocol'
import type { Collection, Store, Write } from '@arw/store'

/** The first answer given under an Idempotency-Key, replayed verbatim to retries. */
export interface StoredAnswer {
  fingerprint: string
  status: number
  body: unknown
  created: number
}

const KEY = /^[\x21-\x7e]{1,255}$/

/**
 * Idempotency keys, scoped to the caller: a retry with the same key and the same request gets the
 * first answer instead of running twice; the same key with a different request is a conflict.
 * Concurrent duplicates wait for the first to finish. Answers are written in the same commit as
 * the call record, so a replay never exists without its record, nor the reverse; they expire (and
 * are deleted) after the TTL.
 */
export class Idempotency {
  readonly #collection: Collection<StoredAnswer>
  readonly #ttlMs: number
  readonly #inFlight = new Map<string, { fingerprint: string; done: Promise<void> }>()

  constructor(store: Store, ttlMs: number) {
    this.#collection = store.collection<StoredAnswer>({
      area: 'pipeline',
      name: 'idempotency',
      // Before the storage port: `<principal>\0<key>` keys without expiry (NUL is no longer a key character).
      formerly: {
        name: 'idempotency',
        convert: (key, value) => {
          const answer = value as StoredAnswer
          const expiresAt = answer.created + ttlMs
          return expiresAt > Date.now()
            ? { key: key.replace('\0', '\n'), value: answer, expiresAt }
            : undefined
        },
      },
    })
    this.#ttlMs = ttlMs
  }

  static validateKey(key: string): void {
    if (!KEY.test(key)) throw new ProblemError(ERRORS.idempotency_key_invalid)
  }

  scope(principal: Principal, key: string): string {
    return `${principal.kind}:${principal.id}\n${key}`
  }

  static fingerprint(parts: unknown): string {
    return createHash('sha256').update(JSON.stringify(parts)).digest('base64url')
  }

  /** The stored answer for this scope, after waiting out a concurrent first call with the same key. */
  async lookup(scope: string, fingerprint: string, key: string): Promise<StoredAnswer | undefined> {
    for (;;) {
      const running = this.#inFlight.get(scope)
      if (!running) break
      if (running.fingerprint !== fingerprint) throw new ProblemError(ERRORS.idempotency_conflict, { key })
      await running.done
    }
    const stored = await this.#collection.get(scope)
    if (!stored) return undefined
    if (Date.now() - stored.created > this.#ttlMs) return undefined
    if (stored.fingerprint !== fingerprint) throw new ProblemError(ERRORS.idempotency_conflict, { key })
    return stored
  }

  /** Marks the scope as running; the returned function ends the mark. */
  begin(scope: string, fingerprint: string): () => void {
    let end!: () => void
    const done = new Promise<void>((resolve) => {
      end = resolve
    })
    this.#inFlight.set(scope, { fingerprint, done })
    return () => {
      this.#inFlight.delete(scope)
      end()
    }
  }

  /** The write of an answer, for journal.append, so it commits with the call's record. */
  write(scope: string, answer: StoredAnswer): Write {
    return this.#collection.putOp(scope, answer, { ttlMs: this.#ttlMs })
  }
}
