import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TestDaemon, testDaemon } from '../../daemon/src/testing/harness.ts'

/**
 * Debian's nginx, configured with exactly the block docs/deployment.md documents (read from the
 * page: only the addresses, ports and certificate paths are swapped for the test's), terminating
 * TLS in front of a daemon, all on loopback. Checks what an operator relies on through it: invoke,
 * an event stream that delivers each event as it happens, MCP over Streamable HTTP, and the real
 * client's address arriving at the daemon.
 */
const HERE = fileURLToPath(new URL('.', import.meta.url))
const DOC = join(HERE, '../../docs/deployment.md')
const NGINX = '/usr/sbin/nginx'
const run = promisify(execFile)

let work: string
let d: TestDaemon
let nginx: ChildProcess | undefined
let nginxLog = ''
let https: string
let httpPort: number
let ca: string

/** The documented nginx block: the page's one ```nginx fence. */
function documentedConfig(): string {
  const blocks = [...readFileSync(DOC, 'utf8').matchAll(/```nginx\n([\s\S]*?)```/g)].map((m) => m[1]!)
  expect(blocks).toHaveLength(1)
  return blocks[0]!
}

/** Replaces `from` (which must occur exactly once, so a changed page fails here) by `to`. */
function swapOnce(text: string, from: string, to: string): string {
  expect(text.split(from).length - 1, `docs/deployment.md's nginx block contains ${from} once`).toBe(1)
  return text.replace(from, to)
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

/**
 * fetch over node:https, trusting the test's own certificate and leaving from a chosen loopback
 * address (the "client" nginx sees). Streams the body as it arrives, as fetch does.
 */
function fetchFrom(localAddress = '127.0.0.1') {
  return (url: string | URL, init: RequestInit = {}): Promise<Response> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = {}
      new Headers(init.headers).forEach((value, key) => {
        headers[key] = value
      })
      const req = request(
        url,
        {
          method: init.method ?? 'GET',
          headers,
          ca,
          localAddress,
          ...(init.signal ? { signal: init.signal } : {}),
        },
        (res) => {
          const out = new Headers()
          for (const [k, v] of Object.entries(res.headers))
            if (v !== undefined) out.set(k, [v].flat().join(', '))
          const empty = res.statusCode === 204 || res.statusCode === 304 || init.method === 'HEAD'
          resolve(
            new Response(empty ? null : (Readable.toWeb(res) as ReadableStream), {
              status: res.statusCode!,
              headers: out,
            }),
          )
        },
      )
      req.on('error', reject)
      if (init.body !== undefined && init.body !== null) req.write(init.body as string)
      req.end()
    })
}

