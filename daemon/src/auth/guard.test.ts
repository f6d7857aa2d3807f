import { describe, expect, it } from 'vitest'
import { testDaemon } from '../testing/harness.ts'

const EVIL = { host: 'evil.example:8090', origin: 'http://evil.example:8090' }

describe('the DNS-rebinding guard', () => {
  it('refuses a forged Host or a foreign Origin on invoke, the SSE stream and the debug UI, even where loopback is trusted', async () => {
    const d = await testDaemon({ token: null, config: { debug: true } })
    try {
      const loopback = { remoteAddress: '127.0.0.1' }
      const ok = await d.app.inject({
        ...loopback,
        method: 'POST',
        url: '/tools/demo.echo:invoke',
        headers: { host: '127.0.0.1:8090', origin: 'http://127.0.0.1:8090' },
        payload: { input: { text: 'a' } },
      })
      expect(ok.statusCode).toBe(200)
      for (const url of ['/tools/demo.echo:invoke', '/admin/events', '/debug']) {
        const method = url.endsWith(':invoke') ? 'POST' : 'GET'
        const payload = method === 'POST' ? { input: { text: 'a' } } : undefined
        const host = await d.app.inject({
          ...loopback,
          method,
          url,
          headers: { host: EVIL.host },
          ...(payload ? { payload } : {}),
        })
        expect(host.statusCode, `${url} with a forged Host`).toBe(403)
        expect(host.json()).toMatchObject({ code: 'forbidden', type: 'urn:arw:problem:host_not_allowed' })
        const origin = await d.app.inject({
          ...loopback,
          method,
          url,
          headers: { host: 'localhost:8090', origin: EVIL.origin },
          ...(payload ? { payload } : {}),
        })
        expect(origin.statusCode, `${url} from a foreign Origin`).toBe(403)
        expect(origin.json()).toMatchObject({ type: 'urn:arw:problem:origin_not_allowed' })
      }
    } finally {
      await d.close()
    }
  })

  it('accepts the configured public names and origins', async () => {
    const d = await testDaemon({
      config: { publicHosts: ['arw.example.com'], allowedOrigins: ['https://ops.example.com'] },
    })
    try {
      const res = await d.app.inject({
        method: 'POST',
        url: '/tools/demo.echo:invoke',
        headers: { ...d.admin, host: 'arw.example.com', origin: 'https://ops.example.com' },
        payload: { input: { text: 'a' } },
      })
      expect(res.statusCode).toBe(200)
      // Same origin as the Host it was sent to: a page served by the daemon itself.
      const same = await d.app.inject({
        method: 'POST',
        url: '/tools/demo.echo:invoke',
        headers: { ...d.admin, host: 'arw.example.com', origin: 'https://arw.example.com' },
        payload: { input: { text: 'a' } },
      })
      expect(same.statusCode).toBe(200)
    } finally {
      await d.close()
    }
  })
})

describe('behind a reverse proxy', () => {
  it('never treats a forwarded request as loopback, and believes forwarded addresses only from trusted proxies', async () => {
    const d = await testDaemon({ token: null, config: { debug: true } })
    try {
      const direct = await d.app.inject({ url: '/admin/introspect/tools', remoteAddress: '127.0.0.1' })
      expect(direct.statusCode).toBe(200)
      // A local proxy forwards a remote client: it must not get the loopback trust.
      const proxied = await d.app.inject({
        url: '/admin/introspect/tools',
        remoteAddress: '127.0.0.1',
        headers: { 'x-forwarded-for': '203.0.113.9' },
      })
      expect(proxied.statusCode).toBe(403)
      expect(proxied.json()).toMatchObject({ type: 'urn:arw:problem:admin_disabled' })
    } finally {
      await d.close()
    }
  })

  it('throttles failed logins per real client, so one client behind the proxy cannot lock out another', async () => {
    const d = await testDaemon({
      token: 'right-token',
      config: { authFailuresPerMinute: 3, trustProxy: ['127.0.0.1'] },
    })
    try {
      const attempt = (token: string, client: string, remoteAddress = '127.0.0.1') =>
        d.app.inject({
          url: '/admin/introspect/tools',
          remoteAddress,
          headers: { 'x-arw-admin': token, 'x-forwarded-for': client },
        })
      for (let i = 0; i < 3; i++) expect((await attempt('wrong', '198.51.100.7')).statusCode).toBe(401)
      // The guessing client is held off, right token or not...
      expect((await attempt('right-token', '198.51.100.7')).statusCode).toBe(429)
      // ...but another client through the same proxy is not.
      expect((await attempt('right-token', '198.51.100.8')).statusCode).toBe(200)
      // From an untrusted peer, X-Forwarded-For is ignored: the peer itself is the client.
      for (let i = 0; i < 3; i++)
        expect((await attempt('wrong', '198.51.100.9', '10.9.9.9')).statusCode).toBe(401)
      expect((await attempt('right-token', '198.51.100.10', '10.9.9.9')).statusCode).toBe(429)
    } finally {
      await d.close()
    }
  })
})
