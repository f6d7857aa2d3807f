import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { createParser } from 'eventsource-parser'

export interface ForwardOptions {
  /** The daemon's base URL (from the state directory's lock file). */
  url: string
  /** Presented as `Authorization: Bearer`: the daemon's local token, or ARW_ADMIN_TOKEN. */
  token: string
  input: Readable
  output: Writable
  /** Diagnostics (stderr). */
  log: (line: string) => void
}

type Json = Record<string, unknown>

const NAME_SOURCE: Record<string, string> = {
  'tools/call': 'name',
  'resources/read': 'uri',
  'prompts/get': 'name',
}

function headerValue(value: string): string {
  // Header values are ASCII; anything else goes base64-encoded as the 2026-07-28 revision defines.
  return /^[\x20-\x7e]*$/.test(value) ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`
}

/**
 * `arw mcp` beside a running daemon: the daemon owns the state directory, so instead of opening it
 * a second time (two writers would overwrite each other's records) every stdio message is sent to
 * the daemon's Streamable HTTP `/mcp` and every answer, notification and server request comes back
 * as one line on stdout. The daemon runs the call, journals it and shows it on its live SSE.
 * A 2025-era session's id and revision are kept from `initialize`; 2026-07-28 requests carry their
 * envelope, from which the required headers are derived. Resolves when stdin ends.
 */
export async function forwardStdio(options: ForwardOptions): Promise<void> {
  const endpoint = `${options.url}/mcp`
  const closed = new AbortController()
  let sessionId: string | undefined
  let sessionVersion: string | undefined
  let listening = false
  const inFlight = new Map<string, AbortController>()
  const running = new Set<Promise<void>>()

  const write = (message: unknown) => {
    if (!closed.signal.aborted) options.output.write(`${JSON.stringify(message)}\n`)
  }
  const fail = (id: unknown, message: string) => {
    if (id !== undefined && id !== null) write({ jsonrpc: '2.0', id, error: { code: -32603, message } })
  }

  const headersFor = (message: Json): Record<string, string> => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${options.token}`,
    }
    const params = (message['params'] ?? {}) as Json
    const claim = ((params['_meta'] ?? {}) as Json)['io.modelcontextprotocol/protocolVersion']
    if (typeof claim === 'string') {
      headers['mcp-protocol-version'] = claim
      if (typeof message['method'] === 'string') {
        headers['mcp-method'] = message['method']
        const source = NAME_SOURCE[message['method']]
        const name = source ? params[source] : undefined
        if (typeof name === 'string') headers['mcp-name'] = headerValue(name)
      }
    } else {
      if (sessionId) headers['mcp-session-id'] = sessionId
      if (sessionVersion) headers['mcp-protocol-version'] = sessionVersion
    }
    return headers
  }

  /** Copies a response body (JSON or SSE) to stdout, message by message. */
  const relay = async (response: Response): Promise<void> => {
    const type = response.headers.get('content-type') ?? ''
    if (type.startsWith('text/event-stream') && response.body) {
      const parser = createParser({
        onEvent: (event) => {
          if (event.data.trim() === '') return
          try {
            write(JSON.parse(event.data))
          } catch {
            // Not a JSON-RPC message (a comment or priming event).
          }
        },
      })
      const decoder = new TextDecoder()
      for await (const chunk of response.body) parser.feed(decoder.decode(chunk, { stream: true }))
      return
    }
    const text = await response.text()
    if (text.trim() !== '') write(JSON.parse(text))
  }

  /** The 2025-era session's stream of server notifications (tools/list_changed, ...). */
  const listen = async () => {
    if (listening || !sessionId) return
    listening = true
    try {
      const response = await fetch(endpoint, {
        headers: {
          accept: 'text/event-stream',
          authorization: `Bearer ${options.token}`,
          'mcp-session-id': sessionId,
          ...(sessionVersion ? { 'mcp-protocol-version': sessionVersion } : {}),
        },
        signal: closed.signal,
      })
      if (response.ok) await relay(response)
    } catch {
      // Closed with stdin, or the daemon went away; calls report that themselves.
    }
  }

  const send = async (line: string, message: Json) => {
    const id = message['id']
    const isRequest = typeof message['method'] === 'string' && id !== undefined
    const key = isRequest ? JSON.stringify(id) : undefined
    const controller = new AbortController()
    if (key) inFlight.set(key, controller)
    const signal = AbortSignal.any([controller.signal, closed.signal])
    try {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: headersFor(message),
        body: line,
        signal,
      })
      if (message['method'] === 'initialize' && response.ok) {
        sessionId = response.headers.get('mcp-session-id') ?? undefined
      }
      const type = response.headers.get('content-type') ?? ''
      if (!response.ok && !type.includes('json') && !type.startsWith('text/event-stream')) {
        await response.body?.cancel()
        if (isRequest) fail(id, `the daemon at ${options.url} answered HTTP ${response.status}`)
        return
      }
      if (message['method'] === 'initialize' && response.ok) {
        const text = await response.text()
        const answer = JSON.parse(text) as Json
        const version = ((answer['result'] ?? {}) as Json)['protocolVersion']
        if (typeof version === 'string') sessionVersion = version
        write(answer)
        return
      }
      await relay(response)
    } catch (error) {
      if (closed.signal.aborted || controller.signal.aborted) return
      if (isRequest) fail(id, `the daemon at ${options.url} is unreachable: ${(error as Error).message}`)
      else options.log(`arw mcp: could not forward to ${options.url}: ${(error as Error).message}`)
    } finally {
      if (key) inFlight.delete(key)
    }
  }

  const lines = createInterface({ input: options.input, crlfDelay: Number.POSITIVE_INFINITY })
  for await (const line of lines) {
    if (line.trim() === '') continue
    let message: Json
    try {
      message = JSON.parse(line) as Json
    } catch {
      write({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } })
      continue
    }
    if (message['method'] === 'notifications/initialized') {
      // Sent once the session is set up: its notification stream can open now.
      const task = send(line, message).then(listen)
      running.add(task)
      void task.finally(() => running.delete(task))
      continue
    }
    if (message['method'] === 'notifications/cancelled') {
      // 2026-07-28 calls are cancelled by closing their stream; the 2025-era notification is sent too.
      const params = (message['params'] ?? {}) as Json
      const requestId = params['requestId']
      const modern =
        typeof ((params['_meta'] ?? {}) as Json)['io.modelcontextprotocol/protocolVersion'] === 'string'
      if (modern || !sessionId) inFlight.get(JSON.stringify(requestId))?.abort()
    }
    // The initialize answer carries the session every later message needs: wait for it.
    const task = send(line, message)
    running.add(task)
    void task.finally(() => running.delete(task))
    if (message['method'] === 'initialize') await task
  }
  // Stdin ended: the client is gone.
  const session = sessionId
  closed.abort()
  await Promise.allSettled([...running])
  if (session) {
    await fetch(endpoint, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${options.token}`, 'mcp-session-id': session },
    }).catch(() => {})
  }
}
