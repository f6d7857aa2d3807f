import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startPostgres } from '@arw/store/testing'
import { type Child, type LoadResult, load, sleep, startChild } from './harness.ts'
import { describeMachine, header, loadAverage } from './machine.ts'
import { mainThreadProfile, printProfile, summarizeProfile } from './profile.ts'
import { figure, printLoadTable, type Row, ratio, ratios, roundRatios, summarize } from './report.ts'
import { interleave, type Target } from './rounds.ts'
import { startupTargets } from './startup.ts'
import { formatSpread, spread } from './stats.ts'

/**
 * `npm run bench [-- <group>...] [--rounds N]`: every server under test runs in its own process on
 * loopback, next to the anchors it is compared with, in the same run, in interleaved rounds. Each
 * group prints a table of medians (min–max) and the `ratio <name> <value>` lines the issues name.
 * `npm run bench -- profile <invoke|mcp|federation>` profiles the daemon under that load instead.
 * ARW_BENCH_SECONDS sets the measured round (warm-up is a third of it); ARW_BENCH_CONNECTIONS the
 * load connections (50); ARW_BENCH_SUBSCRIBERS the SSE subscribers (1000).
 */
const SECONDS = Number(process.env['ARW_BENCH_SECONDS'] ?? 10)
const WARMUP = Math.max(1, Math.round(SECONDS / 3))
const CONNECTIONS = Number(process.env['ARW_BENCH_CONNECTIONS'] ?? 50)
const SUBSCRIBERS = Number(process.env['ARW_BENCH_SUBSCRIBERS'] ?? 1000)
const TOKEN = 'bench-admin-token'
const ADMIN = { 'x-arw-admin': TOKEN }
const ECHO_PATH = '/tools/demo.echo:invoke'
const ECHO_BODY = JSON.stringify({ input: { text: 'hello' } })
const MCP_BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'demo.echo', arguments: { text: 'hello' } },
})
const DAEMON = 'bench/src/servers/daemon.ts'
const FASTIFY = 'bench/src/servers/fastify-echo.ts'
const DAEMON_ENV = { ARW_ADMIN_TOKEN: TOKEN }

const figures: Record<string, unknown> = {}

function usage(message: string): never {
  console.error(
    `${message}\nusage: npm run bench -- [${Object.keys(GROUPS).join('|')}...] [--rounds N]\n` +
      `       npm run bench -- profile <${Object.keys(PROFILES).join('|')}>`,
  )
  process.exit(2)
}

/** One autocannon round (warm-up, then measured) against a running server. */
function measure(
  server: Child,
  path: string,
  body: string,
  headers: Record<string, string> = {},
  connections = CONNECTIONS,
) {
  return load({
    url: `http://127.0.0.1:${server.ready['port']}${path}`,
    body,
    headers,
    connections,
    warmupSeconds: WARMUP,
    seconds: SECONDS,
    pid: server.child.pid,
  })
}

interface ServerSpec {
  file: string
  args?: string[]
  env?: NodeJS.ProcessEnv
}

