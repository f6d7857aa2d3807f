import { ERRORS, ProblemError } from '@arw/protocol'

/** Limits on one admission key (a tool, a connection, a principal, a tenant). */
export interface Limits {
  /** Sustained calls per second, with `burst` as bucket size. Over it: refused at once. */
  ratePerSecond?: number
  burst?: number
  /** At most this many calls run at once under the key. */
  maxConcurrent?: number
  /** Calls that may wait for a free slot when `maxConcurrent` is reached (default 0: refuse at once). */
  maxQueue?: number
}

interface Waiter {
  grant(): void
}

interface Gate {
  limits: Limits
  tokens: number
  updated: number
  running: number
  queue: Waiter[]
}

/** Releases what a call was admitted with; call it once the call ends. Idempotent. */
export type Release = () => void

const noop: Release = () => {}

/**
 * Admission control by key. Each key may have a token bucket (rate), a concurrency cap and a
 * bounded queue; a call is admitted under all of its keys or none. Keys without limits cost one
 * map lookup. When a bucket is empty or a cap and its queue are full, the call is refused with
 * `rate_limited` and a retry hint; nothing waits without bound (a queued call gives up when its
 * caller goes away or its deadline passes). Areas set the limits of the keys they own.
 */
export class Admission {
  readonly #gates = new Map<string, Gate>()
  readonly #refusals = new Set<(key: string) => void>()

  /** Tells `listener` the key of every refused call (areas count refusals of the keys they own). */
  onRefused(listener: (key: string) => void): () => void {
    this.#refusals.add(listener)
    return () => this.#refusals.delete(listener)
  }

  /** Sets (or, with undefined, removes) the limits of a key. Calls running under it keep their slot. */
  configure(key: string, limits: Limits | undefined): void {
    if (limits === undefined || Object.values(limits).every((v) => v === undefined)) {
      this.#gates.delete(key)
      return
    }
    const existing = this.#gates.get(key)
    if (existing) {
      existing.limits = { ...limits }
      return
    }
    const capacity = bucketSize(limits)
    this.#gates.set(key, {
      limits: { ...limits },
      tokens: capacity,
      updated: performance.now(),
      running: 0,
      queue: [],
    })
  }

  /** Whether any key has limits (when none has, a call needs no admission at all). */
  get active(): boolean {
    return this.#gates.size > 0
  }

  limits(key: string): Limits | undefined {
    return this.#gates.get(key)?.limits
  }

  /**
   * Admits a call under every key, or throws `rate_limited`. Answers the release directly when no
   * key had to wait (the common case, without a promise), or a promise of it when one queued.
   */
  admit(
    keys: readonly string[],
    wait?: { signal?: AbortSignal; deadline?: number },
  ): Release | Promise<Release> {
    const gates: Array<[string, Gate]> = []
    for (const key of keys) {
      const gate = this.#gates.get(key)
      if (gate) gates.push([key, gate])
    }
    if (gates.length === 0) return noop
    // Rates first, for every key: a refusal must not leave tokens or slots taken under other keys.
    const now = performance.now()
    try {
      for (const [key, gate] of gates) refill(gate, now, key)
    } catch (error) {
      return this.#refused(error)
    }
    const charged = gates.filter(([, gate]) => gate.limits.ratePerSecond !== undefined).map(([, g]) => g)
    for (const gate of charged) gate.tokens -= 1
    // A call refused for want of a slot did not run: it gives its tokens back.
    const refund = (error: unknown): never => {
      for (const gate of charged) gate.tokens += 1
      return this.#refused(error)
    }
    try {
      const admitted = this.#take(gates, 0, [], wait)
      return admitted instanceof Promise ? admitted.catch(refund) : admitted
    } catch (error) {
      return refund(error)
    }
  }

  /** Tells the refusal listeners which key refused the call, then throws its problem. */
  #refused(error: unknown): never {
    if (this.#refusals.size > 0 && error instanceof ProblemError) {
      const key = error.params['scope'] ?? error.params['tool']
      if (typeof key === 'string') for (const listener of this.#refusals) listener(key)
    }
    throw error
  }

  /**
   * Takes the concurrency slots of `gates[from..]`, adding them to `held`; waits in a key's queue
   * when it is full and the queue has room. On refusal every slot taken so far is given back.
   */
  #take(
    gates: ReadonlyArray<[string, Gate]>,
    from: number,
    held: Gate[],
    wait: { signal?: AbortSignal; deadline?: number } | undefined,
  ): Release | Promise<Release> {
    const release = () => {
      for (const gate of held.splice(0)) this.#free(gate)
    }
    for (let i = from; i < gates.length; i++) {
      const [key, gate] = gates[i]!
      const max = gate.limits.maxConcurrent
      if (max === undefined) continue
      if (gate.running < max) {
        gate.running++
        held.push(gate)
        continue
      }
      if (gate.queue.length >= (gate.limits.maxQueue ?? 0)) {
        release()
        throw concurrencyProblem(key, max)
      }
      return this.#queue(gate, key, max, wait).then(
        () => {
          held.push(gate)
          return this.#take(gates, i + 1, held, wait)
        },
        (error: unknown) => {
          release()
          throw error
        },
      )
    }
    return once(release)
  }

  #queue(
    gate: Gate,
    key: string,
    max: number,
    wait?: { signal?: AbortSignal; deadline?: number },
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const signal = wait?.signal
      const leave = (error: Error) => {
        const at = gate.queue.indexOf(waiter)
        if (at !== -1) gate.queue.splice(at, 1)
        cleanup()
        reject(error)
      }
      const onAbort = () => leave(concurrencyProblem(key, max))
      const cleanup = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      const waiter: Waiter = {
        grant: () => {
          cleanup()
          gate.running++
          resolve()
        },
      }
      if (signal?.aborted) return reject(concurrencyProblem(key, max))
      signal?.addEventListener('abort', onAbort, { once: true })
      if (wait?.deadline !== undefined) {
        timer = setTimeout(() => leave(concurrencyProblem(key, max)), Math.max(0, wait.deadline - Date.now()))
      }
      gate.queue.push(waiter)
    })
  }

  #free(gate: Gate): void {
    gate.running--
    const next = gate.queue.shift()
    if (next) next.grant()
  }
}

function bucketSize(limits: Limits): number {
  return limits.burst ?? Math.max(1, Math.ceil(limits.ratePerSecond ?? 1))
}

/** Refills the bucket; throws when it holds less than one token. */
function refill(gate: Gate, now: number, key: string): void {
  const rate = gate.limits.ratePerSecond
  if (rate === undefined) return
  const capacity = bucketSize(gate.limits)
  gate.tokens = Math.min(capacity, gate.tokens + ((now - gate.updated) / 1000) * rate)
  gate.updated = now
  if (gate.tokens < 1) {
    const retryAfter = Math.max(1, Math.ceil((1 - gate.tokens) / rate))
    throw new ProblemError(ERRORS.rate_limited, { scope: key, retryAfter }, { retry_after: retryAfter })
  }
}

function concurrencyProblem(key: string, limit: number): ProblemError {
  return new ProblemError(ERRORS.concurrency_limited, { tool: key, limit }, { retry_after: 1 })
}

function once(fn: () => void): Release {
  let done = false
  return () => {
    if (done) return
    done = true
    fn()
  }
}
