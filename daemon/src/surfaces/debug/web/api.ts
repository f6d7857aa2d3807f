/**
 * The HTTP calls of the debug UI: the same public API every client uses, with the admin token in
 * the X-ARW-Admin header (never in a URL). Problems (RFC 7807) come back as values, not throws.
 */
import type { InvokeResult, ToolSummary } from '@arw/client'

export type { InvokeResult, ToolSummary }

export interface FieldError {
  pointer?: string
  message: string
  keyword?: string
}

export interface Problem {
  type?: string
  title: string
  status: number
  detail?: string
  instance?: string
  trace_id?: string
  code?: string
  errors?: FieldError[]
}

export interface ToolSchemas {
  id: string
  input: Record<string, unknown>
  output: Record<string, unknown>
  errors: string[]
  examples?: Array<{ title?: string; input: unknown; output?: unknown }>
}

export interface Metric {
  name: string
  hits: number
  errors: number
  ewma_ms: number
  last_ms: number
  max_ms: number
}

export interface StatsSnapshot {
  since: string
  events: { head: number; since_start: number; by_kind: Record<string, number> }
  routes: Metric[]
  tools: Metric[]
}

export interface ProbeResult {
  trace_id: string | null
  count: number
  events: Array<{
    id: number
    kind: string
    time: string
    version: string
    severity: string
    trace_id?: string
    payload: unknown
  }>
}

export type Result<T> = { ok: true; value: T; traceId?: string } | { ok: false; problem: Problem }

export class Api {
  readonly #base: string
  readonly #token: () => string | undefined
  readonly #fetch: typeof fetch

  constructor(base: string, token: () => string | undefined, fetcher?: typeof fetch) {
    this.#base = base
    this.#token = token
    this.#fetch = fetcher ?? ((input, init) => fetch(input, init))
  }

  async #call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Result<T>> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' }
    const token = this.#token()
    if (token) headers['x-arw-admin'] = token
    if (body !== undefined) headers['content-type'] = 'application/json'
    // Calls from the UI are journaled as surface debug.
    if (method === 'POST') headers['x-arw-surface'] = 'debug'
    let response: Response
    try {
      response = await this.#fetch(`${this.#base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      })
    } catch (error) {
      return {
        ok: false,
        problem: {
          title: 'The daemon could not be reached',
          status: 0,
          detail: error instanceof Error ? error.message : String(error),
        },
      }
    }
    const text = await response.text()
    let parsed: unknown
    try {
      parsed = text === '' ? undefined : JSON.parse(text)
    } catch {
      parsed = undefined
    }
    if (!response.ok) {
      const problem =
        parsed && typeof parsed === 'object'
          ? (parsed as Problem)
          : { title: response.statusText || 'Error', status: response.status, detail: text.slice(0, 500) }
      if (typeof problem.status !== 'number') problem.status = response.status
      return { ok: false, problem }
    }
    return { ok: true, value: parsed as T }
  }

  tools(): Promise<Result<ToolSummary[]>> {
    return this.#call('GET', '/admin/introspect/tools')
  }

  schemas(id: string): Promise<Result<ToolSchemas>> {
    return this.#call('GET', `/admin/introspect/schemas/${encodeURIComponent(id)}`)
  }

  invoke(id: string, input: unknown): Promise<Result<InvokeResult>> {
    return this.#call('POST', `/tools/${encodeURIComponent(id)}:invoke`, { input })
  }

  probe(traceId: string): Promise<Result<ProbeResult>> {
    return this.#call('GET', `/admin/probe?trace_id=${encodeURIComponent(traceId)}`)
  }

  stats(): Promise<Result<StatsSnapshot>> {
    return this.#call('GET', '/admin/introspect/stats')
  }
}
