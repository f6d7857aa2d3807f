import { ERRORS, isProblemError, type Principal, ProblemError } from '@arw/protocol'
import type { Registry, ToolContext } from '@arw/registry'
import type { Journal } from '@arw/store'
import type { Logger } from 'pino'
import type { EgressGate } from '../../kernel/egress.ts'
import { draft } from '../../kernel/event-draft.ts'
import type { Admission, AdmissionKey } from '../../pipeline/admission.ts'
import type { ConnectionsConfig } from './config.ts'
import {
  type ConnectorDriver,
  type ConnectorKind,
  type EgressCheck,
  UpstreamError,
  type UpstreamSession,
  type UpstreamTool,
} from './driver.ts'
import {
  connectionBackoffApplied,
  connectionBreaker,
  connectionRateLimited,
  connectionUpdated,
  linkDown,
  linkHealthChanged,
  linkUp,
} from './events.ts'
import { type ImportPlan, planImport, retiredAfter } from './import.ts'
import { ImportedTools } from './imported-tools.ts'
import type {
  Catalog,
  Connection,
  ConnectionStatus,
  Health,
  ImportedTool,
  ImportPreview,
  Link,
  StoredConnection,
  StoredLink,
} from './model.ts'
import { now } from './model.ts'
import { admissionPriority } from './qos.ts'
import { type Collections, listAll } from './records.ts'
import { BrokenCircuitError, Resilience } from './resilience.ts'
import { type SecretBox, scrub } from './secrets.ts'

/**
 * Federation: the live side of the connections area. For each link whose connection is enabled it
 * keeps a driver session, imports the upstream's tools into the registry under the link's service
 * namespace (import.ts names and versions them, imported-tools.ts registers them; stored as the
 * link's catalog, so a restart registers the same tools before any link is back), serves their calls through the connection's retries and breaker, tests health, and brings
 * links back up with backoff when they drop. A link that is down keeps its tools listed; they answer
 * `unavailable` with the link's state.
 *
 * Egress: traffic to upstreams does not pass an egress policy or ledger yet. The models area brings
 * them and does not exist yet; when it lands, `#open`, `preview`, `test` and `call` are where the
 * outbound hosts of a connection are to be checked and recorded.
 */

type LinkStatus = Link['status']

interface LiveLink {
  stored: StoredLink
  status: LinkStatus
  health: Health
  session: UpstreamSession | undefined
  /** The import in place (registered tool ids by upstream name). */
  tools: ImportedTool[]
  /** Earlier versions of those tools, registered beside them as deprecated (retiredAfter). */
  retired: ImportedTool[]
  opening: Promise<void> | undefined
  retryTimer: NodeJS.Timeout | undefined
  attempt: number
  unsubscribe: Array<() => void>
  /** Bumped each time the link is brought down, so a late open of an older attempt is dropped. */
  epoch: number
  /** Upstream tools the last import left out, and why (kept in the link's health errors). */
  rejected: ImportPlan['rejected']
}

export interface FederationDeps {
  registry: Registry
  journal: Journal
  admission: Admission
  logger: Logger
  config: ConnectionsConfig
  collections: Collections
  secrets: SecretBox
  drivers: Partial<Record<ConnectorKind, ConnectorDriver>>
  /** Every request a driver sends out passes it first (the egress area's policy and ledger). */
  egress: EgressGate
}

const MAX_ERRORS = 5
const RECONNECT_FIRST_MS = 250
/** The longest upstream Retry-After a link's reconnection waits for. */
const MAX_RETRY_AFTER_MS = 3_600_000
const EXCERPT = 300
/** At most one connections.rate_limited event per connection per this long. */
const RATE_EVENT_MS = 1000

export function admissionKey(connectionId: string): string {
  return `connection:${connectionId}`
}

function healthOf(ok: boolean, errors: string[], latencyMs: number | null = null): Health {
  return { ok, latencyMs, errors: errors.slice(0, MAX_ERRORS), checkedAt: new Date().toISOString() }
}

