// Vitest setup file: turns the response contract check (contract.ts) on for every daemon a test
// builds or starts, in process or in a child, and fails the test during which an answer broke it.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach } from 'vitest'
import { CONTRACT_CHECK_ENV, type ContractViolation } from './contract.ts'

const dir = mkdtempSync(join(tmpdir(), 'arw-contract-'))
const file = join(dir, 'violations.jsonl')
process.env[CONTRACT_CHECK_ENV] = file

/** Throws the violations recorded since the last call, one readable line per answer. */
function throwViolations(): void {
  if (!existsSync(file)) return
  const text = readFileSync(file, 'utf8')
  if (text.trim() === '') return
  writeFileSync(file, '')
  const lines = text
    .trim()
    .split('\n')
    .map((line) => {
      const v = JSON.parse(line) as ContractViolation
      const path = v.path.length > 120 ? `${v.path.slice(0, 120)}…(${v.path.length} chars)` : v.path
      return `  ${v.method} ${path} → ${v.status}: ${v.problems.join('; ')}`
    })
  throw new Error(`answers not documented in spec/openapi.yaml:\n${lines.join('\n')}`)
}

afterEach(throwViolations)
afterAll(() => {
  try {
    throwViolations()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
