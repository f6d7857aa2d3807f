import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import type { DocBlock } from './blocks.ts'

export const ROOT = join(import.meta.dirname, '../..')
/** The address docs use; examples run against the test daemon's address instead. */
export const DOC_BASE = 'http://127.0.0.1:8090'
/** The token examples run with (docs read it from $ARW_ADMIN_TOKEN); the test daemon is started with it. */
export const DOC_TOKEN = 'doc-test-token-0123456789abcdef'

export interface RunResult {
  status: number | null
  stdout: string
  stderr: string
  timedOut: boolean
}

/**
 * Runs every shell block with `set -eo pipefail`, in bash, with $BASE, $ARW_URL and
 * $ARW_ADMIN_TOKEN pointing at the test daemon and this checkout's bin (arw) on the PATH. A
 * `curl | head` that stops reading early is not a failure (curl exit 23).
 */
const PRELUDE = `set -eo pipefail
curl() { command curl "$@" || { local s=$?; [ "$s" -eq 23 ] && return 0; return "$s"; }; }
`

export function runBlock(block: DocBlock, base: string, timeoutMs = 30_000): Promise<RunResult> {
  const env = {
    ...process.env,
    BASE: base,
    ARW_URL: base,
    ARW_ADMIN_TOKEN: DOC_TOKEN,
    PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env['PATH'] ?? ''}`,
    NO_COLOR: '1',
  }
  const code = (block.prelude ? `${block.prelude}\n${block.code}` : block.code).replaceAll(DOC_BASE, base)
  let command: string
  let args: string[]
  if (block.lang === 'bash') {
    command = 'bash'
    args = ['-c', PRELUDE + code]
  } else {
    // TypeScript examples run from inside the repo so their imports resolve like a user's would.
    const dir = join(ROOT, 'doc-tests/.run')
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `${basename(block.file, '.md')}-${block.line}.ts`)
    writeFileSync(file, code)
    command = process.execPath
    args = ['--import', 'tsx', file]
  }
  const limit = block.streamSeconds !== undefined ? block.streamSeconds * 1000 : timeoutMs
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.on('data', (c) => {
      stdout += c
    })
    child.stderr.on('data', (c) => {
      stderr += c
    })
    const timer = setTimeout(() => {
      timedOut = true
      // The whole process group: a pipeline's curl must stop too.
      try {
        process.kill(-child.pid!, 'SIGTERM')
      } catch {
        child.kill('SIGTERM')
      }
    }, limit)
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr, timedOut })
    })
  })
}
