import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '@arw/store'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { REVOCATION_RECHECK_MS, SESSION_MAX_AGE_S, SessionTokens } from './session.ts'

const alice = { kind: 'admin', id: 'alice' } as const
const bob = { kind: 'admin', id: 'bob' } as const

describe('MCP session ids', () => {
  let dir: string
  let store: Store
  let seconds: number
  let ms: number
  const open = () =>
    SessionTokens.open(
      store,
      () => seconds,
      () => ms,
    )

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'arw-session-'))
    store = await Store.open({ location: dir })
    seconds = 1_000_000
    ms = 0
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('verifies for the principal it was issued to, and for no one else or once tampered with', async () => {
    const tokens = await open()
    const id = tokens.issue('2025-06-18', alice, { sampling: {} })
    const info = await tokens.verify(id, alice)
    expect(info).toMatchObject({ id, version: '2025-06-18', clientCapabilities: { sampling: {} } })
    expect(await tokens.verify(id, bob)).toBeUndefined()
    expect(await tokens.verify(`${id.slice(0, -2)}xx`, alice)).toBeUndefined()
  })

  it('a replica sharing the store accepts the id (the key is in the store)', async () => {
    const a = await open()
    const b = await open()
    const id = a.issue('2025-06-18', alice, {})
    expect(await b.verify(id, alice)).toMatchObject({ id })
  })

  it('answers a recently checked id without a store read, and sees a revocation at once where it was made', async () => {
    const tokens = await open()
    const id = tokens.issue('2025-06-18', alice, {})
    await tokens.verify(id, alice)
    // Cached and checked just now: no promise, so a busy session's calls skip the store.
    expect(tokens.verify(id, alice)).not.toBeInstanceOf(Promise)
    await tokens.revoke(id)
    expect(await tokens.verify(id, alice)).toBeUndefined()
  })

  it('a revocation made by another replica takes effect within the recheck interval', async () => {
    const a = await open()
    const b = await open()
    const id = a.issue('2025-06-18', alice, {})
    expect(await a.verify(id, alice)).toBeDefined()
    await b.revoke(id)
    ms += REVOCATION_RECHECK_MS + 1
    expect(await a.verify(id, alice)).toBeUndefined()
    // And stays refused (the cache entry is gone, the store says revoked).
    expect(await a.verify(id, alice)).toBeUndefined()
  })

  it('expires after the maximum age, even when cached', async () => {
    const tokens = await open()
    const id = tokens.issue('2025-06-18', alice, {})
    expect(await tokens.verify(id, alice)).toBeDefined()
    seconds += SESSION_MAX_AGE_S + 1
    expect(await tokens.verify(id, alice)).toBeUndefined()
  })
})