/** Starts a group's servers (one after the other, so no start competes with another) for its rounds. */
async function withServers<T>(specs: ServerSpec[], fn: (servers: Child[]) => Promise<T>): Promise<T> {
  const servers: Child[] = []
  try {
    for (const s of specs) servers.push(await startChild(s.file, s.args, s.env))
    return await fn(servers)
  } finally {
    await Promise.all(servers.map((s) => s.stop()))
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

/** Runs load targets in interleaved rounds and summarizes each. */
async function loadRounds(rounds: number, targets: Target<LoadResult>[]): Promise<Row[]> {
  const results = await interleave(rounds, targets)
  return targets.map((t) => summarize(t.name, results.get(t.name)!))
}

const rps = (r: LoadResult) => r.rps
const cpu = (r: LoadResult) => r.cpuPerRequest
const p99 = (r: LoadResult) => r.p99

function settings(rounds: number, connections = CONNECTIONS): string {
  return `${connections} connections, ${rounds} round(s) of ${WARMUP}s warm-up + ${SECONDS}s measured`
}

async function invokeGroup(rounds: number): Promise<void> {
  // The daemon on PostgreSQL (ARW_STORE) too: a server started here on loopback, its fsync on.
  const postgres = await startPostgres({ fsync: true })
  try {
    await invokeRounds(rounds, postgres.createDatabase('arw_bench'))
  } finally {
    await postgres.stop()
  }
}

async function invokeRounds(rounds: number, postgresUrl: string): Promise<void> {
  await withServers(
    [
      { file: 'bench/src/servers/raw-echo.ts' },
      { file: FASTIFY },
      { file: DAEMON, env: { ...DAEMON_ENV, ARW_DURABILITY: 'commit' } },
      { file: DAEMON, env: { ...DAEMON_ENV, ARW_DURABILITY: 'fsync' } },
      { file: DAEMON, env: { ...DAEMON_ENV, ARW_STORE: postgresUrl } },
    ],
    async ([raw, fastify, commit, fsync, pg]) => {
      for (const d of [commit!, fsync!, pg!]) {
        await expectOk(`http://127.0.0.1:${d.ready['port']}${ECHO_PATH}`, ECHO_BODY, ADMIN, '"text":"hello"')
      }
      const rows = await loadRounds(rounds, [
        { name: 'raw node:http', run: () => measure(raw!, ECHO_PATH, ECHO_BODY) },
        { name: 'fastify + schema', run: () => measure(fastify!, ECHO_PATH, ECHO_BODY) },
        { name: 'daemon (commit)', run: () => measure(commit!, ECHO_PATH, ECHO_BODY, ADMIN) },
        { name: 'daemon (fsync)', run: () => measure(fsync!, ECHO_PATH, ECHO_BODY, ADMIN) },
        { name: 'daemon (postgres)', run: () => measure(pg!, ECHO_PATH, ECHO_BODY, ADMIN) },
      ])
      printLoadTable(`invoke: demo.echo through the full pipeline vs anchors (${settings(rounds)})`, rows)
      const [rawRow, fastifyRow, daemonRow, fsyncRow, pgRow] = rows as [Row, Row, Row, Row, Row]
      ratio('invoke/raw', figure(daemonRow, rps), figure(rawRow, rps))
      ratio('invoke/fastify', figure(daemonRow, rps), figure(fastifyRow, rps))
      ratio('invoke-fsync/raw', figure(fsyncRow, rps), figure(rawRow, rps))
      ratio('invoke-pg/invoke', figure(pgRow, rps), figure(daemonRow, rps))
      ratio('cpu fastify/invoke', figure(fastifyRow, cpu), figure(daemonRow, cpu))
      ratio('p99 invoke/fastify', figure(daemonRow, p99), figure(fastifyRow, p99))
      console.log(
        `p99 invoke ${daemonRow.p99.median.toFixed(2)} ms, fastify ${fastifyRow.p99.median.toFixed(2)} ms (medians)`,
      )
      figures['invoke'] = rows
    },
  )
}

interface Fanout {
  deliveriesPerSecond: number
  eventsPerSecond: number
  subscribersLeft: number
}

/** Opens the subscribers, then publishes as fast as the producer can for the measured round. */
async function fanout(
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
      deliveriesPerSecond: (after.frames - before.frames) / elapsed,
      eventsPerSecond: produced.rps,
      subscribersLeft: after.open - after.closed,
    }
  } finally {
    await subscribers.stop()
  }
}

