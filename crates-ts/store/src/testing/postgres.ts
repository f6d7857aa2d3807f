import { execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A real PostgreSQL server for tests: initdb and postgres from the Debian package (installed with
 * apt-get when missing), in a temporary directory, on 127.0.0.1 at a free port, with its unix
 * socket in that directory too. `stop()` shuts it down and removes the directory; a test process
 * that exits without calling it still stops the server.
 */
export interface PostgresServer {
  readonly port: number
  /** URL of the server's `postgres` database. */
  readonly url: string
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): string
  /** Runs SQL (psql) in a database of the server, as the superuser; returns psql's output. */
  sql(database: string, sql: string): string
  /**
   * Runs a client tool of the server's version (pg_dump, pg_restore, ...) as the server's user, in
   * the server's directory (where relative file names go), connected to it; returns its output.
   */
  tool(name: string, args: readonly string[]): string
  stop(): Promise<void>
}

export interface PostgresServerOptions {
  /**
   * Keep the server's own fsync on (benchmarks). Tests turn it off: what they test is the daemon's
   * side of durability, and a flush per commit on a shared test machine only makes them slow.
   */
  fsync?: boolean
}

const ROOT = '/usr/lib/postgresql'

function binDir(): string {
  const find = () =>
    existsSync(ROOT)
      ? readdirSync(ROOT)
          .sort((a, b) => Number(b) - Number(a))
          .map((v) => join(ROOT, v, 'bin'))
          .find((bin) => existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres')))
      : undefined
  const found = find()
  if (found) return found
  // Like the UI tests' Chromium: the suite installs what it needs rather than asking for a setup step.
  execFileSync('apt-get', ['update'], { stdio: 'ignore' })
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
  const installed = find()
  if (!installed) throw new Error('apt-get install postgresql did not provide initdb and postgres')
  return installed
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export async function startPostgres(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const bin = binDir()
  const dir = mkdtempSync(join(tmpdir(), 'arw-pg-'))
  const data = join(dir, 'data')
  // PostgreSQL refuses to run as root: as root, the server runs as the package's `postgres` user.
  const asRoot = process.getuid?.() === 0
  if (asRoot) chownSync(dir, uidOf('postgres'), gidOf('postgres'))
  const run = (tool: string, args: string[]): string =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args], {
          encoding: 'utf8',
          cwd: dir,
        })
      : execFileSync(join(bin, tool), args, { encoding: 'utf8', cwd: dir })
  try {
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'])
    const port = await freePort()
    const settings = [
      `-p ${port}`,
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${dir}`,
      '-c max_connections=200',
      ...(options.fsync ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
    ].join(' ')
    run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', settings, 'start'])
    let stopped = false
    const stopNow = () => {
      if (stopped) return
      stopped = true
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } catch {
        // Already gone.
      }
      rmSync(dir, { recursive: true, force: true })
    }
    process.once('exit', stopNow)
    const psql = (database: string, sql: string) =>
      run('psql', [
        '-h',
        dir,
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        database,
        '-v',
        'ON_ERROR_STOP=1',
        '-qAtc',
        sql,
      ])
    const urlOf = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`
    return {
      port,
      url: urlOf('postgres'),
      createDatabase(name) {
        if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`)
        psql('postgres', `CREATE DATABASE ${name}`)
        return urlOf(name)
      },
      sql: psql,
      tool: (name, args) => run(name, ['-h', dir, '-p', String(port), '-U', 'postgres', ...args]),
      async stop() {
        process.off('exit', stopNow)
        stopNow()
      },
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim())
}

function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim())
}
