import { randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../config.ts'
import { KEY_FILE, loadKeyFile, parseKey, SecretBox, scrub } from './secrets.ts'

const dirs: string[] = []
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'arw-secrets-'))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('the secret key', () => {
  it('is read from ARW_SECRET_KEY as 32 bytes of hex or base64, and a bad one is refused without echoing it', () => {
    const key = randomBytes(32)
    expect(parseKey(key.toString('hex'))).toEqual(key)
    expect(parseKey(key.toString('base64'))).toEqual(key)
    expect(parseKey(key.toString('base64url'))).toEqual(key)
    expect(parseKey(randomBytes(16).toString('hex'))).toBeUndefined()
    expect(loadConfig({ ARW_SECRET_KEY: key.toString('hex') }).areas['connections']).toMatchObject({
      secretKey: key,
    })
    const weak = 'not-a-key-but-a-password'
    expect(() => loadConfig({ ARW_SECRET_KEY: weak })).toThrow(/ARW_SECRET_KEY: expected 32 bytes/)
    try {
      loadConfig({ ARW_SECRET_KEY: weak })
    } catch (error) {
      expect((error as Error).message).not.toContain(weak)
    }
  })

  it('is otherwise a key file created with mode 0600, read again on the next start, refused when others may read it', () => {
    const dir = scratch()
    const first = loadKeyFile(dir)
    expect(statSync(join(dir, KEY_FILE)).mode & 0o777).toBe(0o600)
    expect(loadKeyFile(dir)).toEqual(first)
    chmodSync(join(dir, KEY_FILE), 0o644)
    expect(() => loadKeyFile(dir)).toThrow(/chmod 600/)
  })
})

describe('a sealed secret', () => {
  it('opens with its key and connection only; the sealed form holds nothing of the secret', () => {
    const box = new SecretBox(randomBytes(32))
    const sealed = box.seal('hunter2-hunter2', 'c-1', '2026-01-01T00:00:00.000Z')
    expect(JSON.stringify(sealed)).not.toContain('hunter2')
    expect(box.open(sealed, 'c-1')).toBe('hunter2-hunter2')
    expect(() => box.open(sealed, 'c-2')).toThrow()
    expect(() => new SecretBox(randomBytes(32)).open(sealed, 'c-1')).toThrow()
    // A fresh nonce each time: the same secret never seals to the same bytes.
    expect(box.seal('hunter2-hunter2', 'c-1', 'x').data).not.toBe(sealed.data)
  })

  it('is scrubbed from upstream text before anyone sees it', () => {
    expect(scrub('401: bad token abcd-1234 given', 'abcd-1234')).toBe('401: bad token [redacted] given')
  })
})