async function sseGroup(rounds: number): Promise<void> {
  await withServers(
    [
      { file: 'bench/src/servers/raw-broadcast.ts' },
      { file: DAEMON, env: { ...DAEMON_ENV, ARW_SSE_MAX_QUEUE: '4096' } },
    ],
    async ([raw, daemon]) => {
      const targets: Target<Fanout>[] = [
        { name: 'raw broadcast', run: () => fanout(raw!, '/events', '/publish', '{}', {}) },
        {
          name: 'daemon /admin/events',
          run: () => fanout(daemon!, '/admin/events', ECHO_PATH, ECHO_BODY, ADMIN),
        },
      ]
      const results = await interleave(rounds, targets)
      console.log(
        `\n## sse: fan-out to ${SUBSCRIBERS} subscribers (publisher: 4 connections, ${rounds} round(s) of ${WARMUP}s warm-up + ${SECONDS}s measured)`,
      )
      console.log(
        'target'.padEnd(22),
        'deliveries/s median (min–max)'.padEnd(30),
        'events/s median'.padStart(15),
        'subscribers left (min)'.padStart(23),
      )
      for (const t of targets) {
        const r = results.get(t.name)!
        console.log(
          t.name.padEnd(22),
          formatSpread(spread(r.map((x) => x.deliveriesPerSecond))).padEnd(30),
          Math.round(spread(r.map((x) => x.eventsPerSecond)).median)
            .toString()
            .padStart(15),
          String(Math.min(...r.map((x) => x.subscribersLeft))).padStart(23),
        )
      }
      const deliveries = (name: string) => {
        const values = results.get(name)!.map((x) => x.deliveriesPerSecond)
        return { median: spread(values).median, rounds: values }
      }
      ratio('sse/raw', deliveries('daemon /admin/events'), deliveries('raw broadcast'))
      figures['sse'] = Object.fromEntries(results)
    },
  )
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

/** An MCP target: checks the server answers `tools/call`, then measures it on one session (or none). */
async function mcpTarget(
  name: string,
  server: Child,
  session: boolean,
  auth: Record<string, string> = {},
  body = MCP_BODY,
  connections = CONNECTIONS,
): Promise<Target<LoadResult>> {
  const url = `http://127.0.0.1:${server.ready['port']}/mcp`
  const headers = session ? await mcpSession(url, { ...MCP_HEADERS, ...auth }) : { ...MCP_HEADERS, ...auth }
  await expectOk(url, body, headers, 'hello')
  return { name, run: () => measure(server, '/mcp', body, headers, connections) }
}

async function mcpGroup(rounds: number): Promise<void> {
  await withServers(
    [
      { file: 'bench/src/servers/mcp-sdk.ts', args: ['stateless'] },
      { file: 'bench/src/servers/mcp-sdk.ts', args: ['session'] },
      { file: 'bench/src/servers/mcp-fastmcp.ts' },
      { file: DAEMON, env: DAEMON_ENV },
    ],
    async ([stateless, session, fastmcp, daemon]) => {
      await expectOk(
        `http://127.0.0.1:${daemon!.ready['port']}${ECHO_PATH}`,
        ECHO_BODY,
        ADMIN,
        '"text":"hello"',
      )
      const rows = await loadRounds(rounds, [
        await mcpTarget('sdk stateless', stateless!, false),
        await mcpTarget('sdk session', session!, true),
        await mcpTarget('fastmcp httpStream', fastmcp!, false),
        await mcpTarget('daemon /mcp', daemon!, true, { authorization: `Bearer ${TOKEN}` }),
        // The same tool over HTTP on the same daemon: what MCP adds to a call.
        { name: 'daemon http invoke', run: () => measure(daemon!, ECHO_PATH, ECHO_BODY, ADMIN) },
      ])
      printLoadTable(`mcp: tools/call demo.echo over Streamable HTTP (${settings(rounds)})`, rows)
      const [statelessRow, sessionRow, fastmcpRow, mcpRow, invokeRow] = rows as [Row, Row, Row, Row, Row]
      ratio('mcp/sdk-session', figure(mcpRow, rps), figure(sessionRow, rps))
      ratio('mcp/sdk-stateless', figure(mcpRow, rps), figure(statelessRow, rps))
      ratio('mcp/fastmcp', figure(mcpRow, rps), figure(fastmcpRow, rps))
      ratio('mcp/invoke', figure(mcpRow, rps), figure(invokeRow, rps))
      ratio('cpu invoke/mcp', figure(invokeRow, cpu), figure(mcpRow, cpu))
      figures['mcp'] = rows
    },
  )
}

/** The federation group's load: the target is stated at 10 connections (fewer in smoke runs). */
const FEDERATION_CONNECTIONS = Math.min(CONNECTIONS, 10)
const FEDERATED_TOOL = 'up.demo.echo'
const FEDERATED_MCP_BODY = MCP_BODY.replace('"demo.echo"', `"${FEDERATED_TOOL}"`)

/** Links the daemon to an upstream MCP server (a connection of kind mcp, a link that enables it). */
async function linkMcpUpstream(daemon: Child, upstreamUrl: string): Promise<void> {
  const base = `http://127.0.0.1:${daemon.ready['port']}`
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...ADMIN },
      body: JSON.stringify(body),
    })
    const answer = (await res.json()) as { link?: { status: string; health: unknown } }
    if (!res.ok)
      throw new Error(`POST ${path} failed (${res.status}): ${JSON.stringify(answer).slice(0, 300)}`)
    return answer
  }
  await post('/connections', { id: 'bench-upstream', connectorId: 'mcp', target: { url: upstreamUrl } })
  const { link } = await post('/links', { connectionId: 'bench-upstream', serviceId: 'up', autoEnable: true })
  if (link?.status !== 'up')
    throw new Error(`the bench link did not come up: ${JSON.stringify(link?.health)}`)
}

