import type { HeaderDoc } from '@arw/spec'
import Type from 'typebox'

/** The headers of every SSE answer (journal events, MCP streams), as documented. */
export const STREAM_HEADERS: Record<string, HeaderDoc> = {
  'cache-control': {
    description: '`no-cache, no-transform`: no cache or proxy may store or re-encode the stream.',
    schema: Type.String(),
  },
  'x-accel-buffering': {
    description: '`no`: tells nginx-style proxies to pass each event on at once.',
    schema: Type.String(),
  },
}