const NO_HEALTH: Health = { ok: false, latencyMs: null, errors: [], checkedAt: null }

export class Federation {
  readonly #d: FederationDeps
  readonly #connections = new Map<string, StoredConnection>()
  readonly #links = new Map<string, LiveLink>()
  readonly #tools: ImportedTools
  readonly #resilience = new Map<string, Resilience>()
  readonly #rateNotes = new Map<
    string,
    {
      count: number
      timer: NodeJS.Timeout | undefined
      source: 'admission' | 'upstream'
      retryAfterMs?: number
    }
  >()
  #health: NodeJS.Timeout | undefined
  #closed = false

  constructor(deps: FederationDeps) {
    this.#d = deps
    this.#tools = new ImportedTools(deps.registry)
  }

  /**
   * Loads connections and links, registers every stored catalog's tools (so the catalog is the one
   * of the last run before any upstream answers), then brings up the links of enabled connections
   * in the background.
   */
  async start(): Promise<void> {
    const { collections } = this.#d
    for (const entry of await listAll(collections.connections)) this.#remember(entry.value)
    for (const entry of await listAll(collections.links)) this.#links.set(entry.key, this.#live(entry.value))
    for (const entry of await listAll(collections.catalogs)) {
      const live = this.#links.get(entry.key)
      if (!live) continue
      const rejected = this.#register(live, entry.value.tools, entry.value.retired ?? [])
      for (const r of rejected) live.health.errors.push(`${r.upstream}: ${r.reason}`)
    }
    for (const live of this.#links.values()) {
      if (this.#connections.get(live.stored.connectionId)?.enabled) this.#scheduleUp(live, 0)
    }
    // New egress settings may let through a link they refused: those in error try again now.
    this.#stopEgress = this.#d.egress.onChanged(() => {
      for (const live of this.#links.values()) {
        if (live.status === 'error' && this.#connections.get(live.stored.connectionId)?.enabled)
          this.#scheduleUp(live, 0)
      }
    })
    if (this.#d.config.healthMs > 0) {
      this.#health = setInterval(() => void this.checkAll(), this.#d.config.healthMs)
      this.#health.unref()
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#stopEgress()
    clearInterval(this.#health)
    for (const note of this.#rateNotes.values()) clearTimeout(note.timer)
    await Promise.all(
      [...this.#links.values()].map((live) => this.#drop(live, 'down', 'the daemon is stopping', false)),
    )
  }

  // ---- what the tools of the area read ----

  connection(id: string): StoredConnection | undefined {
    return this.#connections.get(id)
  }

  /** A connection as routes answer it: its stored fields, its live status, its store version. */
  view(connection: StoredConnection, version: number): Connection {
    return { ...connection, status: this.status(connection), version }
  }

  status(connection: StoredConnection): ConnectionStatus {
    if (!connection.enabled) return 'disabled'
    const links = [...this.#links.values()].filter((l) => l.stored.connectionId === connection.id)
    if (links.length === 0) return 'enabled'
    if (this.#resilience.get(connection.id)?.state === 'open') return 'error'
    const up = links.filter((l) => l.status === 'up')
    const healthy = up.filter((l) => l.health.ok)
    if (healthy.length === links.length) return 'healthy'
    if (up.length > 0) return 'degraded'
    if (links.some((l) => l.status === 'connecting' && l.attempt === 0)) return 'enabled'
    return 'error'
  }

  linkView(stored: StoredLink): Link {
    const live = this.#links.get(stored.id)
    return {
      ...stored,
      status: live?.status ?? 'down',
      health: live ? { ...live.health, errors: [...live.health.errors] } : { ...NO_HEALTH },
      tools: live ? importedIds(live) : [],
    }
  }

  /** Whether a tool name is taken by a tool that is not an import of `linkId`. */
  taken(name: string, linkId?: string): boolean {
    return this.#tools.taken(name, linkId)
  }

  /** Names registered under `serviceId.` by anything but links (an area's tools, another link). */
  namespaceTaken(serviceId: string): string | undefined {
    return this.#tools.namespaceTaken(serviceId)
  }

  /**
   * The admission key of a call of an imported tool (the pipeline asks for every call), with the
   * caller's priority in the connection's queue by its QoS.
   */
  keyOf(toolId: string, principal: Principal): AdmissionKey | undefined {
    const ref = this.#tools.ref(toolId)
    if (!ref) return undefined
    const key = admissionKey(ref.connectionId)
    const qos = this.#connections.get(ref.connectionId)?.qos
    const priority = qos ? admissionPriority(qos, principal) : 0
    return priority === 0 ? key : { key, priority }
  }

  // ---- connection lifecycle ----

  /** A connection was stored (created, updated, toggled): its limits, retries and links follow. */
  async connectionChanged(connection: StoredConnection): Promise<void> {
    const before = this.#connections.get(connection.id)
    this.#remember(connection)
    const links = [...this.#links.values()].filter((l) => l.stored.connectionId === connection.id)
    // Imported tools declare the connection's timeout: registered again when it changes.
    if (before && before.timeoutMs !== connection.timeoutMs)
      for (const l of links) this.#tools.reregister(l, this.#timeoutOf(l))
    if (connection.enabled && !before?.enabled) {
      await Promise.all(links.map((l) => this.bringUp(l.stored.id)))
    } else if (!connection.enabled && before?.enabled) {
      await Promise.all(links.map((l) => this.#drop(l, 'down', 'the connection was disabled')))
    } else if (
      before &&
      connection.enabled &&
      (JSON.stringify(before.target) !== JSON.stringify(connection.target) ||
        before.secretRef !== connection.secretRef)
    ) {
      // A new target or secret takes a new session.
      for (const l of links) {
        await this.#drop(l, 'down', 'the connection changed')
        await this.bringUp(l.stored.id)
      }
    }
  }

  async connectionRemoved(id: string): Promise<void> {
    for (const live of [...this.#links.values()])
      if (live.stored.connectionId === id) await this.linkRemoved(live.stored.id)
    this.#connections.delete(id)
    this.#opened.delete(id)
    this.#resilience.delete(id)
    this.#d.admission.configure(admissionKey(id), undefined)
  }

  #remember(connection: StoredConnection): void {
    const before = this.#connections.get(connection.id)
    this.#connections.set(connection.id, connection)
    this.#d.admission.configure(admissionKey(connection.id), {
      ...(connection.rateLimit
        ? {
            ratePerSecond: connection.rateLimit.perSecond,
            burst: connection.rateLimit.burst ?? Math.max(1, Math.ceil(connection.rateLimit.perSecond)),
          }
        : {}),
      ...(connection.concurrency
        ? { maxConcurrent: connection.concurrency.max, maxQueue: connection.concurrency.queue ?? 0 }
        : {}),
    })
    const same =
      before &&
      JSON.stringify([before.retry, before.backoff, before.breaker]) ===
        JSON.stringify([connection.retry, connection.backoff, connection.breaker])
    if (!same || !this.#resilience.has(connection.id)) {
      this.#resilience.set(
        connection.id,
        new Resilience(connection, (state) => {
          this.#append(draft(this.#d.registry, connectionBreaker, { id: connection.id, state }))
          this.#statusMaybeChanged(connection.id)
        }),
      )
    }
  }

  // ---- link lifecycle ----

  #live(stored: StoredLink): LiveLink {
    return {
      stored,
      status: 'down',
      health: { ...NO_HEALTH, errors: [] },
      session: undefined,
      tools: [],
      retired: [],
      opening: undefined,
      retryTimer: undefined,
      attempt: 0,
      unsubscribe: [],
      epoch: 0,
      rejected: [],
    }
  }

  /** A link was stored: it is live from now on (up when its connection is enabled). */
  async linkAdded(stored: StoredLink): Promise<Link> {
    const live = this.#live(stored)
    this.#links.set(stored.id, live)
    if (this.#connections.get(stored.connectionId)?.enabled) await this.bringUp(stored.id)
    return this.linkView(stored)
  }

  async linkRemoved(id: string): Promise<string[]> {
    const live = this.#links.get(id)
    if (!live) return []
    await this.#drop(live, 'down', 'the link was removed', false)
    const ids = this.#tools.unregister(live)
    this.#links.delete(id)
    return ids
  }

  /** Opens the link's session and imports its tools; resolves when that attempt has ended either way. */
  bringUp(linkId: string): Promise<void> {
    const live = this.#links.get(linkId)
    if (!live || this.#closed) return Promise.resolve()
    if (live.opening) return live.opening
    if (live.session && live.status === 'up') return Promise.resolve()
    clearTimeout(live.retryTimer)
    live.retryTimer = undefined
    const opening = this.#open(live).finally(() => {
      if (live.opening === opening) live.opening = undefined
    })
    live.opening = opening
    return opening
  }

  async #open(live: LiveLink): Promise<void> {
    const connection = this.#connections.get(live.stored.connectionId)
    if (!connection?.enabled) return
    const driver = this.#d.drivers[connection.kind]
    const epoch = live.epoch
    live.status = 'connecting'
    let session: UpstreamSession | undefined
    let secret: string | undefined
    try {
      if (!driver) throw new UpstreamError(`this daemon has no ${connection.kind} driver`)
      secret = await this.secretOf(connection)
      const controller = new AbortController()
      const timer = setTimeout(() => controller.abort(), connection.timeoutMs)
      try {
        session = await driver.open({
          target: connection.target,
          secret,
          signal: controller.signal,
          logger: this.#d.logger.child({ connection: connection.id, link: live.stored.id }),
          egress: this.#egressOf(connection),
        })
        const tools = await session.tools()
        if (epoch !== live.epoch || this.#closed) {
          await session.close().catch(() => {})
          return
        }
        await this.#import(live, tools, session.skipped?.() ?? [])
      } finally {
        clearTimeout(timer)
      }
      // Brought down while the tools were being imported: that attempt is over.
      if (epoch !== live.epoch || this.#closed) {
        await session.close().catch(() => {})
        return
      }
      live.session = session
      live.status = 'up'
      live.attempt = 0
      live.unsubscribe.push(
        session.onClosed?.((reason) => {
          if (live.session !== session) return
          void this.#drop(live, 'error', `the upstream closed the session: ${scrub(reason, secret)}`).then(
            () => this.#scheduleUp(live),
          )
        }) ?? (() => {}),
        session.onToolsChanged?.(() => {
          if (live.session !== session) return
          void session!
            .tools()
            .then((tools) => this.#import(live, tools, session!.skipped?.() ?? []))
            .catch((error) =>
              this.#d.logger.warn(
                { link: live.stored.id, err: describe(error, secret) },
                'could not import changed tools',
              ),
            )
        }) ?? (() => {}),
      )
      this.#append(
        draft(this.#d.registry, linkUp, {
          ...ref(live.stored),
          tools: importedIds(live),
          rejected: live.rejected,
        }),
      )
      this.#statusMaybeChanged(connection.id)
    } catch (error) {
      await session?.close().catch(() => {})
      const reason = describe(error, secret)
      live.status = 'error'
      live.health = healthOf(false, [reason, ...live.health.errors.filter((e) => e !== reason)])
      if (live.attempt === 0)
        this.#append(draft(this.#d.registry, linkDown, { ...ref(live.stored), status: 'error', reason }))
      this.#statusMaybeChanged(connection.id)
      // A destination the egress policy refuses stays refused until the policy changes (which
      // brings the link up again: start()); trying again before would only fill the ledger.
      if (isProblemError(error) && error.entry === ERRORS.egress_denied) return
      // An upstream that refused with Retry-After (429, 503) is not tried again before it.
      this.#scheduleUp(live, undefined, error instanceof UpstreamError ? error.retryAfterMs : undefined)
    }
  }

  /** Imports a tool list into the registry (replacing the link's previous import) and stores it. */
  async #import(live: LiveLink, tools: UpstreamTool[], skipped: readonly string[]): Promise<ImportPlan> {
    const plan = planImport(live.stored.serviceId, tools, live.tools, (name) =>
      this.taken(name, live.stored.id),
    )
    const retired = retiredAfter(live.tools, live.retired, plan.imported, now())
    const rejected = this.#register(live, plan.imported, retired)
    plan.rejected.push(...rejected)
    const catalog: Catalog = {
      linkId: live.stored.id,
      connectionId: live.stored.connectionId,
      serviceId: live.stored.serviceId,
      tools: live.tools,
      retired: live.retired,
    }
    await this.#d.collections.catalogs.put(live.stored.id, catalog)
    const errors = [...skipped, ...plan.rejected.map((r) => `${r.upstream}: ${r.reason}`)]
    // Healthy means the upstream answers; tools it offered that were not imported are listed still.
    live.health = healthOf(true, errors)
    live.rejected = plan.rejected
    return plan
  }

  /** Registers the link's tools, with the connection's timeout; answers those the registry refused. */
  #register(
    live: LiveLink,
    tools: readonly ImportedTool[],
    retired: readonly ImportedTool[],
  ): ImportPlan['rejected'] {
    return this.#tools.register(live, tools, retired, this.#timeoutOf(live))
  }

