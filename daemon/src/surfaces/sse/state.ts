import type { Services } from '../../services.ts'
import { gapFrame } from './frames.ts'
import { EventHub } from './hub.ts'

/** The SSE hub of a daemon: made on the first stream, closed with the app (closeSse). */
const hubs = new WeakMap<Services, EventHub>()

export function sseHub(services: Services): EventHub {
  let hub = hubs.get(services)
  if (!hub) {
    hub = new EventHub(services.journal, {
      maxQueue: services.config.sseMaxQueue,
      heartbeatMs: services.config.sseHeartbeatMs,
      gapFrame,
    })
    hubs.set(services, hub)
  }
  return hub
}

/** Ends every open stream, so the app can close (call from a preClose hook). */
export function closeSse(services: Services): void {
  hubs.get(services)?.close()
}