beforeAll(async () => {
  await run('bash', [join(HERE, '..', 'support', 'ensure-debian-package.sh'), '/usr/sbin/nginx', 'nginx'], {
    timeout: 660_000,
  }).catch((e: { stderr?: string }) => {
    throw new Error(`nginx is missing and could not be installed:\n${e.stderr ?? String(e)}`)
  })
  work = mkdtempSync(join(tmpdir(), 'arw-nginx-'))
  // nginx's workers drop root: they must be able to reach their temp folders under this one.
  chmodSync(work, 0o755)
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    ...['-keyout', join(work, 'key.pem'), '-out', join(work, 'cert.pem')],
  ])
  ca = readFileSync(join(work, 'cert.pem'), 'utf8')

  d = await testDaemon({ config: { trustProxy: ['127.0.0.1'], authFailuresPerMinute: 2 } })
  const daemonPort = new URL(await d.listen()).port
  const tlsPort = await freePort()
  httpPort = await freePort()
  https = `https://127.0.0.1:${tlsPort}`

  let site = documentedConfig()
  site = swapOnce(site, 'server 127.0.0.1:8090;', `server 127.0.0.1:${daemonPort};`)
  site = swapOnce(site, 'listen 443 ssl;', `listen 127.0.0.1:${tlsPort} ssl;`)
  site = swapOnce(site, 'listen 80;', `listen 127.0.0.1:${httpPort};`)
  site = swapOnce(site, '/etc/letsencrypt/live/arw.example.com/fullchain.pem', join(work, 'cert.pem'))
  site = swapOnce(site, '/etc/letsencrypt/live/arw.example.com/privkey.pem', join(work, 'key.pem'))
  writeFileSync(join(work, 'arw.conf'), site)
  // The main file is the test's own (Debian's would listen on port 80 and log under /var/log).
  writeFileSync(
    join(work, 'nginx.conf'),
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${join(work, 'nginx.pid')};`,
      `error_log ${join(work, 'error.log')} warn;`,
      'events { worker_connections 64; }',
      'http {',
      '    access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
        (t) => `    ${t}_temp_path ${join(work, `${t}_temp`)};`,
      ),
      `    include ${join(work, 'arw.conf')};`,
      '}',
      '',
    ].join('\n'),
  )
  await run(NGINX, ['-t', '-p', work, '-c', join(work, 'nginx.conf')])
  nginx = spawn(NGINX, ['-p', work, '-c', join(work, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] })
  nginx.stderr!.on('data', (c) => {
    nginxLog += c
  })
  const deadline = Date.now() + 15_000
  for (;;) {
    try {
      await fetchFrom()(`${https}/healthz`)
      break
    } catch (error) {
      if (Date.now() > deadline || nginx.exitCode !== null)
        throw new Error(`nginx did not start: ${nginxLog}`)
      void error
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}, 700_000)

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    const exited = new Promise((r) => nginx!.once('exit', r))
    nginx.kill('SIGTERM')
    await exited
  }
  await d?.close()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('the documented nginx configuration in front of the daemon', () => {
  it('terminates TLS and invokes a tool; plain HTTP is redirected to HTTPS', async () => {
    const res = await fetchFrom()(`${https}/tools/demo.echo:invoke`, {
      method: 'POST',
      headers: { ...d.admin, 'content-type': 'application/json' },
      body: JSON.stringify({ input: { text: 'through nginx' } }),
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ output: { text: 'through nginx' }, tool: 'demo.echo@1.0.0' })
    expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000')
    const plain = await fetch(`http://127.0.0.1:${httpPort}/healthz`, { redirect: 'manual' })
    expect(plain.status).toBe(301)
    expect(plain.headers.get('location')).toBe('https://127.0.0.1/healthz')
  })

  it('passes the event stream on event by event: each arrives before the next is even caused', async () => {
    const controller = new AbortController()
    const res = await fetchFrom()(`${https}/admin/events?prefix=tool.`, {
      headers: { ...d.admin, accept: 'text/event-stream' },
      signal: controller.signal,
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    const until = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read()
        if (done) throw new Error(`stream ended before ${needle}:\n${text}`)
        text += decoder.decode(value, { stream: true })
      }
    }
    try {
      await until('events.hello')
      // A buffering proxy would hold the first event until its buffer fills or the stream ends;
      // the stream stays open, so waiting for each event in turn fails unless each is passed on.
      for (const word of ['first-live', 'second-live']) {
        const call = await d.app.inject({
          method: 'POST',
          url: '/tools/demo.echo:invoke',
          headers: { ...d.admin, 'content-type': 'application/json' },
          payload: { input: { text: word } },
        })
        expect(call.statusCode).toBe(200)
        await until(word)
      }
    } finally {
      controller.abort()
      await reader.cancel().catch(() => undefined)
    }
  })

  it('serves MCP over Streamable HTTP through it', async () => {
    const client = new Client({ name: 'arw-nginx-test', version: '1.0.0' }, { capabilities: {} })
    const transport = new StreamableHTTPClientTransport(new URL(`${https}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${d.admin['x-arw-admin']}` } },
      fetch: fetchFrom(),
    })
    await client.connect(transport)
    try {
      const { tools } = await client.listTools()
      expect(tools.map((t) => t.name)).toContain('demo.echo')
      const result = await client.callTool({ name: 'demo.echo', arguments: { text: 'mcp via nginx' } })
      expect(result.structuredContent).toEqual({ text: 'mcp via nginx' })
    } finally {
      await client.close()
    }
  })

  it("forwards the client's address, which the daemon (trusting nginx) counts per client", async () => {
    // ARW_AUTH_FAILURES_PER_MIN is 2 here. Client 127.0.0.3 fails twice, then is refused...
    const wrong = { 'x-arw-admin': 'wrong-token' }
    for (const status of [401, 401, 429]) {
      const res = await fetchFrom('127.0.0.3')(`${https}/admin/introspect/tools`, { headers: wrong })
      expect(res.status).toBe(status)
      await res.arrayBuffer()
    }
    // ...while 127.0.0.4, through the same nginx (the same peer for the daemon), is not: the
    // daemon tells them apart only by the X-Forwarded-For nginx set.
    const other = await fetchFrom('127.0.0.4')(`${https}/admin/introspect/tools`, { headers: wrong })
    expect(other.status).toBe(401)
    const right = await fetchFrom('127.0.0.4')(`${https}/admin/introspect/tools`, { headers: d.admin })
    expect(right.status).toBe(200)
  })
})
