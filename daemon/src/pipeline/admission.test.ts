import { ProblemError } from '@arw/protocol'
import { describe, expect, it } from 'vitest'
import { Admission, type AdmissionKey, MAX_PASSED, type Release } from './admission.ts'

// The queue of one key with a concurrency cap of 1: which waiter gets the slot when it frees.

const KEY = 'connection:c'

function key(priority: number): AdmissionKey {
  return priority === 0 ? KEY : { key: KEY, priority }
}

/** Queues a call under KEY; `order` gets its name when it is admitted, and it runs until released. */
function queue(admission: Admission, name: string, priority: number, order: string[]) {
  const admitted = admission.admit([key(priority)]) as Promise<Release>
  return admitted.then((release) => {
    order.push(name)
    return release
  })
}

describe('admission queue priorities', () => {
  it('serves waiters highest priority first, first come first served within one priority', async () => {
    const admission = new Admission()
    admission.configure(KEY, { maxConcurrent: 1, maxQueue: 10 })
    const first = admission.admit([KEY]) as Release
    const order: string[] = []
    // Each call gives its slot back as soon as it has it: the next waiter is picked then.
    const waiting = [
      ['low-1', -1],
      ['low-2', -1],
      ['high-1', 1],
      ['normal-1', 0],
      ['high-2', 1],
    ].map(([name, priority]) =>
      queue(admission, name as string, priority as number, order).then((release) => release()),
    )
    first()
    await Promise.all(waiting)
    expect(order).toEqual(['high-1', 'high-2', 'normal-1', 'low-1', 'low-2'])
  })

  it(`never starves a waiter: one passed over ${MAX_PASSED} times by later higher-priority calls goes next`, async () => {
    const admission = new Admission()
    admission.configure(KEY, { maxConcurrent: 1, maxQueue: 100 })
    let running = admission.admit([KEY]) as Release
    const order: string[] = []
    const low = queue(admission, 'low', -1, order)
    // A steady stream of high-priority calls: two always wait beside the low one.
    let next = 0
    const highs = new Map<string, Promise<Release>>()
    const addHigh = () => {
      const name = `high-${next++}`
      highs.set(name, queue(admission, name, 1, order))
    }
    addHigh()
    addHigh()
    while (!order.includes('low')) {
      running()
      await new Promise((r) => setImmediate(r))
      const admitted = order.at(-1)!
      running = await (admitted === 'low' ? low : highs.get(admitted)!)
      addHigh()
    }
    expect(order.indexOf('low')).toBe(MAX_PASSED)
    expect(order.slice(0, MAX_PASSED).every((n) => n.startsWith('high-'))).toBe(true)
  })

  it('keeps a full queue bounded: a higher-priority call takes the place of the last lower one, which is refused', async () => {
    const admission = new Admission()
    admission.configure(KEY, { maxConcurrent: 1, maxQueue: 2 })
    const first = admission.admit([KEY]) as Release
    const order: string[] = []
    const refusal = (waiter: Promise<Release>) =>
      waiter.then(
        () => undefined,
        (error: unknown) => error as ProblemError,
      )
    const lowA = refusal(queue(admission, 'low-a', -1, order))
    const lowB = refusal(queue(admission, 'low-b', -1, order))
    const high = queue(admission, 'high', 1, order)
    expect((await lowB)?.entry.code).toBe('rate_limited')
    // A call that ranks no higher than any waiter finds no place: refused itself, at once.
    expect(() => admission.admit([key(-1)])).toThrow(ProblemError)
    // A normal one takes the place of the remaining low one.
    const normal = queue(admission, 'normal', 0, order)
    expect((await lowA)?.entry.code).toBe('rate_limited')
    first()
    ;(await high)()
    ;(await normal)()
    expect(order).toEqual(['high', 'normal'])
  })
})
