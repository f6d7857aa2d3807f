import type { Principal, TraceContext } from '@arw/protocol'
import type { LogLevel } from './protocol.ts'

/**
 * The channel back to the client for one request being served: HTTP (a response that can turn
 * into an SSE stream) or stdio (the shared output). Transports implement it; the dispatcher only
 * talks to this.
 */
export interface Exchange {
  /**
   * Sends a message tied to the request being served (progress, log, a server→client request).
   * Returns false when the transport cannot carry it (e.g. a client that accepts only JSON).
   */
  send(message: object): boolean
  /** Fires when the client went away (connection closed): the call is abandoned. */
  readonly signal: AbortSignal | undefined
  /** Ends the stream early while the call goes on (SEP-1699); optional. */
  closeStream?(): void
}

/** Everything the dispatcher needs to know about who asks and how. */
export interface RequestContext {
  principal: Principal
  trace: TraceContext
  /** The negotiated protocol revision of this request. */
  version: string
  /** True for 2026-07-28+ requests (per-request envelope, no session). */
  modern: boolean
  /**
   * Scope of JSON-RPC ids: the session id over HTTP, a per-connection id on stdio. In-flight calls
   * and server→client requests are keyed by it, so two clients that reuse an id never meet.
   * Undefined for modern HTTP requests, which are cancelled by closing their stream.
   */
  scope: string | undefined
  clientCapabilities: Record<string, unknown> | undefined
  /** Least severe level the client wants as `notifications/message`; undefined sends none. */
  logLevel: LogLevel | undefined
  exchange: Exchange
}
