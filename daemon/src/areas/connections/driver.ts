import type { TraceContext } from '@arw/protocol'
import type { ProgressUpdate, ToolHints } from '@arw/registry'
import type { Logger } from 'pino'

/**
 * The seam between the connections area and one kind of upstream service (MCP, OpenAPI, WebSocket,
 * local module). A driver knows how to reach its kind of service and how to list and call its tools;
 * everything else (what is stored, the registry, admission, retries, the breaker, health, secrets,
 * events) is the area's and is the same for every kind. Drivers never see the store or the daemon.
 */

/** The kinds of connector the daemon ships with (a registered custom connector names one of them). */
export type ConnectorKind = 'mcp' | 'http' | 'ws' | 'local'

/** A JSON Schema object as an upstream declares it; validated and compiled before it is used. */
export type JsonSchema = Record<string, unknown>

/** One tool an upstream offers, as the driver read it. The area names, versions and registers it. */
export interface UpstreamTool {
  /** The upstream's own name for it (sent back in `call`); any string the upstream uses. */
  name: string
  title?: string
  description?: string
  /** Input schema (an object schema); a malformed one is reported by the area, not imported. */
  input: JsonSchema
  /** Output schema when the upstream declares one; without it the area accepts any object. */
  output?: JsonSchema
  hints?: ToolHints
  /** Whether a failed call may be sent again (the area retries only then). */
  retrySafe?: boolean
}

/** What one upstream call gets besides its input. */
export interface UpstreamCall {
  /** Aborted when the caller cancels or the call times out; drivers pass it upstream (MCP cancel). */
  signal: AbortSignal
  /** Milliseconds left of the call's own timeout. */
  timeoutMs: number
  /** Forwards upstream progress to the caller. */
  progress(update: ProgressUpdate): void
  /** The call's W3C trace, for drivers that send it upstream (`traceparent`); optional. */
  trace?: TraceContext
}

/** An open session with one upstream, made by `ConnectorDriver.open`. */
export interface UpstreamSession {
  /** The upstream's tools now. */
  tools(): Promise<UpstreamTool[]>
  /** Calls one tool; resolves with its structured result, or throws `UpstreamError`. */
  call(tool: string, input: Record<string, unknown>, call: UpstreamCall): Promise<Record<string, unknown>>
  /** A cheap round trip that proves the upstream answers (health tests time it). */
  ping(signal: AbortSignal): Promise<void>
  /**
   * What the upstream offered that the driver could not turn into a tool (one line each, e.g. an
   * OpenAPI operation with a malformed schema); shown with the link's health. Optional.
   */
  skipped?(): string[]
  /** Called when the upstream says its tool list changed (MCP `tools/list_changed`); optional. */
  onToolsChanged?(listener: () => void): () => void
  /** Called once when the session dies by itself (process exited, socket closed). */
  onClosed?(listener: (reason: string) => void): () => void
  close(): Promise<void>
}

/** How `open` is told what to reach. */
export interface OpenOptions {
  /** The connection's target, already checked by `checkTarget`. */
  target: Record<string, unknown>
  /** The bound secret in clear (never logged, never stored by a driver), when one is bound. */
  secret: string | undefined
  signal: AbortSignal
  logger: Logger
  /**
   * Asked before every request the session sends out (each HTTP request, each redirect hop, a
   * WebSocket opening): throws `egress_denied` when the egress policy refuses it, and then the
   * driver sends nothing. Stdio and local sessions send nothing over the network.
   */
  egress: EgressCheck
}

/** The egress gate as a driver sees it: the connection (and its network scope) already bound. */
export type EgressCheck = (url: URL, method: string) => void

export interface ConnectorDriver {
  kind: ConnectorKind
  /** Human name, e.g. "MCP server". */
  name: string
  /** What connections of this kind can do (e.g. `tools`, `progress`, `cancel`, `auth:bearer`). */
  capabilities: readonly string[]
  version: string
  /** Says what is wrong with a target (one line per problem, empty when it is fine). */
  checkTarget(target: Record<string, unknown>): string[]
  open(options: OpenOptions): Promise<UpstreamSession>
}

/** `Retry-After` as milliseconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

/**
 * The wait a refusal asks for: the `Retry-After` of a 429 or 503 answer (the statuses that say the
 * request was not processed), undefined for any other answer or without the header.
 */
export function refusalRetryAfter(status: number, header: string | null | undefined): number | undefined {
  if (status !== 429 && status !== 503) return undefined
  return parseRetryAfter(header ?? null)
}

/**
 * An upstream failed. The area maps it to `upstream_error` (with `status` and a bounded excerpt of
 * the upstream's answer, never the secret) or, with `timedOut`, to `timeout`.
 */
export class UpstreamError extends Error {
  readonly status: number | undefined
  readonly excerpt: string | undefined
  /** The upstream asked to wait this long before trying again (HTTP `Retry-After`). */
  readonly retryAfterMs: number | undefined
  /** The failure says nothing about the call having happened (refused, 429, 503): safe to repeat. */
  readonly retryable: boolean
  readonly timedOut: boolean
  constructor(
    message: string,
    options: {
      status?: number
      excerpt?: string
      retryAfterMs?: number | undefined
      retryable?: boolean
      timedOut?: boolean
      cause?: unknown
    } = {},
  ) {
    super(message, { cause: options.cause })
    this.name = 'UpstreamError'
    this.status = options.status
    this.excerpt = options.excerpt === undefined ? undefined : options.excerpt.slice(0, 512)
    this.retryAfterMs = options.retryAfterMs
    this.retryable = options.retryable ?? false
    this.timedOut = options.timedOut ?? false
  }
}

/**
 * Cuts a secret, and the forms it travels in (URL-encoded, base64), out of text an upstream sent
 * back, before anyone sees it. One mechanism for the area and every driver.
 */
export function redactor(secret: string | undefined): (text: string) => string {
  if (secret === undefined || secret === '') return (text) => text
  const forms = [...new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')])]
  return (text) => forms.reduce((out, form) => out.split(form).join('[redacted]'), text)
}
