import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  DelegateBackoff,
  handleWhen,
  type IRetryBackoffContext,
  retry,
  wrap,
} from 'cockatiel'
import { UpstreamError } from './driver.ts'
import type { StoredConnection } from './model.ts'

/**
 * Retries and the circuit breaker of one connection, with cockatiel. A failed call is sent again
 * only when it is safe to repeat (the tool is idempotent or read-only, or the failure says the call
 * did not happen: `retryable`), after an exponential backoff with full jitter or the upstream's
 * Retry-After if longer, and only while the wait still fits in the call's time. The breaker counts
 * consecutive upstream failures of the connection (not the caller's own cancellations); when open,
 * calls are refused at once until one probe call, after halfOpenAfterMs, succeeds.
 */

export type BreakerState = 'closed' | 'open' | 'half_open'

export interface Attempt {
  /** Whether the tool may be called twice with the same input. */
  retrySafe: boolean
  /** Epoch ms after which no attempt starts. */
  deadline: number
  signal: AbortSignal
  /** Told before each wait: the attempt that failed, the wait, the error. */
  onRetry(attempt: number, delayMs: number, error: UpstreamError): void
}

/** Time kept free at the end of a call's budget: a retry that would start later is not made. */
const MARGIN_MS = 20
/** What a caller refused while the half-open probe is in flight is told to wait. */
const PROBE_WAIT_MS = 1000

export function mayRetry(error: unknown, retrySafe: boolean): error is UpstreamError {
  if (!(error instanceof UpstreamError) || error.timedOut) return false
  return error.retryable || retrySafe
}

export class Resilience {
  readonly #breaker: ReturnType<typeof circuitBreaker>
  readonly #maxAttempts: number
  readonly #initialMs: number
  readonly #maxMs: number
  readonly #halfOpenAfterMs: number
  #state: BreakerState = 'closed'
  /** When the circuit last opened (epoch ms): the half-open probe is allowed halfOpenAfterMs later. */
  #openedAt = 0

  constructor(
    connection: Pick<StoredConnection, 'retry' | 'backoff' | 'breaker'>,
    onState: (s: BreakerState) => void,
  ) {
    this.#maxAttempts = connection.retry.maxAttempts
    this.#initialMs = connection.backoff.initialMs
    this.#maxMs = Math.max(connection.backoff.maxMs, connection.backoff.initialMs)
    this.#halfOpenAfterMs = connection.breaker.halfOpenAfterMs
    this.#breaker = circuitBreaker(
      handleWhen((e) => e instanceof UpstreamError),
      {
        halfOpenAfter: connection.breaker.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(connection.breaker.failures),
      },
    )
    this.#breaker.onStateChange((state) => {
      const next: BreakerState =
        state === CircuitState.Open || state === CircuitState.Isolated
          ? 'open'
          : state === CircuitState.HalfOpen
            ? 'half_open'
            : 'closed'
      if (next === this.#state) return
      if (next === 'open') this.#openedAt = Date.now()
      this.#state = next
      onState(next)
    })
  }

  get state(): BreakerState {
    return this.#state
  }

  /**
   * How long a caller refused by the breaker should wait, ms: until the half-open probe is allowed
   * while open; while that probe is in flight (half-open), a short wait, for its answer decides.
   */
  retryAfterMs(): number {
    if (this.#state === 'open') return Math.max(0, this.#openedAt + this.#halfOpenAfterMs - Date.now())
    return PROBE_WAIT_MS
  }

  /** Runs `fn` under the breaker, retried as the attempt allows. BrokenCircuitError when open. */
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, attempt: Attempt): Promise<T> {
    if (this.#maxAttempts <= 1) return this.#breaker.execute(({ signal }) => fn(signal), attempt.signal)
    const backoff = new DelegateBackoff<IRetryBackoffContext<unknown>>((context) => {
      const error = 'error' in context.result ? context.result.error : undefined
      const exponential = Math.min(this.#maxMs, this.#initialMs * 2 ** (context.attempt - 1))
      // Full jitter: callers that failed together do not come back together.
      let delay = Math.round(Math.random() * exponential)
      if (error instanceof UpstreamError && error.retryAfterMs !== undefined)
        delay = Math.max(delay, error.retryAfterMs)
      return delay
    })
    const policy = retry(
      handleWhen((error) => {
        if (!mayRetry(error, attempt.retrySafe)) return false
        // An upstream that asks for a longer wait than the call has left is not asked again.
        const wait = error.retryAfterMs ?? 0
        return Date.now() + wait + MARGIN_MS < attempt.deadline
      }),
      { maxAttempts: this.#maxAttempts - 1, backoff },
    )
    policy.onRetry((event) => {
      if ('error' in event && event.error instanceof UpstreamError)
        attempt.onRetry(event.attempt, Math.round(event.delay), event.error)
    })
    return wrap(policy, this.#breaker).execute(({ signal }) => fn(signal), attempt.signal)
  }
}

export { BrokenCircuitError }
