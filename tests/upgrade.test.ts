import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writePreportStateDir } from '@arw/store/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { buildApp } from '../daemon/src/app.ts'
import { sha256Hex, testConfig } from '../daemon/src/config.ts'

const dir = mkdtempSync(join(tmpdir(), 'arw-upgrade-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('a state directory of the release before the storage port', () => {
  it('opens with its journal, idempotency answers and MCP session state kept', async () => {
    const event = (id: number) => ({
      id,
      time: '2026-11-30T10:00:00.000Z',
      kind: 'tool.ran',
      version: '1.0.0',
      severity: 'info',
      payload: { n: id },
    })
    const answer = {
      fingerprint: 'fp',
      status: 200,
      body: { output: { text: 'old' } },
      created: Date.now() - 1000,
    }
    const stale = { ...answer, created: Date.now() - 2 * 86_400_000 }
    await writePreportStateDir(dir, {
      journal: [[event(1)], [event(2), event(3)]],
      collections: {
        idempotency: { 'admin:admin\0k-old': answer, 'admin:admin\0k-stale': stale },
        mcp: { 'session-key': 'a2V5LW9mLXRoZS1vbGQtcmVsZWFzZS0zMi1ieXRlcyE' },
        'mcp-revoked-sessions': { 'ended-session-id': 1_700_000_000 },
      },
    })
    const app = await buildApp({
      config: testConfig({ stateDir: dir, adminTokenSha256: sha256Hex('upgrade') }),
    })
    try {
      const { journal, store } = app.arw
      // The journal goes on after the old records: this start is record 4.
      expect(journal.head).toBe(4)
      expect((await journal.read(0, 10)).map((e) => e.kind)).toEqual([
        'tool.ran',
        'tool.ran',
        'tool.ran',
        'daemon.started',
      ])
      // Answers still within ARW_IDEMPOTENCY_TTL_S are kept (with an expiry now); older ones dropped.
      const answers = await store.collection({ area: 'pipeline', name: 'idempotency' }).list()
      expect(answers.items).toEqual([
        { key: 'admin:admin\nk-old', value: answer, version: 1, expiresAt: answer.created + 86_400_000 },
      ])
      // MCP sessions are signed with the key the old release created (it loads at the first session).
      const init = await app.inject({
        method: 'POST',
        url: '/mcp',
        headers: { authorization: 'Bearer upgrade', accept: 'application/json, text/event-stream' },
        payload: {
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-11-25',
            capabilities: {},
            clientInfo: { name: 't', version: '1' },
          },
        },
      })
      expect(init.statusCode).toBe(200)
      expect(await store.collection({ area: 'mcp', name: 'keys' }).get('session-key')).toBe(
        'a2V5LW9mLXRoZS1vbGQtcmVsZWFzZS0zMi1ieXRlcyE',
      )
      expect(await store.collection({ area: 'mcp', name: 'revoked-sessions' }).get('ended-session-id')).toBe(
        1_700_000_000,
      )
    } finally {
      await app.close()
    }
  })
})
