import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { type Child, type LoadResult, load, sleep, startChild } from './harness.ts'

/**
 * `npm run bench [-- <group>...]`: every server under test runs in its own process on loopback,
 * next to the anchors it is compared with, in the same run. Each prints a table and the
 * `ratio <name> <value>` lines the issues name. ARW_BENCH_SECONDS sets the measured round
 * (warm-up is a third of it); ARW_BENCH_CONNECTIONS the load connections (50).
 */
const SECONDS = Number(process.env['ARW_BENCH_SECONDS'] ?? 10)
const WARMUP = Math.max(1, Math.round(SECONDS / 3))
const CONNECTIONS = Number(process.env['ARW_BENCH_CONNECTIONS'] ?? 50)
const SUBSCRIBERS = Number(process.env['ARW_BENCH_SUBSCRIBERS'] ?? 1000)
const TOKEN = 'bench-admin-token'
const ADMIN = { 'x-arw-admin': TOKEN }
const ECHO_BODY = JSON.stringify({ input: { text: 'hello' } })
const MCP_BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'demo.echo', arguments: { text: 'hello' } },
})

interface Row extends LoadResult {
  name: string
}

const figures: Record<string, unknown> = {}
const ratios: Record<string, number> = {}

function printTable(title: string, rows: Row[]): void {
  console.log(`\n## ${title} (${CONNECTIONS} connections, ${WARMUP}s warm-up, ${SECONDS}s measured)`)
  console.log(
    'target'.padEnd(22),
    'req/s'.padStart(9),
    'p50 ms'.padStart(7),
    'p99 ms'.padStart(7),
    'cpu µs/req'.padStart(11),
    ' bad',
  )
  for (const r of rows) {
    const bad = r.non2xx + r.errors
    console.log(
      r.name.padEnd(22),
      Math.round(r.rps).toString().padStart(9),
      r.p50.toString().padStart(7),
      r.p99.toString().padStart(7),
      r.cpuPerRequest.toFixed(1).padStart(11),
      bad > 0 ? ` ${bad} NOT OK: excluded from ratios` : ' 0',
    )
  }
}

function ratio(name: string, a: Row | number | undefined, b: Row | number | undefined): void {
  const av = typeof a === 'number' ? a : a && a.non2xx + a.errors === 0 ? a.rps : Number.NaN
  const bv = typeof b === 'number' ? b : b && b.non2xx + b.errors === 0 ? b.rps : Number.NaN
  const value = av / bv
  ratios[name] = Number(value.toFixed(2))
  console.log(`ratio ${name} ${Number.isFinite(value) ? value.toFixed(2) : 'n/a'}`)
}

async function measure(
  name: string,
  server: Child,
  path: string,
  body: string,
  headers: Record<string, string> = {},
) {
  const url = `http://127.0.0.1:${server.ready['port']}${path}`
  const result = await load({
    url,
    body,
    headers,
    connections: CONNECTIONS,
    warmupSeconds: WARMUP,
    seconds: SECONDS,
    pid: server.child.pid,
  })
  return { name, ...result }
}

async function withServer<T>(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  fn: (s: Child) => Promise<T>,
): Promise<T> {
  const server = await startChild(file, args, env)
  try {
    return await fn(server)
  } finally {
    await server.stop()
  }
}

/** Checks a target answers the bench request correctly before it is measured. */
async function expectOk(
  url: string,
  body: string,
  headers: Record<string, string>,
  needle: string,
): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })
  const text = await res.text()
  if (!res.ok || !text.includes(needle) || text.includes('"isError":true')) {
    throw new Error(
      `${url} did not answer the bench request correctly (${res.status}): ${text.slice(0, 300)}`,
    )
  }
}

const DAEMON_ENV = { ARW_ADMIN_TOKEN: TOKEN }

async function invokeGroup(): Promise<void> {
  const rows: Row[] = []
  rows.push(
    await withServer('bench/src/servers/raw-echo.ts', [], {}, (s) =>
      measure('raw node:http', s, '/tools/demo.echo:invoke', ECHO_BODY),
    ),
  )
  rows.push(
    await withServer('bench/src/servers/fastify-echo.ts', [], {}, (s) =>
      measure('fastify + schema', s, '/tools/demo.echo:invoke', ECHO_BODY),
    ),
  )
  for (const durability of ['commit', 'fsync'] as const) {
    rows.push(
      await withServer(
        'bench/src/servers/daemon.ts',
        [],
        { ...DAEMON_ENV, ARW_DURABILITY: durability },
        async (s) => {
          const url = `http://127.0.0.1:${s.ready['port']}/tools/demo.echo:invoke`
          await expectOk(url, ECHO_BODY, ADMIN, '"text":"hello"')
          return measure(`daemon (${durability})`, s, '/tools/demo.echo:invoke', ECHO_BODY, ADMIN)
        },
      ),
    )
  }
  printTable('invoke: demo.echo through the full pipeline vs anchors', rows)
  const [raw, fastify, daemon, fsync] = rows
  ratio('invoke/raw', daemon, raw)
  ratio('invoke/fastify', daemon, fastify)
  ratio('invoke-fsync/raw', fsync, raw)
  console.log(`p99 invoke ${daemon!.p99}`)
  figures['invoke'] = rows
}

interface Fanout {
  name: string
  deliveriesPerSecond: number
  eventsPerSecond: number
  subscribersLeft: number
}

