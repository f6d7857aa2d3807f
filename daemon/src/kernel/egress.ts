/**
 * The egress seam: every request the daemon sends out (to an upstream of a connection, later a
 * model download) is shown to one gate first, which allows it or refuses it before a byte leaves,
 * and which records it so an operator sees every host the daemon talks to. The egress area
 * provides the gate (its policy, settings and ledger); without that area every request is allowed
 * and nothing is recorded. Areas see only this interface, never the egress area itself.
 */

/** Where a request goes: scheme, host and port, as the policy and the ledger name it. */
export interface Destination {
  /** `http`, `https`, `ws`, `wss`. */
  readonly scheme: string
  /** Lowercase host name or IP literal (IPv6 without brackets). */
  readonly host: string
  readonly port: number
}

/** One outbound request about to be sent. */
export interface EgressRequest {
  readonly url: URL
  /** HTTP method, or `CONNECT` for a WebSocket opening. */
  readonly method: string
  /** The area that sends it. */
  readonly area: string
  /** The connection it goes through, when it does. */
  readonly connection?: string
  /** The network scope that limits it too (a connection's policy id), when one is named. */
  readonly scope?: string
}

export interface EgressGate {
  /**
   * Decides one request and records it. Throws a ProblemError `egress_denied` when the policy
   * refuses it, in which case the caller sends nothing.
   */
  check(request: EgressRequest): void
  /** Calls `listener` after the policy changed (requests refused before may pass now). */
  onChanged(listener: () => void): () => void
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443, ws: 80, wss: 443 }

export function destinationOf(url: URL): Destination {
  const scheme = url.protocol.replace(/:$/, '')
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  const port = url.port === '' ? (DEFAULT_PORTS[scheme] ?? 0) : Number(url.port)
  return { scheme, host, port }
}

/** `host:port` (IPv6 in brackets), the way the ledger and problems name a destination. */
export function formatDestination(destination: Destination): string {
  const host = destination.host.includes(':') ? `[${destination.host}]` : destination.host
  return `${destination.scheme}://${host}:${destination.port}`
}

/**
 * The gate the areas hold from the start: it passes each request to the gate an area installed
 * (the egress area, started before the areas that send), or allows it when none did.
 */
export class EgressPort implements EgressGate {
  #gate: EgressGate | undefined
  readonly #listeners = new Set<() => void>()

  install(gate: EgressGate): void {
    if (this.#gate) throw new Error('more than one egress gate is configured')
    this.#gate = gate
    gate.onChanged(() => {
      for (const listener of [...this.#listeners]) listener()
    })
  }

  check(request: EgressRequest): void {
    this.#gate?.check(request)
  }

  onChanged(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}
