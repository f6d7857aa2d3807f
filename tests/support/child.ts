import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const CHILD = fileURLToPath(new URL('./daemon-child.ts', import.meta.url))
const BIN = fileURLToPath(new URL('../../daemon/bin/arw.js', import.meta.url))

/**
 * Runs `arw <args>` (the bin shim, as users do) on loopback with a free port, to its end; killed
 * after 20 s so a command that hangs fails its test instead of the run. Answers its exit code and
 * what it wrote to stderr.
 */
export function runArw(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ARW_HOST: '127.0.0.1', ARW_PORT: '0', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    c.stderr!.on('data', (d) => {
      stderr += d
    })
    const timer = setTimeout(() => c.kill('SIGKILL'), 20_000)
    c.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stderr })
    })
  })
}

export interface Child {
  proc: ChildProcess
  url: string
  output: () => string
}

/** Starts a daemon child process on a free loopback port and waits until it listens. */
export async function startChild(env: Record<string, string>, timeoutMs = 20_000): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, ARW_HOST: '127.0.0.1', ARW_PORT: '0', ARW_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  proc.stdout!.on('data', (c) => {
    out += c
  })
  proc.stderr!.on('data', (c) => {
    out += c
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not start:\n${out}`)), timeoutMs)
    const check = () => {
      const m = /READY (\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    }
    proc.stdout!.on('data', check)
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`daemon exited with ${code}:\n${out}`))
    })
  })
  return { proc, url, output: () => out }
}

export function waitExit(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => proc.once('exit', () => resolve()))
}

/**
 * What a test file leaves behind: temporary directories and daemon children, removed and killed
 * by `clean()` (call it from afterAll).
 */
export class Scratch {
  readonly #prefix: string
  readonly #dirs: string[] = []
  readonly #children: Child[] = []

  constructor(prefix: string) {
    this.#prefix = prefix
  }

  dir(): string {
    const dir = mkdtempSync(join(tmpdir(), this.#prefix))
    this.#dirs.push(dir)
    return dir
  }

  keep(child: Child): Child {
    this.#children.push(child)
    return child
  }

  clean(): void {
    for (const c of this.#children) c.proc.kill('SIGKILL')
    for (const d of this.#dirs) rmSync(d, { recursive: true, force: true })
  }
}
