import { describe, expect, it } from 'vitest'
import { loadConfig } from './config.ts'

const problemsOf = (env: NodeJS.ProcessEnv): string => {
  try {
    loadConfig(env)
    return ''
  } catch (error) {
    return (error as Error).message
  }
}

describe('loadConfig', () => {
  it('refuses a short or low-entropy admin token outside ARW_DEBUG=1, saying how to generate one', () => {
    for (const token of ['abcd', 'secret', 'aaaaaaaaaaaaaaaaaaaaaaaa', 'abababababababababab']) {
      const message = problemsOf({ ARW_ADMIN_TOKEN: token })
      expect(message).toContain('ARW_ADMIN_TOKEN')
      expect(message).toContain('openssl rand -hex 32')
      // The token itself never appears in the message.
      expect(message).not.toContain(token)
    }
    expect(problemsOf({ ARW_ADMIN_TOKEN: 'secret', ARW_DEBUG: '1' })).toBe('')
    expect(problemsOf({ ARW_ADMIN_TOKEN: 'c0ffee15deadbeef0123456789abcdef' })).toBe('')
  })

  it('refuses an allowed origin that is not scheme://host[:port], and normalizes good ones', () => {
    for (const bad of [
      'foo',
      'example.com',
      'http://a.example/path',
      'ftp://a.example',
      'http://u@a.example',
    ]) {
      expect(problemsOf({ ARW_MCP_ALLOWED_ORIGINS: bad })).toContain('is not an origin')
    }
    const config = loadConfig({ ARW_MCP_ALLOWED_ORIGINS: 'HTTPS://App.Example.com, http://127.0.0.1:3000/' })
    expect(config.allowedOrigins).toEqual(['https://app.example.com', 'http://127.0.0.1:3000'])
  })

  it('accepts switches as exactly 1 or 0, and a host only as an address or a name', () => {
    for (const value of ['yes', 'true', 'on', 'no']) {
      expect(problemsOf({ ARW_DEBUG: value })).toContain('ARW_DEBUG')
      expect(problemsOf({ ARW_MCP_CONFORMANCE: value })).toContain('ARW_MCP_CONFORMANCE')
    }
    expect(loadConfig({ ARW_DEBUG: '1' }).debug).toBe(true)
    expect(loadConfig({ ARW_DEBUG: '0' }).debug).toBe(false)
    expect(problemsOf({ ARW_HOST: 'http://127.0.0.1' })).toContain('ARW_HOST')
    expect(problemsOf({ ARW_HOST: 'bad host' })).toContain('ARW_HOST')
    for (const host of ['::1', '0.0.0.0', 'localhost', 'arw.internal.example']) {
      expect(loadConfig({ ARW_HOST: host }).host).toBe(host)
    }
  })

  it('lists every bad value at once', () => {
    const message = problemsOf({ ARW_PORT: 'x', ARW_DEBUG: 'yes', ARW_MCP_ALLOWED_ORIGINS: 'foo' })
    expect(message.split('\n  - ')).toHaveLength(4)
  })
})

describe('ARW_STORE', () => {
  it('is unset by default: state stays in the LMDB store under ARW_STATE_DIR', () => {
    expect(loadConfig({ ARW_STATE_DIR: '/tmp/arw-x' })).toMatchObject({
      store: undefined,
      stateDir: '/tmp/arw-x',
    })
  })

  it('takes a postgres:// URL', () => {
    const url = 'postgres://arw:s3cret@db.internal:5432/arw'
    expect(loadConfig({ ARW_STORE: url }).store).toBe(url)
    expect(loadConfig({ ARW_STORE: 'postgresql://db/arw' }).store).toBe('postgresql://db/arw')
  })

  it('refuses anything else without repeating the value, which may hold a password', () => {
    const bad = 'mysql://root:hunter2@db/arw'
    expect(() => loadConfig({ ARW_STORE: bad })).toThrow(
      /ARW_STORE: expected a postgres:\/\/ or postgresql:\/\/ URL/,
    )
    expect(() => loadConfig({ ARW_STORE: bad })).not.toThrow(/hunter2/)
  })
})

describe('ARW_JOURNAL_RETENTION', () => {
  it('is off by default, and off says so too', () => {
    expect(loadConfig({}).journalRetention).toBeUndefined()
    expect(loadConfig({ ARW_JOURNAL_RETENTION: 'off' }).journalRetention).toBeUndefined()
  })

  it('takes an age, a size, or both', () => {
    expect(loadConfig({ ARW_JOURNAL_RETENTION: '7d' }).journalRetention).toEqual({ maxAgeMs: 7 * 86_400_000 })
    expect(loadConfig({ ARW_JOURNAL_RETENTION: '500MB' }).journalRetention).toEqual({
      maxBytes: 500 * 1024 * 1024,
    })
    expect(loadConfig({ ARW_JOURNAL_RETENTION: '12h, 2gb' }).journalRetention).toEqual({
      maxAgeMs: 12 * 3_600_000,
      maxBytes: 2 * 1024 ** 3,
    })
  })

  it('refuses anything else, naming what it accepts', () => {
    for (const bad of ['7', '7 days', '0d', '1d,2d', 'forever', '5MB,', '-1d'])
      expect(problemsOf({ ARW_JOURNAL_RETENTION: bad })).toContain(
        `ARW_JOURNAL_RETENTION=${JSON.stringify(bad)}: expected off, an age (7d`,
      )
  })
})
