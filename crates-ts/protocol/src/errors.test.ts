import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { PROBLEM_CODES } from './codes.ts'
import { CATALOG, ERRORS, renderDetail } from './errors.ts'

const DOC = new URL('../../../docs/errors.md', import.meta.url)

describe('error catalog', () => {
  const doc = readFileSync(DOC, 'utf8')
  const documentedCodes = [...doc.matchAll(/^###\s+`([a-z_]+)`\s*$/gm)].map((m) => m[1])
  const documentedEntries = [...doc.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map((m) => ({
    name: m[1],
    status: Number(m[2]),
  }))

  it('documents every code in docs/errors.md, and documents no code that does not exist', () => {
    expect([...documentedCodes].sort()).toEqual([...PROBLEM_CODES].sort())
  })

  it('documents every catalog entry with its status, and no entry that does not exist', () => {
    const actual = CATALOG.map((e) => ({ name: e.name, status: e.status })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )
    const documented = [...documentedEntries].sort((a, b) => a.name!.localeCompare(b.name!))
    expect(documented).toEqual(actual)
  })

  it('uses only codes of the closed list, with the name as key', () => {
    for (const [key, entry] of Object.entries(ERRORS)) {
      expect(entry.name).toBe(key)
      expect(PROBLEM_CODES).toContain(entry.code)
      expect(entry.status).toBeGreaterThanOrEqual(200)
      expect(entry.status).toBeLessThan(600)
    }
  })

  it('fills detail placeholders and leaves unknown ones visible', () => {
    expect(renderDetail('a {x} b {y}', { x: 1 })).toBe('a 1 b {y}')
  })
})
