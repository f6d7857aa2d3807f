// Tasks for off-thread.test.ts, run on a worker thread.

/** Holds its thread's CPU for `ms` (a handler that never yields). */
export function spin({ ms }: { ms: number }): { spun: number } {
  const until = Date.now() + ms
  let spun = 0
  while (Date.now() < until) spun++
  return { spun }
}

/** Allocates until the worker's heap limit stops it. */
export function hog(): { held: number } {
  const held: unknown[] = []
  for (;;) held.push(new Array(1_000_000).fill(held.length))
}

export function double({ n }: { n: number }): { n: number } {
  return { n: n * 2 }
}
