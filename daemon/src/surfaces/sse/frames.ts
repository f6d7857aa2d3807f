import { eventsGap, eventsHello } from '../../events.ts'
import type { GapInfo } from './hub.ts'

/** The stream notices (no id, never journaled) every SSE stream may carry. */
export function helloFrame(
  info: { after: number; replayFrom: number | null; replayTo: number | null; head: number },
  prefixes: readonly string[],
): string {
  const payload = {
    after: info.after,
    replay_from: info.replayFrom,
    replay_to: info.replayTo,
    replayed: info.replayTo === null || info.replayFrom === null ? 0 : info.replayTo - info.replayFrom + 1,
    head: info.head,
    prefixes: [...prefixes],
  }
  return `event: ${eventsHello.kind}\ndata: ${JSON.stringify({ time: new Date().toISOString(), kind: eventsHello.kind, version: eventsHello.version, severity: eventsHello.severity ?? 'info', payload })}\n\n`
}

export function gapFrame(info: GapInfo): string {
  return `event: ${eventsGap.kind}\ndata: ${JSON.stringify({ time: new Date().toISOString(), kind: eventsGap.kind, version: eventsGap.version, severity: eventsGap.severity ?? 'warning', payload: info })}\n\n`
}