/** Opens the subscribers, then publishes as fast as the producer can for the measured round. */
async function fanout(
  name: string,
  server: Child,
  streamPath: string,
  publishPath: string,
  publishBody: string,
  headers: Record<string, string>,
): Promise<Fanout> {
  const port = server.ready['port']
  const subscribers = await startChild('bench/src/sse-subscribers.ts', [
    `http://127.0.0.1:${port}${streamPath}`,
    String(SUBSCRIBERS),
    JSON.stringify(headers),
  ])
  try {
    const count = async () => {
      subscribers.child.stdin!.write('count\n')
      return (await subscribers.next()) as { frames: number; open: number; closed: number }
    }
    const publish = (seconds: number) =>
      load({
        url: `http://127.0.0.1:${port}${publishPath}`,
        body: publishBody,
        headers,
        connections: 4,
        warmupSeconds: 0,
        seconds,
      })
    await publish(WARMUP)
    await sleep(500)
    const before = await count()
    const started = performance.now()
    const produced = await publish(SECONDS)
    const after = await count()
    const elapsed = (performance.now() - started) / 1000
    return {
      name,
      deliveriesPerSecond: (after.frames - before.frames) / elapsed,
      eventsPerSecond: produced.rps,
      subscribersLeft: after.open - after.closed,
    }
  } finally {
    await subscribers.stop()
  }
}

async function sseGroup(): Promise<void> {
  const raw = await withServer('bench/src/servers/raw-broadcast.ts', [], {}, (s) =>
    fanout('raw broadcast', s, '/events', '/publish', '{}', {}),
  )
  const daemon = await withServer(
    'bench/src/servers/daemon.ts',
    [],
    { ...DAEMON_ENV, ARW_SSE_MAX_QUEUE: '4096' },
    (s) => fanout('daemon /admin/events', s, '/admin/events', '/tools/demo.echo:invoke', ECHO_BODY, ADMIN),
  )
  console.log(
    `\n## sse: fan-out to ${SUBSCRIBERS} subscribers (publisher: 4 connections, ${SECONDS}s measured)`,
  )
  console.log(
    'target'.padEnd(22),
    'deliveries/s'.padStart(13),
    'events/s'.padStart(9),
    'subscribers left'.padStart(17),
  )
  for (const r of [raw, daemon]) {
    console.log(
      r.name.padEnd(22),
      Math.round(r.deliveriesPerSecond).toString().padStart(13),
      Math.round(r.eventsPerSecond).toString().padStart(9),
      String(r.subscribersLeft).padStart(17),
    )
  }
  ratio('sse/raw', daemon.deliveriesPerSecond, raw.deliveriesPerSecond)
  figures['sse'] = [raw, daemon]
}

const MCP_HEADERS = { accept: 'application/json, text/event-stream' }

/** Opens a 2025-11-25 session the way a client does; returns the headers that carry it. */
async function mcpSession(url: string, headers: Record<string, string>): Promise<Record<string, string>> {
  const init = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...MCP_HEADERS, ...headers },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'arw-bench', version: '1.0.0' },
      },
    }),
  })
  const session = init.headers.get('mcp-session-id')
  const body = await init.text()
  if (!init.ok || !session)
    throw new Error(`${url}: initialize failed (${init.status}): ${body.slice(0, 300)}`)
  const version = /"protocolVersion":"([^"]+)"/.exec(body)?.[1] ?? '2025-11-25'
  const sessionHeaders = { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': version }
  await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...MCP_HEADERS, ...sessionHeaders },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  }).then((r) => r.text())
  return sessionHeaders
}

async function mcpTarget(
  name: string,
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  session: boolean,
  auth: Record<string, string> = {},
): Promise<Row> {
  return withServer(file, args, env, async (s) => {
    const url = `http://127.0.0.1:${s.ready['port']}/mcp`
    const headers = session ? await mcpSession(url, { ...MCP_HEADERS, ...auth }) : { ...MCP_HEADERS, ...auth }
    await expectOk(url, MCP_BODY, headers, 'hello')
    return measure(name, s, '/mcp', MCP_BODY, headers)
  })
}

async function mcpGroup(): Promise<void> {
  const rows = [
    await mcpTarget('sdk stateless', 'bench/src/servers/mcp-sdk.ts', ['stateless'], {}, false),
    await mcpTarget('sdk session', 'bench/src/servers/mcp-sdk.ts', ['session'], {}, true),
    await mcpTarget('fastmcp httpStream', 'bench/src/servers/mcp-fastmcp.ts', [], {}, false),
    await mcpTarget('daemon /mcp', 'bench/src/servers/daemon.ts', [], DAEMON_ENV, true, {
      authorization: `Bearer ${TOKEN}`,
    }),
  ]
  printTable('mcp: tools/call demo.echo over Streamable HTTP', rows)
  const [stateless, session, fastmcp, daemon] = rows
  ratio('mcp/sdk-session', daemon, session)
  ratio('mcp/sdk-stateless', daemon, stateless)
  ratio('mcp/fastmcp', daemon, fastmcp)
  figures['mcp'] = rows
}

const GROUPS: Record<string, () => Promise<void>> = { invoke: invokeGroup, sse: sseGroup, mcp: mcpGroup }

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const unknown = wanted.filter((g) => !GROUPS[g])
if (unknown.length > 0) {
  console.error(`unknown bench group ${unknown.join(', ')}; groups: ${Object.keys(GROUPS).join(', ')}`)
  process.exit(2)
}
console.log(
  `# arw bench: node ${process.version}, ${availableParallelism()} cores, load from this process (autocannon), each server in its own process`,
)
for (const group of wanted.length > 0 ? wanted : Object.keys(GROUPS)) await GROUPS[group]!()
mkdirSync(new URL('../results/', import.meta.url), { recursive: true })
const file = new URL(`../results/${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url)
writeFileSync(
  file,
  `${JSON.stringify({ node: process.version, seconds: SECONDS, connections: CONNECTIONS, ratios, figures }, null, 2)}\n`,
)
console.log(`\nresults: ${file.pathname}`)
