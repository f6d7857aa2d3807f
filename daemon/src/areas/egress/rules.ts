import type { Destination } from '../../kernel/egress.ts'

/**
 * An egress rule names destinations by host and, optionally, port: `api.github.com`,
 * `*.example.com` (any subdomain, not the domain itself), `*` (anywhere), `127.0.0.1:8080`,
 * `[::1]:*`. Lowercase; the schema below states the grammar and the matcher reads nothing else.
 */
export const RULE_PATTERN =
  '^(\\*|(\\*\\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\\[[0-9a-f:.]+\\])(:([0-9]{1,5}|\\*))?$'
const RULE = new RegExp(RULE_PATTERN)

export interface Rule {
  readonly text: string
  /** `*`, `*.suffix` or an exact host (IPv6 without brackets). */
  readonly host: string
  /** undefined: any port. */
  readonly port: number | undefined
}

/** A rule from its text, or undefined when the text is not one. */
export function parseRule(text: string): Rule | undefined {
  if (!RULE.test(text)) return undefined
  const match = /^(\[[^\]]+\]|[^:]+)(?::(.+))?$/.exec(text)
  if (!match) return undefined
  const host = match[1]!.replace(/^\[(.*)\]$/, '$1')
  const port = match[2] === undefined || match[2] === '*' ? undefined : Number(match[2])
  if (port !== undefined && (port < 1 || port > 65_535)) return undefined
  return { text, host, port }
}

export function matches(rule: Rule, destination: Destination): boolean {
  if (rule.port !== undefined && rule.port !== destination.port) return false
  if (rule.host === '*') return true
  if (rule.host.startsWith('*.')) return destination.host.endsWith(rule.host.slice(1))
  return rule.host === destination.host
}

/** The first rule of `rules` that names `destination`. */
export function firstMatch(rules: readonly Rule[], destination: Destination): Rule | undefined {
  return rules.find((rule) => matches(rule, destination))
}

/** Parses rule texts the caller has validated (the settings schema, the config parser). */
export function compileRules(texts: readonly string[]): Rule[] {
  return texts.map((text) => {
    const rule = parseRule(text)
    if (!rule) throw new Error(`not an egress rule: ${text}`)
    return rule
  })
}
