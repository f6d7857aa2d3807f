import type { ServerResponse } from 'node:http'
import { META, type RequestId } from './protocol.ts'
import { sseFrame } from './streams.ts'

/** One open stream that wants list-change notifications. */
export interface Listener {
  res: ServerResponse
  tools: boolean
  resources: boolean
  /** 2026-07-28 `subscriptions/listen`: the listen request's id, stamped on every notification. */
  subscriptionId?: RequestId
}

/**
 * The open notification streams of this process: 2025-era GET /mcp streams and 2026-07-28
 * `subscriptions/listen` streams. When the registry changes, each gets `tools/list_changed` (and
 * `resources/list_changed`, since tool schemas are resources) if it asked for it. Heartbeat comments
 * keep proxies from closing idle streams.
 */
export class ListenerSet {
  readonly #listeners = new Set<Listener>()
  readonly #heartbeat: NodeJS.Timeout

  constructor(heartbeatMs: number) {
    this.#heartbeat = setInterval(() => {
      for (const l of this.#listeners) l.res.write(': keepalive\n\n')
    }, heartbeatMs)
    this.#heartbeat.unref()
  }

  get size(): number {
    return this.#listeners.size
  }

  add(listener: Listener): void {
    this.#listeners.add(listener)
    listener.res.once('close', () => this.#listeners.delete(listener))
  }

  changed(): void {
    for (const l of this.#listeners) {
      if (l.tools) l.res.write(sseFrame(notification('notifications/tools/list_changed', l.subscriptionId)))
      if (l.resources)
        l.res.write(sseFrame(notification('notifications/resources/list_changed', l.subscriptionId)))
    }
  }

  close(): void {
    clearInterval(this.#heartbeat)
    for (const l of this.#listeners) l.res.end()
    this.#listeners.clear()
  }
}

export function notification(
  method: string,
  subscriptionId: RequestId | undefined,
  params: Record<string, unknown> = {},
): object {
  if (subscriptionId === undefined) return { jsonrpc: '2.0', method, params }
  return { jsonrpc: '2.0', method, params: { ...params, _meta: { [META.subscriptionId]: subscriptionId } } }
}
