/**
 * Cancellation of one MCP call (a `notifications/cancelled`, or the client going away), without
 * an AbortController per call: the pipeline asks to watch it only when the tool reads its signal,
 * and most calls finish without anyone watching.
 */
export class CallCancel {
  #aborted = false
  readonly #watchers = new Set<() => void>()

  get aborted(): boolean {
    return this.#aborted
  }

  cancel(): void {
    if (this.#aborted) return
    this.#aborted = true
    for (const watcher of this.#watchers) watcher()
    this.#watchers.clear()
  }

  /** Calls `fn` once when the call is cancelled (at once if it already is); returns the unwatch. */
  watch(fn: () => void): () => void {
    if (this.#aborted) {
      fn()
      return () => {}
    }
    this.#watchers.add(fn)
    return () => {
      this.#watchers.delete(fn)
    }
  }

  /** Also cancels when `signal` aborts (the transport's "client went away"); returns the unwatch. */
  follow(signal: AbortSignal | undefined): () => void {
    if (!signal) return () => {}
    if (signal.aborted) {
      this.cancel()
      return () => {}
    }
    const onAbort = () => this.cancel()
    signal.addEventListener('abort', onAbort, { once: true })
    return () => signal.removeEventListener('abort', onAbort)
  }
}
