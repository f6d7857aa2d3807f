import { describe, expect, it } from 'vitest'
import { formatTraceparent, parseTraceparent, traceFrom } from './trace.ts'

describe('W3C trace context', () => {
  it('continues a valid traceparent with a new span of our own', () => {
    const t = traceFrom('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
    expect(t.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736')
    expect(t.parentSpanId).toBe('00f067aa0ba902b7')
    expect(t.spanId).toMatch(/^[0-9a-f]{16}$/)
    expect(t.spanId).not.toBe(t.parentSpanId)
    expect(formatTraceparent(t)).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${t.spanId}-01`)
  })

  it.each([
    'garbage',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
  ])('rejects %s and starts a new trace', (header) => {
    expect(parseTraceparent(header)).toBeUndefined()
    const t = traceFrom(header)
    expect(t.traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(t.parentSpanId).toBeUndefined()
  })

  it('makes distinct ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => traceFrom(undefined).traceId))
    expect(ids.size).toBe(1000)
  })
})
