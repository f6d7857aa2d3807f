import { ERRORS, ProblemError } from '@arw/protocol'
import type { Registry } from '@arw/registry'
import type { Collection, Transaction } from '@arw/store'
import type { Logger } from 'pino'
import { type Destination, destinationOf, type EgressGate, type EgressRequest } from '../../kernel/egress.ts'
import { draft } from '../../kernel/event-draft.ts'
import type { EgressConfig } from './config.ts'
import { ledgerAppended, settingsChanged } from './events.ts'
import type { DestinationTally, LedgerEntry, Settings, SettingsView, Verdict } from './model.ts'
import { EgressPolicy } from './policy.ts'

/** Denials of one destination within this window are one ledger entry (with their count). */
const DENIAL_WINDOW_MS = 1000
/** Tallies kept in memory, by destination and connection; the oldest go first past this. */
const MAX_TALLIES = 5000
const SETTINGS_KEY = 'current'

export interface EgressDeps {
  registry: Registry
  config: EgressConfig
  ledger: Collection<LedgerEntry>
  settings: Collection<Settings>
  transaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R>
  logger: Logger
}

type Tally = Omit<DestinationTally, 'lastAt'> & { lastAt: number }

interface Window {
  entry: LedgerEntry
  count: number
  timer: NodeJS.Timeout
}

/**
 * The egress gate the kernel hands every area: decides each outbound request with the policy in
 * force, refuses it with `egress_denied` before anything is sent, keeps a tally per destination
 * (GET /state/egress) and writes the ledger. The ledger has an entry for every refusal (those of
 * one destination within a second coalesced) and for the first request to each destination
 * through each connection since the start or the last settings change; the tallies count the
 * rest, so a call's cost is a map lookup, not a store write.
 */
export class Egress implements EgressGate {
  readonly #d: EgressDeps
  #view: SettingsView
  #policy: EgressPolicy
  readonly #reached = new Set<string>()
  readonly #windows = new Map<string, Window>()
  /** Tallies as counted (lastAt in epoch ms: a Date is made only when they are read). */
  readonly #tallies = new Map<string, Tally>()
  readonly #listeners = new Set<() => void>()
  readonly #writes = new Set<Promise<void>>()
  #seq = 0
  #closed = false

  private constructor(deps: EgressDeps, view: SettingsView) {
    this.#d = deps
    this.#view = view
    this.#policy = new EgressPolicy(view.settings)
  }

  /** Starts with the stored settings, or the configuration's when none are stored. */
  static async open(deps: EgressDeps): Promise<Egress> {
    const stored = await deps.settings.entry(SETTINGS_KEY)
    const view: SettingsView = stored
      ? { settings: stored.value, version: stored.version, source: 'stored' }
      : { settings: deps.config.initial, version: 0, source: 'environment' }
    return new Egress(deps, view)
  }

  get settings(): SettingsView {
    return this.#view
  }

  check(request: EgressRequest): void {
    const destination = destinationOf(request.url)
    const verdict = this.#policy.decide(destination, request.scope)
    // One key names the destination through the connection, for the tally and the ledger both.
    const where = `${request.area}\n${request.connection ?? ''}\n${verdict.destination}`
    this.#tally(where, request, verdict)
    if (verdict.decision === 'allowed') {
      const key = `${where}\n${request.scope ?? ''}`
      if (!this.#reached.has(key)) {
        this.#reached.add(key)
        this.#write(this.#entry(request, destination, verdict, 1))
      }
      return
    }
    this.#noteDenial(`${where}\n${verdict.reason}`, request, destination, verdict)
    throw new ProblemError(ERRORS.egress_denied, { destination: verdict.destination, reason: verdict.reason })
  }

  /** What the policy in force would decide, without sending or recording anything. */
  preview(url: URL, scope?: string): Verdict {
    return this.#policy.decide(destinationOf(url), scope)
  }

