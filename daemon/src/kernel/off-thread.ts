import { availableParallelism } from 'node:os'
import { ERRORS, ProblemError } from '@arw/protocol'
import type { ToolContext } from '@arw/registry'
import { Piscina } from 'piscina'

/** Worker threads at most: one core stays free for the event loop (and at least one worker). */
export const OFF_THREAD_MAX_THREADS = Math.max(1, Math.min(4, availableParallelism() - 1))
/** Tasks that may wait for a worker before further ones are refused (503 unavailable). */
export const OFF_THREAD_MAX_QUEUE = 64
/** Heap a worker may use before it is stopped (its call fails, the pool starts a fresh worker). */
export const OFF_THREAD_HEAP_MB = 256

let pool: Piscina | undefined

function sharedPool(): Piscina {
  pool ??= new Piscina({
    filename: new URL('./off-thread-worker.mjs', import.meta.url).href,
    minThreads: 0,
    maxThreads: OFF_THREAD_MAX_THREADS,
    maxQueue: OFF_THREAD_MAX_QUEUE,
    // Idle workers go away, so a finished `arw mcp` or test process is not kept alive by them.
    idleTimeout: 2000,
    resourceLimits: { maxOldGenerationSizeMb: OFF_THREAD_HEAP_MB, maxYoungGenerationSizeMb: 32 },
  })
  return pool
}

/**
 * A tool handler that runs `name` (an exported function of the module at `module`, taking the
 * call's input and returning its output or a promise of it) on a worker thread of one bounded
 * pool, so CPU-heavy work never holds the event loop that every other call and `/healthz` share.
 * When the call's signal aborts (its timeout, a cancellation, a caller gone), the task is removed
 * from the queue or its worker is terminated: a timeout really stops the work. Each worker's
 * heap is capped. Use it in the declaration:
 * `handler: offThread(new URL('./text-work.ts', import.meta.url), 'stats')`.
 * The task module must not import the daemon: it runs in a thread of its own.
 */
export function offThread<I, O>(
  module: URL,
  name: string,
): (input: I, ctx: Pick<ToolContext, 'signal' | 'tool'>) => Promise<O> {
  const href = module.href
  return async (input, ctx) => {
    const signal = ctx.signal
    try {
      return (await sharedPool().run({ module: href, name, input }, { signal })) as O
    } catch (error) {
      // Aborted: the pipeline already answers with the reason (timeout, cancelled).
      if (signal.aborted) throw signal.reason ?? error
      const message = error instanceof Error ? error.message : String(error)
      if (/queue is at limit/i.test(message))
        throw new ProblemError(ERRORS.unavailable, { reason: 'every worker thread is busy; retry shortly' })
      if ((error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY')
        throw new ProblemError(ERRORS.unavailable, {
          reason: `${ctx.tool} exceeded the worker memory limit of ${OFF_THREAD_HEAP_MB} MB`,
        })
      throw error
    }
  }
}

/** Stops the pool's workers (tests, embedders that unload the daemon). */
export async function closeOffThreadPool(): Promise<void> {
  const current = pool
  pool = undefined
  await current?.destroy()
}