async function federationGroup(rounds: number): Promise<void> {
  await withServers(
    [
      { file: 'bench/src/servers/mcp-sdk.ts', args: ['session'] },
      { file: DAEMON, env: DAEMON_ENV },
    ],
    async ([upstream, daemon]) => {
      await linkMcpUpstream(daemon!, `http://127.0.0.1:${upstream!.ready['port']}/mcp`)
      const invokePath = `/tools/${FEDERATED_TOOL}:invoke`
      await expectOk(
        `http://127.0.0.1:${daemon!.ready['port']}${invokePath}`,
        ECHO_BODY,
        ADMIN,
        '"text":"hello"',
      )
      const n = FEDERATION_CONNECTIONS
      const rows = await loadRounds(rounds, [
        // The upstream's own session, as any MCP client (the daemon's driver included) calls it.
        await mcpTarget('direct sdk session', upstream!, true, {}, MCP_BODY, n),
        // The same upstream tool through the daemon: its MCP surface, the pipeline, the mcp driver.
        await mcpTarget(
          'federated daemon /mcp',
          daemon!,
          true,
          { authorization: `Bearer ${TOKEN}` },
          FEDERATED_MCP_BODY,
          n,
        ),
        {
          name: 'federated http invoke',
          run: () => measure(daemon!, invokePath, ECHO_BODY, ADMIN, n),
        },
        // The daemon's own echo on its /mcp: what the daemon costs without the upstream hop.
        await mcpTarget(
          'built-in daemon /mcp',
          daemon!,
          true,
          { authorization: `Bearer ${TOKEN}` },
          MCP_BODY,
          n,
        ),
      ])
      printLoadTable(
        `federation: an upstream MCP echo (SDK, Streamable HTTP) called directly and through the daemon (${settings(rounds, n)})`,
        rows,
      )
      const [directRow, mcpRow, invokeRow, builtinRow] = rows as [Row, Row, Row, Row]
      ratio('federated/direct', figure(mcpRow, rps), figure(directRow, rps))
      ratio('federated-invoke/direct', figure(invokeRow, rps), figure(directRow, rps))
      const p50 = (r: LoadResult) => r.p50
      const added = (row: Row, pick: (r: LoadResult) => number) =>
        (figure(row, pick).median - figure(directRow, pick).median).toFixed(2)
      console.log(
        `added latency, daemon /mcp: p50 ${added(mcpRow, p50)} ms, p99 ${added(mcpRow, p99)} ms (medians)`,
      )
      console.log(
        `added latency, http invoke: p50 ${added(invokeRow, p50)} ms, p99 ${added(invokeRow, p99)} ms (medians)`,
      )
      const cpuOf = (row: Row) => figure(row, cpu).median
      console.log(
        `daemon cpu per call, /mcp: federated ${cpuOf(mcpRow).toFixed(0)} µs, built-in ${cpuOf(builtinRow).toFixed(0)} µs (the upstream hop: ${(cpuOf(mcpRow) - cpuOf(builtinRow)).toFixed(0)} µs; the upstream's own: ${cpuOf(directRow).toFixed(0)} µs)`,
      )
      figures['federation'] = rows
    },
  )
}

