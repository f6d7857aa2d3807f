import { type Destination, formatDestination } from '../../kernel/egress.ts'
import type { Posture, Settings, Verdict } from './model.ts'
import { compileRules, firstMatch, type Rule } from './rules.ts'

interface CompiledScope {
  allow: Rule[]
  deny: Rule[]
}

/**
 * The egress policy, compiled once per settings version. Order of the decision: a closed posture
 * refuses everything; a deny rule (the daemon's or the scope's) wins over any allow rule; a named
 * scope then requires one of its allow rules (a scope narrows, never widens); last the posture:
 * open admits the rest, allowlist only what a daemon allow rule names. A scope name no settings
 * define adds nothing (a connection's policyId may name a policy of another kind).
 */
export class EgressPolicy {
  readonly posture: Posture
  readonly #allow: Rule[]
  readonly #deny: Rule[]
  readonly #scopes: Map<string, CompiledScope>
  /** Decisions by scope and destination: the same few destinations are asked about on every call. */
  readonly #cache = new Map<string, Verdict>()

  constructor(settings: Settings) {
    this.posture = settings.posture
    this.#allow = compileRules(settings.allow)
    this.#deny = compileRules(settings.deny)
    this.#scopes = new Map(
      Object.entries(settings.scopes).map(([name, s]) => [
        name,
        { allow: compileRules(s.allow), deny: compileRules(s.deny) },
      ]),
    )
  }

  decide(destination: Destination, scopeName?: string): Verdict {
    const where = formatDestination(destination)
    const key = `${scopeName ?? ''}\n${where}`
    let verdict = this.#cache.get(key)
    if (verdict === undefined) {
      verdict = this.#decide(destination, where, scopeName)
      if (this.#cache.size > 10_000) this.#cache.clear()
      this.#cache.set(key, verdict)
    }
    return verdict
  }

  #decide(destination: Destination, where: string, scopeName: string | undefined): Verdict {
    const verdict = (decision: 'allowed' | 'denied', reason: string, rule?: Rule): Verdict => ({
      decision,
      destination: where,
      reason,
      rule: rule?.text ?? null,
    })
    if (this.posture === 'closed') return verdict('denied', 'the egress posture is closed')
    const scope = scopeName === undefined ? undefined : this.#scopes.get(scopeName)
    const denied = firstMatch(this.#deny, destination)
    if (denied) return verdict('denied', `deny rule ${denied.text}`, denied)
    if (scope) {
      const scopeDenied = firstMatch(scope.deny, destination)
      if (scopeDenied)
        return verdict('denied', `deny rule ${scopeDenied.text} of network scope ${scopeName}`, scopeDenied)
      if (!firstMatch(scope.allow, destination))
        return verdict('denied', `not allowed by network scope ${scopeName}`)
    }
    if (this.posture === 'open') return verdict('allowed', 'the egress posture is open')
    const allowed = firstMatch(this.#allow, destination)
    if (allowed) return verdict('allowed', `allow rule ${allowed.text}`, allowed)
    return verdict('denied', 'not on the egress allowlist')
  }
}
