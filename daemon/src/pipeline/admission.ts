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

/**
 * A key a call is admitted under, with the call's priority in that key's queue when it is not the
 * default 0 (higher is served first). An area that owns a key ranks its callers (a connection's QoS).
 */
export type AdmissionKey = string | { readonly key: string; readonly priority: number }

/**
 * A waiter passed over this many times by later calls of higher priority is served next, whatever
 * waits behind it: priorities order the queue, they never starve a caller for good.
 */
export const MAX_PASSED = 8

interface Waiter {
  readonly priority: number
  /** How often a later waiter of higher priority was served before this one. */
  passed: number
  grant(): void
  /** Leaves the queue refused (a waiter of higher priority took its place in a full queue). */
  refuse(): void
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
 *
 * A queue serves its waiters by priority, first come first served within one priority; a waiter
 * passed over MAX_PASSED times is served next. A call that finds the queue full takes the place of
 * the last-queued waiter of a lower priority, which is refused instead; one that finds no such
 * waiter is refused itself. So the queue never grows past its bound.
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

  /** How many calls wait in the queue of a key now. */
  queued(key: string): number {
    return this.#gates.get(key)?.queue.length ?? 0
  }

  /**
   * Admits a call under every key, or throws `rate_limited`. Answers the release directly when no
   * key had to wait (the common case, without a promise), or a promise of it when one queued.
   */
  admit(
    keys: readonly AdmissionKey[],
    wait?: { signal?: AbortSignal; deadline?: number },
  ): Release | Promise<Release> {
    const gates: Array<[string, Gate, number]> = []
    for (const entry of keys) {
      const key = typeof entry === 'string' ? entry : entry.key
      const gate = this.#gates.get(key)
      if (gate) gates.push([key, gate, typeof entry === 'string' ? 0 : entry.priority])
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
    gates: ReadonlyArray<[string, Gate, number]>,
    from: number,
    held: Gate[],
    wait: { signal?: AbortSignal; deadline?: number } | undefined,
  ): Release | Promise<Release> {
    const release = () => {
      for (const gate of held.splice(0)) this.#free(gate)
    }
    for (let i = from; i < gates.length; i++) {
      const [key, gate, priority] = gates[i]!
      const max = gate.limits.maxConcurrent
      if (max === undefined) continue
      if (gate.running < max) {
        gate.running++
        held.push(gate)
        continue
      }
      if (gate.queue.length >= (gate.limits.maxQueue ?? 0) && !makeRoom(gate.queue, priority)) {
        release()
        throw concurrencyProblem(key, max)
      }
      return this.#queue(gate, key, max, priority, wait).then(
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
    priority: number,
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
        priority,
        passed: 0,
        grant: () => {
          cleanup()
          gate.running++
          resolve()
        },
        refuse: () => leave(concurrencyProblem(key, max)),
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
    const next = nextWaiter(gate.queue)
    if (next) next.grant()
  }
}

/**
 * Takes the next waiter out of a queue kept in arrival order: the first of the highest priority,
 * unless the oldest waiter was passed over MAX_PASSED times (it is passed whenever anyone is, so
 * no other waiter was passed more often).
 */
function nextWaiter(queue: Waiter[]): Waiter | undefined {
  if (queue.length === 0) return undefined
  let at = 0
  if (queue[0]!.passed < MAX_PASSED) {
    for (let i = 1; i < queue.length; i++) if (queue[i]!.priority > queue[at]!.priority) at = i
  }
  for (let i = 0; i < at; i++) queue[i]!.passed++
  return queue.splice(at, 1)[0]
}

/**
 * Frees a place in a full queue for a call of `priority`: refuses the last-queued waiter of the
 * lowest priority below it, except one passed over MAX_PASSED times (it goes next). False when no
 * waiter ranks below the call.
 */
function makeRoom(queue: Waiter[], priority: number): boolean {
  let at = -1
  for (let i = 0; i < queue.length; i++) {
    const waiter = queue[i]!
    if (waiter.passed >= MAX_PASSED || waiter.priority >= priority) continue
    if (at === -1 || waiter.priority <= queue[at]!.priority) at = i
  }
  if (at === -1) return false
  // refuse() takes it out of the queue (as a caller that goes away does).
  queue[at]!.refuse()
  return true
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
