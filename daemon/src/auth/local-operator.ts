import { hash, timingSafeEqual } from 'node:crypto'
import type { Principal } from '@arw/protocol'
import { type Authenticator, presentedDigest } from './authenticator.ts'

/** Who a request presenting the state directory's local token is: the local operator. */
export const LOCAL_OPERATOR: Principal = Object.freeze({ kind: 'operator', id: 'local', permissions: ['*'] })

/**
 * The local operator: the daemon's lock file (mode 0600 in the state directory, see
 * state/lock.ts) holds a random token per start; whoever can read it can already read and write
 * the state directory itself, so presenting it is as good as being the operator. `arw mcp` beside
 * a running daemon forwards with it. Implicit: it does not count as configuring admin access, so
 * without ARW_ADMIN_TOKEN admin routes stay closed (or debug-open) to everyone else.
 */
export function localOperatorAuthenticator(token: string): Authenticator {
  const expected = hash('sha256', token, 'buffer')
  return {
    name: 'local-operator',
    implicit: true,
    authenticate: (request) => {
      const digest = presentedDigest(request)
      return digest !== undefined && timingSafeEqual(digest, expected) ? LOCAL_OPERATOR : undefined
    },
  }
}