  /** Stores new settings (only over `ifVersion` when given) with their event; they apply at once. */
  async update(
    next: Settings,
    changed: string[],
    ifVersion: number | undefined,
    call?: Parameters<typeof draft>[3],
  ): Promise<SettingsView> {
    const expected = ifVersion ?? this.#view.version
    let version = 0
    await this.#d.transaction(async (tx) => {
      const current = await tx.get(this.#d.settings, SETTINGS_KEY)
      if ((current?.version ?? 0) !== expected)
        throw new ProblemError(ERRORS.version_conflict, { collection: 'egress settings', expected })
      version = expected + 1
      tx.put(this.#d.settings, SETTINGS_KEY, next, { ifVersion: expected })
      void tx.append(draft(this.#d.registry, settingsChanged, { settings: next, version, changed }, call))
    })
    this.#apply({ settings: next, version, source: 'stored' })
    return this.#view
  }

  #apply(view: SettingsView): void {
    this.#view = view
    this.#policy = new EgressPolicy(view.settings)
    // A destination reached before is recorded again under the new policy.
    this.#reached.clear()
    for (const listener of [...this.#listeners]) listener()
  }

  onChanged(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  tallies(): DestinationTally[] {
    return [...this.#tallies.values()]
      .sort((a, b) => b.lastAt - a.lastAt)
      .map((t) => ({ ...t, lastAt: new Date(t.lastAt).toISOString() }))
  }

  #tally(key: string, request: EgressRequest, verdict: Verdict): void {
    let tally = this.#tallies.get(key)
    if (!tally) {
      if (this.#tallies.size >= MAX_TALLIES) this.#tallies.delete(this.#tallies.keys().next().value!)
      tally = {
        destination: verdict.destination,
        area: request.area,
        connection: request.connection ?? null,
        allowed: 0,
        denied: 0,
        lastAt: 0,
        lastDecision: verdict.decision,
      }
      this.#tallies.set(key, tally)
    }
    tally[verdict.decision]++
    tally.lastAt = Date.now()
    tally.lastDecision = verdict.decision
  }

  #noteDenial(key: string, request: EgressRequest, destination: Destination, verdict: Verdict): void {
    const open = this.#windows.get(key)
    if (open) {
      open.count++
      return
    }
    const entry = this.#entry(request, destination, verdict, 1)
    this.#write(entry)
    const window: Window = {
      entry,
      count: 0,
      timer: setTimeout(() => {
        this.#windows.delete(key)
        if (window.count > 0)
          this.#write({ ...window.entry, id: this.#id(), at: new Date().toISOString(), count: window.count })
      }, DENIAL_WINDOW_MS),
    }
    window.timer.unref()
    this.#windows.set(key, window)
  }

  #entry(request: EgressRequest, destination: Destination, verdict: Verdict, count: number): LedgerEntry {
    return {
      id: this.#id(),
      at: new Date().toISOString(),
      decision: verdict.decision,
      reason: verdict.reason,
      rule: verdict.rule,
      destination: verdict.destination,
      scheme: destination.scheme,
      host: destination.host,
      port: destination.port,
      method: request.method,
      area: request.area,
      connection: request.connection ?? null,
      scope: request.scope ?? null,
      count,
    }
  }

  /** Ledger keys sort newest first (the store lists in key order). */
  #id(): string {
    const inverted = (9_999_999_999_999 - Date.now()).toString().padStart(13, '0')
    this.#seq = (this.#seq + 1) % 1_000_000
    return `${inverted}-${(999_999 - this.#seq).toString().padStart(6, '0')}`
  }

  #write(entry: LedgerEntry): void {
    if (this.#closed) return
    const write = this.#d
      .transaction(async (tx) => {
        tx.put(this.#d.ledger, entry.id, entry, { ttlMs: this.#d.config.ledgerTtlMs })
        void tx.append(draft(this.#d.registry, ledgerAppended, { entry }))
      })
      .catch((error) => this.#d.logger.error({ err: error }, 'could not write an egress ledger entry'))
      .finally(() => this.#writes.delete(write))
    this.#writes.add(write)
  }

  /** Writes what the open windows hold, then waits for every ledger write. */
  async close(): Promise<void> {
    for (const window of this.#windows.values()) {
      clearTimeout(window.timer)
      if (window.count > 0) this.#write({ ...window.entry, id: this.#id(), count: window.count })
    }
    this.#windows.clear()
    this.#closed = true
    await Promise.all([...this.#writes])
  }
}