  #timeoutOf(live: LiveLink): number {
    return this.#connections.get(live.stored.connectionId)?.timeoutMs ?? 30_000
  }

  async #drop(live: LiveLink, status: 'down' | 'error', reason: string, announce = true): Promise<void> {
    live.epoch++
    clearTimeout(live.retryTimer)
    live.retryTimer = undefined
    for (const off of live.unsubscribe.splice(0)) off()
    const session = live.session
    const was = live.status
    live.session = undefined
    live.status = status
    live.attempt = 0
    if (session) await session.close().catch(() => {})
    if (announce && was !== 'down' && was !== status) {
      live.health = healthOf(false, [reason])
      this.#append(draft(this.#d.registry, linkDown, { ...ref(live.stored), status, reason }))
      this.#statusMaybeChanged(live.stored.connectionId)
    }
  }

  /**
   * Tries the link again after an exponential backoff with jitter (capped by the config), or after
   * `atLeastMs` when that is longer (an upstream's Retry-After, honoured up to an hour).
   */
  #scheduleUp(live: LiveLink, delayMs?: number, atLeastMs?: number): void {
    if (this.#closed || live.retryTimer) return
    const connection = this.#connections.get(live.stored.connectionId)
    if (!connection?.enabled) return
    live.attempt++
    const cap = Math.min(
      this.#d.config.reconnectMaxMs,
      RECONNECT_FIRST_MS * 2 ** Math.min(live.attempt - 1, 20),
    )
    const backoff = delayMs ?? Math.round(cap / 2 + (Math.random() * cap) / 2)
    const delay = Math.max(backoff, Math.min(Math.round(atLeastMs ?? 0), MAX_RETRY_AFTER_MS))
    if (delayMs === undefined) {
      this.#append(
        draft(this.#d.registry, connectionBackoffApplied, {
          id: connection.id,
          linkId: live.stored.id,
          attempt: live.attempt,
          delayMs: delay,
          reason: live.health.errors[0] ?? 'link down',
        }),
      )
    }
    live.status = live.status === 'up' ? 'up' : 'connecting'
    live.retryTimer = setTimeout(() => {
      live.retryTimer = undefined
      void this.bringUp(live.stored.id)
    }, delay)
    live.retryTimer.unref()
  }

  // ---- calls ----

  /** The handler of every imported tool: the upstream call under the connection's resilience. */
  async call(
    input: Record<string, unknown>,
    ctx: ToolContext,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    const ref = this.#tools.ref(ctx.tool)
    const live = ref && this.#links.get(ref.linkId)
    const connection = ref && this.#connections.get(ref.connectionId)
    if (!ref || !live || !connection)
      throw new ProblemError(ERRORS.unavailable, { reason: `${ctx.tool} is no longer linked` })
    const session = live.session
    if (!session || live.status !== 'up') {
      const why = live.health.errors[0] ? `: ${live.health.errors[0]}` : ''
      throw new ProblemError(ERRORS.unavailable, {
        reason: `link ${live.stored.serviceId} (${live.stored.id}) is ${connection.enabled ? live.status : 'down (connection disabled)'}${why}`,
      })
    }
    if (ref.replacement) this.#tools.checkStillAccepted(ctx.tool, ref.replacement, input)
    const resilience = this.#resilience.get(connection.id)!
    const deadline = Date.now() + timeoutMs
    const secret = connection.secretRef ? await this.secretOf(connection).catch(() => undefined) : undefined
    let output: Record<string, unknown>
    try {
      output = await resilience.execute(
        (signal) =>
          session.call(ref.upstream, input, {
            signal,
            timeoutMs: Math.max(1, deadline - Date.now()),
            progress: (update) => ctx.progress(update),
            trace: ctx.trace,
          }),
        {
          retrySafe: ref.retrySafe,
          deadline,
          signal: ctx.signal,
          onRetry: (attempt, delayMs, error) => {
            this.#append(
              draft(
                this.#d.registry,
                connectionBackoffApplied,
                {
                  id: connection.id,
                  linkId: live.stored.id,
                  tool: ctx.tool,
                  attempt,
                  delayMs,
                  reason: bounded(scrub(error.message, secret)),
                },
                ctx,
              ),
            )
          },
        },
      )
    } catch (error) {
      throw this.#problem(error, ctx.tool, connection, timeoutMs, secret)
    }
    if (ref.replacement) this.#tools.checkStillDescribed(ctx.tool, ref.replacement, output)
    return output
  }

  #problem(
    error: unknown,
    tool: string,
    connection: StoredConnection,
    timeoutMs: number,
    secret: string | undefined,
  ): unknown {
    if (isProblemError(error)) return error
    if (error instanceof BrokenCircuitError) {
      // Retry-After says when the half-open probe is let through (at least 1 s: HTTP counts seconds).
      const waitMs = this.#resilience.get(connection.id)?.retryAfterMs() ?? connection.breaker.halfOpenAfterMs
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000))
      return new ProblemError(
        ERRORS.circuit_open,
        { connection: connection.id, retryAfter },
        { retry_after: retryAfter },
      )
    }
    if (error instanceof UpstreamError) {
      if (error.timedOut) return new ProblemError(ERRORS.timeout, { tool, timeoutMs })
      if (error.status === 429) {
        const retryAfter = Math.max(1, Math.ceil((error.retryAfterMs ?? 1000) / 1000))
        this.noteRateLimited(connection.id, 'upstream', error.retryAfterMs)
        return new ProblemError(
          ERRORS.rate_limited,
          { scope: `the upstream of connection ${connection.id}`, retryAfter },
          { retry_after: retryAfter },
        )
      }
      return new ProblemError(ERRORS.upstream_error, { reason: describe(error, secret) })
    }
    if (
      (error as Error | undefined)?.name === 'TaskCancelledError' ||
      (error as Error | undefined)?.name === 'AbortError'
    )
      return error
    this.#d.logger.warn({ connection: connection.id, tool, err: describe(error, secret) }, 'a driver failed')
    return new ProblemError(ERRORS.upstream_error, {
      reason: `${tool}: the ${connection.kind} driver failed`,
    })
  }

  /** Coalesces refusals into at most one connections.rate_limited event per connection per second. */
  noteRateLimited(connectionId: string, source: 'admission' | 'upstream', retryAfterMs?: number): void {
    const note = this.#rateNotes.get(connectionId)
    if (note) {
      note.count++
      return
    }
    const fresh: {
      count: number
      timer: NodeJS.Timeout | undefined
      source: 'admission' | 'upstream'
      retryAfterMs?: number
    } = { count: 1, timer: undefined, source, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }
    this.#rateNotes.set(connectionId, fresh)
    fresh.timer = setTimeout(() => {
      this.#rateNotes.delete(connectionId)
      this.#append(
        draft(this.#d.registry, connectionRateLimited, {
          id: connectionId,
          source: fresh.source,
          count: fresh.count,
          ...(fresh.retryAfterMs !== undefined ? { retryAfterMs: Math.round(fresh.retryAfterMs) } : {}),
        }),
      )
    }, RATE_EVENT_MS)
    fresh.timer.unref()
  }

  /** What linking `connection` under `serviceId` would import (dry run): nothing is kept or registered. */
  async preview(connection: StoredConnection, serviceId: string): Promise<ImportPreview> {
    const driver = this.#d.drivers[connection.kind]
    if (!driver)
      throw new ProblemError(ERRORS.unavailable, { reason: `this daemon has no ${connection.kind} driver` })
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), connection.timeoutMs)
    let session: UpstreamSession | undefined
    try {
      session = await driver.open({
        target: connection.target,
        secret: undefined,
        signal: controller.signal,
        logger: this.#d.logger,
        egress: this.#egressOf(connection),
      })
      const plan = planImport(serviceId, await session.tools(), [], (name) => this.taken(name))
      return { tools: plan.tools, rejected: plan.rejected }
    } catch (error) {
      if (isProblemError(error)) throw error
      throw new ProblemError(ERRORS.upstream_error, { reason: describe(error, undefined) })
    } finally {
      clearTimeout(timer)
      await session?.close().catch(() => {})
    }
  }

  // ---- health ----

  /** Pings every live link of `connectionId` (or opens a short session when it has none). */
  async test(connectionId: string): Promise<{ ok: boolean; latencyMs: number | null; error: string | null }> {
    const connection = this.#connections.get(connectionId)
    if (!connection) throw new ProblemError(ERRORS.not_found, { what: `connection ${connectionId}` })
    const links = [...this.#links.values()].filter((l) => l.stored.connectionId === connectionId && l.session)
    if (links.length > 0) {
      const results = await Promise.all(links.map((l) => this.#ping(l, connection)))
      const failed = results.find((r) => !r.ok)
      const latencies = results.map((r) => r.latencyMs).filter((l): l is number => l !== null)
      return {
        ok: !failed,
        latencyMs: latencies.length ? Math.max(...latencies) : null,
        error: failed?.error ?? null,
      }
    }
    const driver = this.#d.drivers[connection.kind]
    if (!driver) return { ok: false, latencyMs: null, error: `this daemon has no ${connection.kind} driver` }
    let secret: string | undefined
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), connection.timeoutMs)
    const started = performance.now()
    try {
      secret = await this.secretOf(connection)
      const session = await driver.open({
        target: connection.target,
        secret,
        signal: controller.signal,
        logger: this.#d.logger,
        egress: this.#egressOf(connection),
      })
      try {
        await session.ping(controller.signal)
      } finally {
        await session.close().catch(() => {})
      }
      return { ok: true, latencyMs: round(performance.now() - started), error: null }
    } catch (error) {
      return { ok: false, latencyMs: null, error: describe(error, secret) }
    } finally {
      clearTimeout(timer)
    }
  }

  async #ping(
    live: LiveLink,
    connection: StoredConnection,
  ): Promise<{ ok: boolean; latencyMs: number | null; error: string | null }> {
    const session = live.session
    if (!session) return { ok: false, latencyMs: null, error: `link ${live.stored.id} is ${live.status}` }
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), Math.min(connection.timeoutMs, 10_000))
    const started = performance.now()
    let result: { ok: boolean; latencyMs: number | null; error: string | null }
    try {
      await session.ping(controller.signal)
      result = { ok: true, latencyMs: round(performance.now() - started), error: null }
    } catch (error) {
      result = {
        ok: false,
        latencyMs: null,
        error: describe(
          error,
          connection.secretRef ? await this.secretOf(connection).catch(() => undefined) : undefined,
        ),
      }
    } finally {
      clearTimeout(timer)
    }
    const before = live.health.ok
    const rejected = live.rejected.map((r) => `${r.upstream}: ${r.reason}`)
    live.health = healthOf(result.ok, result.ok ? rejected : [result.error!, ...rejected], result.latencyMs)
    if (before !== live.health.ok) {
      this.#append(draft(this.#d.registry, linkHealthChanged, { ...ref(live.stored), health: live.health }))
      this.#statusMaybeChanged(connection.id)
    }
    return result
  }

  /** One round of health tests (the interval's). */
  async checkAll(): Promise<void> {
    for (const connection of this.#connections.values()) {
      if (!connection.enabled) continue
      for (const live of this.#links.values()) {
        if (live.stored.connectionId === connection.id && live.session) await this.#ping(live, connection)
      }
    }
  }

  // ---- helpers ----

  /**
   * The connection's secret in clear, opened once per bound secret (keyed by its secretRef, which
   * changes with every bind) rather than read and decrypted on every call.
   */
  async secretOf(connection: StoredConnection): Promise<string | undefined> {
    if (!connection.secretRef) return undefined
    const cached = this.#opened.get(connection.id)
    if (cached?.ref === connection.secretRef) return cached.secret
    const sealed = await this.#d.collections.secrets.get(connection.id)
    if (!sealed) return undefined
    const secret = this.#d.secrets.open(sealed, connection.id)
    this.#opened.set(connection.id, { ref: connection.secretRef, secret })
    return secret
  }

  readonly #opened = new Map<string, { ref: string; secret: string }>()
  #stopEgress: () => void = () => {}

  readonly #statuses = new Map<string, ConnectionStatus>()

  #statusMaybeChanged(connectionId: string): void {
    const connection = this.#connections.get(connectionId)
    if (!connection) return
    const status = this.status(connection)
    const before = this.#statuses.get(connectionId)
    this.#statuses.set(connectionId, status)
    if (before === undefined || before === status) return
    void this.#d.collections.connections.entry(connectionId).then((entry) => {
      if (!entry) return
      this.#append(
        draft(this.#d.registry, connectionUpdated, {
          connection: this.view(entry.value, entry.version),
          changed: ['status'],
        }),
      )
    })
  }

  /**
   * The egress gate as this connection's drivers see it: each request names the connection and
   * its network scope (the connection's policyId as it is now: set-policy applies to open sessions).
   */
  #egressOf(connection: StoredConnection): EgressCheck {
    const id = connection.id
    return (url, method) => {
      const scope = (this.#connections.get(id) ?? connection).policyId
      this.#d.egress.check({
        area: 'connections',
        connection: id,
        url,
        method,
        ...(scope !== null ? { scope } : {}),
      })
    }
  }

  #append(event: ReturnType<typeof draft>): void {
    if (this.#closed && event.kind !== linkDown.kind) return
    this.#d.journal
      .append(event)
      .catch((error) =>
        this.#d.logger.error({ err: error, kind: event.kind }, 'could not journal a connections event'),
      )
  }
}

/** Every version a link has registered: the current ones, then the earlier ones kept beside them. */
function importedIds(live: LiveLink): string[] {
  return [...live.tools, ...live.retired].map((t) => `${t.name}@${t.version}`)
}

function ref(stored: StoredLink) {
  return { id: stored.id, connectionId: stored.connectionId, serviceId: stored.serviceId }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}

function bounded(text: string): string {
  return text.length > EXCERPT ? `${text.slice(0, EXCERPT)}…` : text
}

/** A failure in words a user may see: its message and the upstream's status and excerpt, without the secret. */
export function describe(error: unknown, secret: string | undefined): string {
  if (error instanceof UpstreamError) {
    const status = error.status !== undefined ? ` (status ${error.status})` : ''
    const excerpt = error.excerpt ? `: ${error.excerpt}` : ''
    return bounded(scrub(`${error.message}${status}${excerpt}`, secret))
  }
  if (error instanceof Error) return bounded(scrub(error.message, secret))
  return bounded(scrub(String(error), secret))
}