async function startupGroup(rounds: number): Promise<void> {
  const { targets, cleanup } = startupTargets()
  try {
    const results = await interleave(rounds, targets)
    console.log(
      `\n## startup: spawn to first answer, each started by plain node (${rounds} round(s), each after a warm-up start)`,
    )
    console.log('target'.padEnd(22), 'ms median (min–max)'.padEnd(24), 'cpu ms median (min–max)')
    for (const t of targets) {
      const r = results.get(t.name)!
      console.log(
        t.name.padEnd(22),
        formatSpread(spread(r.map((x) => x.ms))).padEnd(24),
        formatSpread(spread(r.map((x) => x.cpuMs))),
      )
    }
    const of = (name: string, pick: (x: { ms: number; cpuMs: number }) => number) => {
      const values = results.get(name)!.map(pick)
      return { median: spread(values).median, rounds: values }
    }
    // The target holds for both ways a user starts the daemon, so the headline ratio is the slower.
    const slower = (pick: (x: { ms: number; cpuMs: number }) => number) => {
      const http = of('arw start /healthz', pick)
      const mcp = of('arw mcp initialize', pick)
      return {
        median: Math.max(http.median, mcp.median),
        rounds: http.rounds.map((v, i) => Math.max(v, mcp.rounds[i]!)),
      }
    }
    const ms = (x: { ms: number }) => x.ms
    const cpuMs = (x: { cpuMs: number }) => x.cpuMs
    ratio('startup/fastify', slower(ms), of('fastify hello', ms))
    ratio('startup-http/fastify', of('arw start /healthz', ms), of('fastify hello', ms))
    ratio('startup-mcp/fastify', of('arw mcp initialize', ms), of('fastify hello', ms))
    ratio('cpu startup/fastify', slower(cpuMs), of('fastify hello', cpuMs))
    figures['startup'] = Object.fromEntries(results)
  } finally {
    cleanup()
  }
}

const GROUPS: Record<string, (rounds: number) => Promise<void>> = {
  invoke: invokeGroup,
  sse: sseGroup,
  mcp: mcpGroup,
  federation: federationGroup,
  startup: startupGroup,
}

/**
 * What `profile <name>` runs and loads it with: the daemon with its request of that group, or
 * (`fastify`) the invoke group's bare Fastify anchor with the same request, so that a daemon
 * profile can be read against the framework's own cost.
 */
const PROFILES: Record<
  string,
  {
    server: string
    env: Record<string, string>
    headers: Record<string, string>
    path: string
    body: string
    session: boolean
    /** An upstream MCP server the daemon is linked to (service `up`) before the load. */
    upstream?: boolean
    connections?: number
  }
> = {
  invoke: {
    server: DAEMON,
    env: DAEMON_ENV,
    headers: ADMIN,
    path: ECHO_PATH,
    body: ECHO_BODY,
    session: false,
  },
  mcp: {
    server: DAEMON,
    env: DAEMON_ENV,
    headers: { authorization: `Bearer ${TOKEN}` },
    path: '/mcp',
    body: MCP_BODY,
    session: true,
  },
  fastify: { server: FASTIFY, env: {}, headers: {}, path: ECHO_PATH, body: ECHO_BODY, session: false },
  // The federation group's daemon target: up.demo.echo on /mcp, an SDK upstream behind it.
  federation: {
    server: DAEMON,
    env: DAEMON_ENV,
    headers: { authorization: `Bearer ${TOKEN}` },
    path: '/mcp',
    body: FEDERATED_MCP_BODY,
    session: true,
    upstream: true,
    connections: FEDERATION_CONNECTIONS,
  },
}

const stamp = () => new Date().toISOString().replace(/[:.]/g, '-')
const RESULTS = new URL('../results/', import.meta.url)

/**
 * Profiles the daemon under one group's load with `node --cpu-prof`: warm-up, then the measured
 * round, then a graceful stop (the profile is written at exit). Prints the top self-time functions
 * of the measured round, read from the main thread's `.cpuprofile`.
 */
