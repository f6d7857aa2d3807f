import { describe, expect, it } from 'vitest'
import { importedName, nextVersion, normalizeName, planImport } from './import.ts'

const obj = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
})

describe('imported tool names', () => {
  it('are the upstream names as registry segments under the service id', () => {
    expect(normalizeName('searchIssues')).toBe('search_issues')
    expect(normalizeName('Get Weather!')).toBe('get_weather')
    expect(normalizeName('files/read.v2')).toBe('files.read.v2')
    expect(normalizeName('2fa')).toBe('t_2fa')
    expect(importedName('github', 'search_issues')).toBe('github.search_issues')
    const long = importedName('svc', 'x'.repeat(300))
    expect(long.length).toBeLessThanOrEqual(100)
    expect(long).not.toBe(importedName('svc', `${'x'.repeat(299)}y`))
  })
})

describe('imported tool versions', () => {
  const base = { name: 's.t', upstream: 't', title: 't', description: 'd', hints: {}, retrySafe: false }
  const v1 = { ...base, version: '1.0.0', input: obj({ a: { type: 'string' } }, ['a']), output: obj({}) }
  it('start at 1.0.0 and follow the compatibility rules', () => {
    expect(nextVersion(undefined, v1.input, v1.output)).toBe('1.0.0')
    expect(nextVersion(v1, v1.input, v1.output)).toBe('1.0.0')
    expect(nextVersion(v1, obj({ a: { type: 'string' }, b: { type: 'string' } }, ['a']), v1.output)).toBe(
      '1.1.0',
    )
    expect(nextVersion(v1, obj({ a: { type: 'string', maxLength: 3 } }, ['a']), v1.output)).toBe('2.0.0')
    expect(nextVersion(v1, { ...v1.input, description: 'now documented' }, v1.output)).toBe('1.0.1')
  })
})

describe('an import plan', () => {
  it('imports valid tools and reports malformed schemas, clashes and taken names', () => {
    const plan = planImport(
      'svc',
      [
        { name: 'ok', input: obj({ q: { type: 'string' } }) },
        { name: 'bare', input: { type: 'object' } },
        { name: 'bad-type', input: obj({ q: { type: 'strang' } }) },
        { name: 'not-object', input: { type: 'string' } },
        { name: 'bad-pattern', input: obj({ q: { type: 'string', pattern: '(' } }) },
        { name: 'remote-ref', input: obj({ q: { $ref: 'https://evil.example/schema.json' } }) },
        { name: 'OK', input: obj({}) },
        { name: 'taken', input: obj({}) },
      ],
      [],
      (name) => name === 'svc.taken',
    )
    expect(plan.imported.map((t) => [t.name, t.version])).toEqual([
      ['svc.ok', '1.0.0'],
      ['svc.bare', '1.0.0'],
    ])
    expect(plan.imported[1]!.input).toEqual({ type: 'object', properties: {} })
    expect(plan.rejected.map((r) => r.upstream)).toEqual([
      'bad-type',
      'not-object',
      'bad-pattern',
      'remote-ref',
      'OK',
      'taken',
    ])
    expect(plan.imported.every((t) => t.hints['openWorld'] === true)).toBe(true)
  })
})
