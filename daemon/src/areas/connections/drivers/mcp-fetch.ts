import { type ClientRequest, Agent as HttpAgent, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { Readable } from 'node:stream'
import { type EgressCheck, refusalRetryAfter } from '../driver.ts'

/**
 * The `fetch` the mcp driver gives the SDK's Streamable HTTP transport: node:http with a keep-alive
 * agent of the session's own, instead of the global fetch. The calls of an open session do not go
 * through it (mcp-http-transport.ts posts them itself); the SDK's transport uses it for what it still
 * does: the initialize handshake, the server's GET stream, resumption, redirects, the DELETE.
 * It does what the transport asks of fetch and nothing more: method, headers, a string body, an
 * abort signal, the response with its status, headers and streamed body; redirects are returned
 * as they are (the SDK decides whether to follow them).
 */
export interface SessionFetch {
  fetch: typeof fetch
  /**
   * The `Retry-After` of the last 429 or 503 answer, in milliseconds from when it came: the SDK's
   * transport turns such an answer into an error without its headers, and a refused initialize
   * should be tried again no sooner than the server asked.
   */
  refusedRetryAfterMs(): number | undefined
  /** Closes the kept-alive sockets (the session is over). */
  close(): void
}

/** `egress` is asked before every request; a refused one is never sent. */
export function sessionFetch(egress: EgressCheck): SessionFetch {
  let refused: { retryAfterMs: number; at: number } | undefined
  const http = new HttpAgent({ keepAlive: true })
  const https = new HttpsAgent({ keepAlive: true })
  // The transport passes the same signal with every request (aborted when it closes). One
  // listener per signal ends every request still open, instead of one listener per request.
  const open = new WeakMap<AbortSignal, Set<ClientRequest>>()
  const track = (signal: AbortSignal, req: ClientRequest) => {
    let requests = open.get(signal)
    if (!requests) {
      const set = new Set<ClientRequest>()
      requests = set
      open.set(signal, set)
      signal.addEventListener(
        'abort',
        () => {
          for (const r of set)
            r.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
          set.clear()
        },
        { once: true },
      )
    }
    requests.add(req)
    req.once('close', () => requests.delete(req))
  }

  const fetchOverNode = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> =>
    new Promise((resolve, reject) => {
      const url = input instanceof URL ? input : new URL(typeof input === 'string' ? input : input.url)
      const signal = init.signal ?? undefined
      if (signal?.aborted) return reject(signal.reason)
      try {
        egress(url, init.method ?? 'GET')
      } catch (error) {
        return reject(error)
      }
      const headers: Record<string, string> = {}
      new Headers(init.headers).forEach((value, name) => {
        headers[name] = value
      })
      const secure = url.protocol === 'https:'
      const send = secure ? httpsRequest : httpRequest
      const req = send(
        url,
        { method: init.method ?? 'GET', headers, agent: secure ? https : http },
        (res) => {
          const answer = new Headers()
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) answer.set(name, Array.isArray(value) ? value.join(', ') : value)
          }
          const status = res.statusCode ?? 502
          if (status === 429 || status === 503) {
            const retryAfterMs = refusalRetryAfter(status, res.headers['retry-after'])
            refused = retryAfterMs === undefined ? undefined : { retryAfterMs, at: Date.now() }
          }
          const empty = status === 204 || status === 304 || init.method === 'HEAD'
          if (empty) res.resume()
          resolve(
            new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
              status,
              statusText: res.statusMessage ?? '',
              headers: answer,
            }),
          )
        },
      )
      req.once('error', reject)
      if (signal) track(signal, req)
      req.end(typeof init.body === 'string' ? init.body : undefined)
    })

  return {
    fetch: fetchOverNode as typeof fetch,
    refusedRetryAfterMs: () =>
      refused === undefined ? undefined : Math.max(0, refused.retryAfterMs - (Date.now() - refused.at)),
    close: () => {
      http.destroy()
      https.destroy()
    },
  }
}
