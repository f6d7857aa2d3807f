import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { cpuMicros, sleep } from './harness.ts'
import type { Target } from './rounds.ts'

/**
 * The startup group's measurement: wall time from spawning `node <script>` to its first answer,
 * and the CPU the process used until then (steadier than wall time on a busy machine). Every
 * target is started the same way, by plain `node`, as an MCP client or a service manager does.
 */
export interface StartupResult {
  ms: number
  cpuMs: number
}

const ROOT = new URL('../../', import.meta.url).pathname
const ANSWER_TIMEOUT_MS = 60_000
const POLL_MS = 5

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

function healthz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('error', () => resolve(false))
    req.end()
  })
}

// Started processes do not all end with their parent (`arw start` ignores its stdin), so a runner
// stopped midway (Ctrl-C, a test's timeout: see run.ts's signal handlers) kills what is left.
const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

interface Started {
  child: ChildProcess
  exited: Promise<void>
  /** The last of what the child wrote to stderr, for the error when it fails to start. */
  stderr(): string
}

function launch(script: string, args: string[], env: NodeJS.ProcessEnv): Started {
  const child = spawn(process.execPath, [join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let tail = ''
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-2000)
  })
  live.add(child)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child)
      resolve()
    }),
  )
  return { child, exited, stderr: () => tail }
}

async function stop(started: Started): Promise<void> {
  const { child } = started
  if (child.exitCode === null && child.signalCode === null) {
    child.stdin!.end()
    child.kill('SIGTERM')
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000)
    await started.exited
    clearTimeout(kill)
  }
}

function failed(script: string, started: Started, why: string): Error {
  return new Error(`${script} ${why}: ${started.stderr().slice(-600) || '(no stderr)'}`)
}

/** Times `node <script> <args>` until GET /healthz on a port picked for it answers 200. */
async function timeHttpStart(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<StartupResult> {
  const port = await freePort()
  const t0 = performance.now()
  const started = launch(script, args, {
    ...env,
    PORT: String(port),
    ARW_HOST: '127.0.0.1',
    ARW_PORT: String(port),
  })
  let exited = false
  void started.exited.then(() => {
    exited = true
  })
  try {
    while (!(await healthz(port))) {
      if (exited) throw failed(script, started, 'exited before it answered /healthz')
      if (performance.now() - t0 > ANSWER_TIMEOUT_MS)
        throw failed(script, started, 'did not answer /healthz in 60 s')
      await sleep(POLL_MS)
    }
    const ms = performance.now() - t0
    return { ms, cpuMs: cpuMicros(started.child.pid) / 1000 }
  } finally {
    await stop(started)
  }
}

/** Times `node <script> <args>` until it answers an MCP `initialize` sent on its stdin at once. */
async function timeStdioInitialize(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<StartupResult> {
  const t0 = performance.now()
  const started = launch(script, args, env)
  started.child.stdin!.write(
    `${JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'arw-bench', version: '1.0.0' },
      },
    })}\n`,
  )
  try {
    const answer = await new Promise<StartupResult>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(failed(script, started, 'did not answer initialize in 60 s')),
        ANSWER_TIMEOUT_MS,
      )
      void started.exited.then(() => reject(failed(script, started, 'exited before it answered initialize')))
      createInterface({ input: started.child.stdout! }).on('line', (line) => {
        let message: { id?: unknown; result?: unknown; error?: unknown }
        try {
          message = JSON.parse(line)
        } catch {
          return
        }
        if (message.id !== 1) return
        const ms = performance.now() - t0
        clearTimeout(timer)
        if (!message.result) reject(failed(script, started, `answered initialize with ${line.slice(0, 300)}`))
        else resolve({ ms, cpuMs: cpuMicros(started.child.pid) / 1000 })
      })
    })
    return answer
  } finally {
    await stop(started)
  }
}

/**
 * The startup group's targets. The daemon runs as `node daemon/bin/arw.js`, whatever that file is
 * at the time (a tsx loader today, compiled JavaScript once there is a build step), each target on
 * its own temporary state directory, kept across its rounds as a user's would be. Each round
 * starts a target twice: an unmeasured warm-up (the first one also creates the state directory and
 * fills tsx's compile cache and the OS file cache, as a user's earlier launch would), then the
 * measured start.
 */
export function startupTargets(): { targets: Target<StartupResult>[]; cleanup(): void } {
  const dirs: string[] = []
  const cleanup = () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', cleanup)
  const stateDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'arw-bench-startup-'))
    dirs.push(dir)
    return dir
  }
  const warmed = (time: () => Promise<StartupResult>) => async () => {
    await time()
    return time()
  }
  const daemonEnv = (dir: string) => ({ ARW_STATE_DIR: dir, ARW_LOG_LEVEL: 'warn' })
  const startDir = stateDir()
  const mcpDir = stateDir()
  return {
    targets: [
      { name: 'raw node:http', run: warmed(() => timeHttpStart('bench/src/servers/startup-raw.js', [], {})) },
      {
        name: 'fastify hello',
        run: warmed(() => timeHttpStart('bench/src/servers/startup-fastify.js', [], {})),
      },
      {
        name: 'arw start /healthz',
        run: warmed(() => timeHttpStart('daemon/bin/arw.js', ['start'], daemonEnv(startDir))),
      },
      {
        name: 'arw mcp initialize',
        run: warmed(() => timeStdioInitialize('daemon/bin/arw.js', ['mcp'], daemonEnv(mcpDir))),
      },
    ],
    cleanup,
  }
}
