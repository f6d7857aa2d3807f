import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks'
import Type, { type Static } from 'typebox'

/** Length of one measuring window. */
export const EVENT_LOOP_WINDOW_MS = 10_000
/** A window whose median delay exceeds this means the loop is stalled most of the time. */
export const EVENT_LOOP_STALL_MS = 500

export const EventLoopSnapshot = Type.Object(
  {
    delay_p50_ms: Type.Number({ minimum: 0 }),
    delay_p99_ms: Type.Number({ minimum: 0 }),
    delay_max_ms: Type.Number({ minimum: 0 }),
    window_s: Type.Number({ minimum: 0, description: 'How long the figures were measured over.' }),
    stalled: Type.Boolean({
      description: `The median delay exceeded ${EVENT_LOOP_STALL_MS} ms: most requests waited that long before they ran.`,
    }),
  },
  {
    description:
      'How late the event loop ran its timers (perf_hooks.monitorEventLoopDelay), over the last complete window of about 10 s (the current one until the first completes). Work that holds the loop delays every request.',
  },
)
export type EventLoopSnapshot = Static<typeof EventLoopSnapshot>

/**
 * Event-loop delay of this process, in windows: a long call that holds the loop shows up here
 * (and on /healthz) however it got in. Windows rotate when read, so no timer runs for it.
 */
export class EventLoopDelay {
  readonly #histogram: IntervalHistogram
  #windowStart = performance.now()
  #last: EventLoopSnapshot | undefined

  constructor() {
    this.#histogram = monitorEventLoopDelay({ resolution: 10 })
    this.#histogram.enable()
  }

  snapshot(): EventLoopSnapshot {
    const now = performance.now()
    if (now - this.#windowStart >= EVENT_LOOP_WINDOW_MS) {
      this.#last = this.#summary(now)
      this.#histogram.reset()
      this.#windowStart = now
    }
    return this.#last ?? this.#summary(now)
  }

  close(): void {
    this.#histogram.disable()
  }

  #summary(now: number): EventLoopSnapshot {
    const h = this.#histogram
    // The histogram is in nanoseconds; with no sample yet its percentiles are 0.
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.round(ns / 1e4) / 100 : 0)
    const p50 = h.count > 0 ? ms(h.percentile(50)) : 0
    return {
      delay_p50_ms: p50,
      delay_p99_ms: h.count > 0 ? ms(h.percentile(99)) : 0,
      delay_max_ms: h.count > 0 ? ms(h.max) : 0,
      window_s: Math.round(now - this.#windowStart) / 1000,
      stalled: p50 > EVENT_LOOP_STALL_MS,
    }
  }
}
