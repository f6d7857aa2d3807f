import { ERRORS, ProblemError } from '@arw/protocol'
import type { RegisteredTool } from '@arw/registry'

interface Bucket {
  tokens: number
  updated: number
}

/**
 * Admission control per tool: a token bucket (ratePerSecond, burst) and a concurrency cap
 * (maxConcurrent), both from the tool's declared limits. Refusals are rate_limited problems with a
 * retry hint; nothing queues without bound.
 */
export class Admission {
  #buckets = new Map<string, Bucket>()
  #running = new Map<string, number>()

  /** Admits a call or throws; the returned function must be called once the call ends. */
  admit(tool: RegisteredTool): () => void {
    const { ratePerSecond, burst, maxConcurrent } = tool.limits
    if (ratePerSecond !== undefined) {
      const capacity = burst ?? Math.max(1, Math.ceil(ratePerSecond))
      const now = performance.now()
      const bucket = this.#buckets.get(tool.id) ?? { tokens: capacity, updated: now }
      bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.updated) / 1000) * ratePerSecond)
      bucket.updated = now
      this.#buckets.set(tool.id, bucket)
      if (bucket.tokens < 1) {
        const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerSecond))
        throw new ProblemError(
          ERRORS.rate_limited,
          { scope: tool.id, retryAfter },
          { retry_after: retryAfter },
        )
      }
      bucket.tokens -= 1
    }
    if (maxConcurrent === undefined) return noop
    const running = this.#running.get(tool.id) ?? 0
    if (running >= maxConcurrent) {
      throw new ProblemError(
        ERRORS.concurrency_limited,
        { tool: tool.id, limit: maxConcurrent },
        { retry_after: 1 },
      )
    }
    this.#running.set(tool.id, running + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.#running.set(tool.id, (this.#running.get(tool.id) ?? 1) - 1)
    }
  }
}

function noop(): void {}
