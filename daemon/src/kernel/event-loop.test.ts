import { describe, expect, it } from 'vitest'
import { EVENT_LOOP_STALL_MS, EventLoopDelay } from './event-loop.ts'

const hold = (ms: number) => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    // A synchronous handler that never yields.
  }
}

describe('EventLoopDelay', () => {
  it('reports a loop held by synchronous work as stalled, and a free one as not', async () => {
    const free = new EventLoopDelay()
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 15))
    expect(free.snapshot().stalled).toBe(false)
    free.close()

    const held = new EventLoopDelay()
    // Every turn of the loop is held longer than the stall threshold.
    for (let i = 0; i < 6; i++) {
      hold(EVENT_LOOP_STALL_MS + 150)
      await new Promise((r) => setTimeout(r, 0))
    }
    const snapshot = held.snapshot()
    held.close()
    expect(snapshot.stalled).toBe(true)
    expect(snapshot.delay_p50_ms).toBeGreaterThan(EVENT_LOOP_STALL_MS)
  })
})