async function profileCommand(group: string): Promise<void> {
  const spec = PROFILES[group]!
  const dir = new URL(`profile-${group}-${stamp()}/`, RESULTS).pathname
  mkdirSync(dir, { recursive: true })
  const connections = spec.connections ?? CONNECTIONS
  const upstream = spec.upstream ? await startChild('bench/src/servers/mcp-sdk.ts', ['session']) : undefined
  const now = () => Number(process.hrtime.bigint() / 1000n)
  let window: { from: number; to: number }
  let result: LoadResult
  const daemon = await startChild(spec.server, [], spec.env, ['--cpu-prof', '--cpu-prof-dir', dir]).catch(
    async (error) => {
      await upstream?.stop()
      throw error
    },
  )
  try {
    if (upstream) await linkMcpUpstream(daemon, `http://127.0.0.1:${upstream.ready['port']}/mcp`)
    const url = `http://127.0.0.1:${daemon.ready['port']}${spec.path}`
    const headers = spec.session ? await mcpSession(url, { ...MCP_HEADERS, ...spec.headers }) : spec.headers
    const loadOptions = { url, body: spec.body, headers, connections, warmupSeconds: 0 }
    await expectOk(url, spec.body, headers, 'hello')
    await load({ ...loadOptions, seconds: WARMUP })
    const from = now()
    result = await load({ ...loadOptions, seconds: SECONDS, pid: daemon.child.pid })
    window = { from, to: now() }
  } finally {
    await daemon.stop({ graceful: true })
    await upstream?.stop()
  }
  console.log(
    `\n## profile ${group}: ${spec.server === DAEMON ? 'the daemon' : 'bare Fastify'}${upstream ? ' (linked to an SDK upstream)' : ''} under ${connections} connections, ${WARMUP}s warm-up + ${SECONDS}s profiled`,
  )
  console.log(
    `${Math.round(result.rps)} req/s, p99 ${result.p99} ms, ${result.cpuPerRequest.toFixed(1)} µs CPU/req, ${result.non2xx + result.errors} bad (profiling slows the daemon: compare profiles with profiles)`,
  )
  console.log(`profile: ${dir}`)
  const file = mainThreadProfile(dir)
  if (!file) throw new Error(`no .cpuprofile was written to ${dir}`)
  console.log(`main thread: ${file} (open it in Chrome DevTools' Performance panel or speedscope)`)
  const others = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && join(dir, f) !== file)
  if (others.length > 0) console.log(`other threads: ${others.join(', ')}`)
  printProfile(summarizeProfile(file, window), result.total)
}

// Exit (not die) on Ctrl-C or a test's timeout, so exit hooks stop the processes started so far;
// the servers of harness.ts also exit when their stdin closes with this process.
process.once('SIGINT', () => process.exit(130))
process.once('SIGTERM', () => process.exit(143))

function parseCommandLine() {
  try {
    return parseArgs({ options: { rounds: { type: 'string' } }, allowPositionals: true })
  } catch (error) {
    return usage(error instanceof Error ? error.message : String(error))
  }
}

const parsed = parseCommandLine()
const wanted = parsed.positionals
const machine = describeMachine()
if (wanted[0] === 'profile') {
  const group = wanted[1] ?? 'invoke'
  if (!PROFILES[group] || wanted.length > 2) usage(`cannot profile ${wanted.slice(1).join(' ')}`)
  console.log(header(machine))
  await profileCommand(group)
  console.log(`# load average after: ${loadAverage().join(' ')}`)
  process.exit(0)
}
const rounds = Number(parsed.values.rounds ?? 3)
if (!Number.isInteger(rounds) || rounds < 1)
  usage(`--rounds ${parsed.values.rounds}: expected a whole number ≥ 1`)
const unknown = wanted.filter((g) => !GROUPS[g])
if (unknown.length > 0)
  usage(`unknown bench group ${unknown.join(', ')}; groups: ${Object.keys(GROUPS).join(', ')}`)
console.log(header(machine, rounds))
for (const group of wanted.length > 0 ? wanted : Object.keys(GROUPS)) await GROUPS[group]!(rounds)
const loadAfter = loadAverage()
console.log(`\n# load average after: ${loadAfter.join(' ')}`)
mkdirSync(RESULTS, { recursive: true })
const file = new URL(`${stamp()}.json`, RESULTS)
writeFileSync(
  file,
  `${JSON.stringify(
    { machine, loadAfter, rounds, seconds: SECONDS, connections: CONNECTIONS, ratios, roundRatios, figures },
    null,
    2,
  )}\n`,
)
console.log(`results: ${file.pathname}`)
