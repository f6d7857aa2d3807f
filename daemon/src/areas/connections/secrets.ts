import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { closeSync, constants, fstatSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { redactor } from './driver.ts'

/**
 * Connection secrets at rest: AES-256-GCM with a random 96-bit nonce per secret, the connection id
 * as associated data (a sealed secret copied onto another connection does not open). The key comes
 * from ARW_SECRET_KEY, or from a key file the daemon creates (mode 0600) in its state directory,
 * so a copy of the store alone (a backup, a PostgreSQL dump) does not reveal any secret.
 */

export const KEY_FILE = 'secret.key'

/** A secret as stored: nothing in it is the secret in clear. */
export interface SealedSecret {
  alg: 'aes-256-gcm'
  iv: string
  tag: string
  data: string
  boundAt: string
}

/** Reads a 32-byte key given as 64 hex characters or base64; undefined when it is not one. */
export function parseKey(text: string): Buffer | undefined {
  const trimmed = text.trim()
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex')
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
    if (key.length === 32) return key
  }
  return undefined
}

/**
 * The key file of a state directory: read when it exists (refused when group or others may read
 * it), else created with a fresh random key, exclusively and with mode 0600 from the first byte.
 */
export function loadKeyFile(stateDir: string): Buffer {
  const path = join(stateDir, KEY_FILE)
  let fd: number
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const mode = fstatMode(path)
    if ((mode & 0o077) !== 0)
      throw new Error(`${path} may be read by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it`)
    const key = parseKey(readFileSync(path, 'utf8'))
    if (!key) throw new Error(`${path} does not hold a 32-byte key (64 hex characters or base64)`)
    return key
  }
  const key = randomBytes(32)
  try {
    writeSync(fd, `${key.toString('base64')}\n`)
  } finally {
    closeSync(fd)
  }
  return key
}

function fstatMode(path: string): number {
  const fd = openSync(path, constants.O_RDONLY)
  try {
    return fstatSync(fd).mode
  } finally {
    closeSync(fd)
  }
}

export class SecretBox {
  readonly #key: Buffer

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('the secret key must be 32 bytes')
    this.#key = key
  }

  seal(secret: string, connectionId: string, boundAt: string): SealedSecret {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    cipher.setAAD(Buffer.from(`arw-connection:${connectionId}`))
    const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()])
    return {
      alg: 'aes-256-gcm',
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
      boundAt,
    }
  }

  /** The secret in clear; throws when the key is not the one it was sealed with. */
  open(sealed: SealedSecret, connectionId: string): string {
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(sealed.iv, 'base64'))
    decipher.setAAD(Buffer.from(`arw-connection:${connectionId}`))
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'))
    return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString(
      'utf8',
    )
  }
}

/** Replaces every occurrence of `secret` in an upstream's text before it is shown to anyone. */
export function scrub(text: string, secret: string | undefined): string {
  // A secret of a few characters would blank out ordinary text: not scrubbed.
  if (!secret || secret.length < 4) return text
  return redactor(secret)(text)
}
