import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_TOKEN, type TestDaemon, testDaemon } from '../../testing/harness.ts'
import { ASSET_FILES, ensureDebugUi } from './build.ts'
import { DEBUG_CSP } from './routes.ts'

/**
 * XML namespace names inside Preact's DOM code: identifiers compared as strings, never fetched.
 * Any other absolute URL in the bundle fails the offline check.
 */
const NAMESPACE_URIS = new Set([
  'http://www.w3.org/2000/svg',
  'http://www.w3.org/1999/xhtml',
  'http://www.w3.org/1998/Math/MathML',
  'http://www.w3.org/1999/xlink',
  'http://www.w3.org/XML/1998/namespace',
])

describe('/debug when ARW_DEBUG is off', () => {
  let d: TestDaemon
  beforeAll(async () => {
    d = await testDaemon({ config: { debug: false } })
  })
  afterAll(() => d.close())

  it('does not exist without the admin token (404 problem), for the page and its files', async () => {
    for (const url of ['/debug', '/debug/assets/app.js', '/debug/assets/app.css']) {
      const res = await d.app.inject({ url })
      expect(res.statusCode, url).toBe(404)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json()).toMatchObject({ code: 'not_found', status: 404 })
      expect(res.body).not.toContain('<script')
    }
  })

  it('answers a wrong token with 401 and serves the page to the admin', async () => {
    const wrong = await d.app.inject({ url: '/debug', headers: { 'x-arw-admin': 'not-the-token' } })
    expect(wrong.statusCode).toBe(401)
    expect(wrong.json()).toMatchObject({ code: 'unauthorized' })
    expect(wrong.body).not.toContain('not-the-token')
    const admin = await d.app.inject({ url: '/debug', headers: d.admin })
    expect(admin.statusCode).toBe(200)
    expect(admin.headers['content-type']).toBe('text/html; charset=utf-8')
    const bearer = await d.app.inject({
      url: '/debug/assets/app.js',
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
    })
    expect(bearer.statusCode).toBe(200)
  })

  it('is absent on a daemon without a token too', async () => {
    const closed = await testDaemon({ token: null, config: { debug: false } })
    try {
      expect((await closed.app.inject({ url: '/debug' })).statusCode).toBe(404)
    } finally {
      await closed.close()
    }
  })
})

describe('/debug with ARW_DEBUG=1', () => {
  let d: TestDaemon
  beforeAll(async () => {
    d = await testDaemon({ config: { debug: true } })
  })
  afterAll(() => d.close())

  it('serves the page from loopback with its security and cache headers', async () => {
    const res = await d.app.inject({ url: '/debug', remoteAddress: '127.0.0.1' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(res.headers['content-security-policy']).toBe(DEBUG_CSP)
    expect(DEBUG_CSP).toContain("connect-src 'self'")
    expect(DEBUG_CSP).toContain("script-src 'self'")
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['cache-control']).toBe('private, no-cache')
    expect(res.headers['etag']).toMatch(/^"[A-Za-z0-9_-]{27}"$/)
    expect(res.body).toContain('<script type="module" src="/debug/assets/app.js"></script>')
    expect(res.body).toContain('<link rel="stylesheet" href="/debug/assets/app.css" />')

    const again = await d.app.inject({
      url: '/debug',
      headers: { 'if-none-match': String(res.headers['etag']) },
    })
    expect(again.statusCode).toBe(304)
    expect(again.body).toBe('')
  })

  it('serves each asset with its content type and the same cache policy', async () => {
    const types: Record<string, string> = {
      'app.js': 'text/javascript; charset=utf-8',
      'app.css': 'text/css; charset=utf-8',
      'app.js.map': 'application/json; charset=utf-8',
      'app.css.map': 'application/json; charset=utf-8',
    }
    for (const [file, type] of Object.entries(types)) {
      const res = await d.app.inject({ url: `/debug/assets/${file}` })
      expect(res.statusCode, file).toBe(200)
      expect(res.headers['content-type'], file).toBe(type)
      expect(res.headers['cache-control'], file).toBe('private, no-cache')
      expect(res.headers['etag'], file).toBeDefined()
      expect(res.body.length, file).toBeGreaterThan(100)
    }
    const css = await d.app.inject({ url: '/debug/assets/app.css' })
    expect(css.body).toContain('.event-list')
    const js = await d.app.inject({ url: '/debug/assets/app.js' })
    expect(js.body).toContain('/admin/events')
  })

  it('answers unknown or odd file names with a 4xx problem, never a file outside the bundle', async () => {
    for (const url of [
      '/debug/assets/nope.js',
      '/debug/assets/index.html',
      '/debug/assets/build.json',
      '/debug/assets/..%2Fbuild.ts',
      '/debug/assets/%2e%2e%2fbuild.ts',
      '/debug/assets/APP.JS',
    ]) {
      const res = await d.app.inject({ url })
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400)
      expect(res.statusCode, url).toBeLessThan(500)
      expect(res.headers['content-type'], url).toMatch(/^application\/problem\+json/)
      expect(res.body, url).not.toContain('ensureDebugUi')
    }
  })

  it('serves the static page to any address, while the admin API still needs the token off loopback', async () => {
    const remote = await d.app.inject({ url: '/debug', remoteAddress: '10.1.2.3' })
    expect(remote.statusCode).toBe(200)
    const api = await d.app.inject({ url: '/admin/introspect/tools', remoteAddress: '10.1.2.3' })
    expect(api.statusCode).toBe(401)
  })

  it('loads nothing from other hosts: no absolute URL in the page, script or stylesheet', async () => {
    for (const file of ['/debug', '/debug/assets/app.js', '/debug/assets/app.css']) {
      const body = (await d.app.inject({ url: file })).body
      const urls = body.match(/(?:https?:)?\/\/[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s"'`)<>]*/g) ?? []
      const foreign = urls.filter((u) => !NAMESPACE_URIS.has(u))
      expect(foreign, file).toEqual([])
    }
    const html = (await d.app.inject({ url: '/debug' })).body
    for (const [, ref] of html.matchAll(/(?:src|href)="([^"]*)"/g)) {
      expect(ref === 'data:,' || ref!.startsWith('/debug/assets/'), ref).toBe(true)
    }
  })
})

describe('debug UI build', () => {
  it('builds a missing assets folder (a fresh clone) and then finds it fresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arw-debug-assets-'))
    const out = join(dir, 'assets')
    try {
      expect(await ensureDebugUi(out)).toBe('built')
      for (const f of ASSET_FILES) expect(existsSync(join(out, f)), f).toBe(true)
      expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('/debug/assets/app.js')
      expect(await ensureDebugUi(out)).toBe('fresh')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
