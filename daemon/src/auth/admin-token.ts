import { timingSafeEqual } from 'node:crypto'
import type { Principal } from '@arw/protocol'
import { type Authenticator, presentedDigest } from './authenticator.ts'

export const ADMIN_PRINCIPAL: Principal = Object.freeze({ kind: 'admin', id: 'admin' })

/**
 * The admin token (ARW_ADMIN_TOKEN, kept only as its SHA-256): compared in constant time against
 * the hash of what was presented (equal lengths, so no length leak). The token never reaches a
 * log or a problem.
 */
export function adminTokenAuthenticator(sha256Hex: string): Authenticator {
  const expected = Buffer.from(sha256Hex, 'hex')
  return {
    name: 'admin-token',
    authenticate: (request) => {
      const digest = presentedDigest(request)
      return digest !== undefined && timingSafeEqual(digest, expected) ? ADMIN_PRINCIPAL : undefined
    },
  }
}
