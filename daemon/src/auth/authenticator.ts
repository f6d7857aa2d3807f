import { hash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { Principal } from '@arw/protocol'

/** A request as authentication sees it, whatever surface it came through. */
export interface AuthRequest {
  headers: IncomingHttpHeaders
  /** The real client address: the peer, or (from a trusted proxy) the forwarded client. */
  client: string
  /** A direct connection from this machine: not forwarded by any proxy. */
  loopback: boolean
  /** The presented token's SHA-256 once `presentedDigest` computed it (null: no token presented). */
  digest?: Buffer | null | undefined
  /**
   * The transport connection the request came on (an HTTP keep-alive socket), when it has one: the
   * digest of a token is kept with it, so a client presenting the same token on every request of
   * its connection has it hashed once.
   */
  connection?: object | undefined
}

/** The last token a connection presented and its SHA-256. */
const connectionDigests = new WeakMap<object, { token: string; digest: Buffer }>()

/**
 * One way of proving who you are (the admin token today; API keys and JWTs plug in as the
 * identity area lands). Answers the principal of a credential it recognises and accepts, or
 * undefined when the request carries none it accepts; the chain decides what that means.
 */
export interface Authenticator {
  readonly name: string
  /** Accepts only a credential the daemon made itself (the local operator's): configures nothing. */
  readonly implicit?: boolean
  authenticate(request: AuthRequest): Principal | undefined | Promise<Principal | undefined>
}

/** The token a request presents: X-ARW-Admin, else `Authorization: Bearer <token>`. */
export function presentedToken(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-arw-admin']
  if (typeof header === 'string' && header !== '') return header
  const authorization = headers.authorization
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (match) return match[1]
  }
  return undefined
}

/**
 * The SHA-256 of the token a request presents, hashed once however many authenticators of the
 * chain compare it (each compares digests in constant time, so none needs the token itself).
 */
export function presentedDigest(request: AuthRequest): Buffer | undefined {
  if (request.digest === undefined) {
    const token = presentedToken(request.headers)
    if (token === undefined) request.digest = null
    else {
      // The token is compared only with the one this same connection presented before, so the
      // comparison tells its client nothing it did not send itself. The hash is 4% of a call's CPU.
      const kept = request.connection && connectionDigests.get(request.connection)
      if (kept !== undefined && kept.token === token) request.digest = kept.digest
      else {
        // The one-shot hash is about twice as fast as createHash() on every admin request.
        request.digest = hash('sha256', token, 'buffer')
        if (request.connection) connectionDigests.set(request.connection, { token, digest: request.digest })
      }
    }
  }
  return request.digest ?? undefined
}
