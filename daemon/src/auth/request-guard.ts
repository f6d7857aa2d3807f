import { ERRORS, ProblemError } from '@arw/protocol'
import type { FastifyRequest } from 'fastify'
import type { AuthRequest } from './authenticator.ts'

export const LOOPBACK_NAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]', '::1'])

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}

export interface GuardOptions {
  /** Names the Host header may carry; undefined skips the check (the daemon trusts no loopback). */
  allowedHosts: ReadonlySet<string> | undefined
  /** Exact browser origins (`scheme://host[:port]`, lowercase) allowed besides loopback and same-origin ones. */
  allowedOrigins: ReadonlySet<string>
  /** Host header values already accepted by this daemon (a memo: they do not change while it runs). */
  accepted: Set<string>
}

/** The guard's settings from the daemon's: Host is checked whenever loopback callers get anything for free. */
export function guardOptions(options: {
  host: string
  debug: boolean
  publicHosts: readonly string[]
  allowedOrigins: readonly string[]
}): GuardOptions {
  const allowedOrigins = new Set(options.allowedOrigins)
  let allowedHosts: Set<string> | undefined
  if (LOOPBACK_NAMES.has(options.host) || isLoopback(options.host) || options.debug) {
    allowedHosts = new Set([...LOOPBACK_NAMES, ...options.publicHosts.map((h) => h.toLowerCase())])
    for (const origin of allowedOrigins) allowedHosts.add(new URL(origin).hostname)
  }
  return { allowedHosts, allowedOrigins, accepted: new Set() }
}

function hostName(host: string): string {
  return (host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!).toLowerCase()
}

/**
 * DNS-rebinding protection for every route: a page on another site can point its own name at
 * 127.0.0.1, but its requests then carry that name as Host, and its Origin. Host must name this
 * daemon (loopback or a configured public name) whenever loopback callers are trusted; an Origin,
 * when a browser sends one (every state-changing or streaming fetch), must be a loopback origin,
 * this very origin, or one of the allowed origins. Throws a forbidden problem otherwise.
 */
export function checkRequestOrigin(request: FastifyRequest, options: GuardOptions): void {
  const host = request.headers.host
  if (options.allowedHosts && host !== undefined && !options.accepted.has(host)) {
    if (!options.allowedHosts.has(hostName(host))) throw new ProblemError(ERRORS.host_not_allowed)
    // Nearly every request carries one of a few Host values: remember the accepted ones.
    if (options.accepted.size >= 64) options.accepted.clear()
    options.accepted.add(host)
  }
  const origin = request.headers.origin
  if (origin === undefined) return
  const lower = origin.toLowerCase()
  if (options.allowedOrigins.has(lower)) return
  let url: URL
  try {
    url = new URL(lower)
  } catch {
    throw new ProblemError(ERRORS.origin_not_allowed)
  }
  if (LOOPBACK_NAMES.has(url.hostname)) return
  if (host !== undefined && url.host === host.toLowerCase()) return
  throw new ProblemError(ERRORS.origin_not_allowed)
}

const FORWARDED = ['forwarded', 'x-forwarded-for', 'x-real-ip'] as const

/**
 * Who the request comes from, for authentication: the real client (Fastify resolves forwarded
 * addresses only from ARW_TRUST_PROXY's proxies), and whether it is a direct loopback caller. A
 * request that carries forwarding headers is never loopback: behind a local reverse proxy every
 * client would look like 127.0.0.1.
 */
export function authRequestOf(request: FastifyRequest): AuthRequest {
  const headers = request.headers
  let forwarded = false
  for (const name of FORWARDED) if (headers[name] !== undefined) forwarded = true
  return {
    headers,
    client: request.ip ?? request.socket.remoteAddress ?? 'unknown',
    loopback: !forwarded && isLoopback(request.socket.remoteAddress),
    digest: undefined,
    connection: request.socket,
  }
}
