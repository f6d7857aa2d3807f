import { describe, expect, it } from 'vitest'
import { testDaemon } from '../../testing/harness.ts'

describe('admin gating', () => {
  it('accepts the token in X-ARW-Admin or as a Bearer token, and refuses a wrong or missing one', async () => {
    const d = await testDaemon({ token: 'right-token' })
    try {
      const ok1 = await d.app.inject({
        url: '/admin/introspect/tools',
        headers: { 'x-arw-admin': 'right-token' },
      })
      const ok2 = await d.app.inject({
        url: '/admin/introspect/tools',
        headers: { authorization: 'Bearer right-token' },
      })
      expect(ok1.statusCode).toBe(200)
      expect(ok2.statusCode).toBe(200)
      const missing = await d.app.inject({ url: '/admin/introspect/tools' })
      expect(missing.statusCode).toBe(401)
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="arw"')
      expect(missing.json()).toMatchObject({ code: 'unauthorized' })
      const wrong = await d.app.inject({
        url: '/admin/introspect/tools',
        headers: { 'x-arw-admin': 'wrong-token' },
      })
      expect(wrong.statusCode).toBe(401)
      expect(wrong.body).not.toContain('wrong-token')
    } finally {
      await d.close()
    }
  })

  it('rate-limits failed attempts per client address', async () => {
    const d = await testDaemon({ token: 'right-token', config: { authFailuresPerMinute: 3 } })
    try {
      const attempt = (token: string, ip: string) =>
        d.app.inject({ url: '/admin/introspect/tools', headers: { 'x-arw-admin': token }, remoteAddress: ip })
      for (let i = 0; i < 3; i++) expect((await attempt('bad', '10.0.0.1')).statusCode).toBe(401)
      const limited = await attempt('right-token', '10.0.0.1')
      expect(limited.statusCode).toBe(429)
      expect(limited.json()).toMatchObject({ code: 'rate_limited', retry_after: expect.any(Number) })
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
      // Another address is unaffected.
      expect((await attempt('right-token', '10.0.0.2')).statusCode).toBe(200)
    } finally {
      await d.close()
    }
  })

  it('keeps admin routes closed when no token is configured', async () => {
    const d = await testDaemon({ token: null })
    try {
      const res = await d.app.inject({ url: '/admin/introspect/tools' })
      expect(res.statusCode).toBe(403)
      expect(res.json()).toMatchObject({ code: 'forbidden', type: 'urn:arw:problem:admin_disabled' })
      const invoke = await d.app.inject({
        method: 'POST',
        url: '/tools/demo.echo:invoke',
        payload: { input: { text: 'a' } },
      })
      expect(invoke.statusCode).toBe(403)
      expect((await d.app.inject({ url: '/healthz' })).statusCode).toBe(200)
    } finally {
      await d.close()
    }
  })

  it('opens admin routes to loopback callers only, with ARW_DEBUG=1 and no token', async () => {
    const d = await testDaemon({ token: null, config: { debug: true } })
    try {
      expect(
        (await d.app.inject({ url: '/admin/introspect/tools', remoteAddress: '127.0.0.1' })).statusCode,
      ).toBe(200)
      expect((await d.app.inject({ url: '/admin/introspect/tools', remoteAddress: '::1' })).statusCode).toBe(
        200,
      )
      expect(
        (await d.app.inject({ url: '/admin/introspect/tools', remoteAddress: '192.168.1.20' })).statusCode,
      ).toBe(403)
    } finally {
      await d.close()
    }
  })

  it('still requires the token from loopback when one is configured, even with ARW_DEBUG=1', async () => {
    const d = await testDaemon({ token: 'right-token', config: { debug: true } })
    try {
      expect(
        (await d.app.inject({ url: '/admin/introspect/tools', remoteAddress: '127.0.0.1' })).statusCode,
      ).toBe(401)
    } finally {
      await d.close()
    }
  })
})
