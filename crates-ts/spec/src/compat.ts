import type { Registry } from '@arw/registry'

/**
 * The compatibility guard. `spec/compat.lock.json` records every released tool version with its
 * schemas. Against it, the current registry may not remove a version, may not change a released
 * version's schemas, and a new version must be bumped as far as its change requires:
 * - narrowing the input (a call that was valid is refused) or widening the output (a caller may
 *   get what it could not before) is breaking: a new major version;
 * - any other schema change (new optional input, new output field, looser input, tighter output)
 *   is additive: at least a new minor version.
 */

export interface LockedTool {
  stability: string
  input: unknown
  output: unknown
}

export interface CompatLock {
  /** Lock file format. */
  format: 1
  tools: Record<string, LockedTool>
}

export interface CompatViolation {
  tool: string
  message: string
}

/** JSON with object keys sorted at every level: equal values give equal text. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(JSON.parse(JSON.stringify(value ?? null))))
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key])
  return out
}

export function compatLock(registry: Registry): CompatLock {
  const tools: Record<string, LockedTool> = {}
  for (const tool of [...registry.tools()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    tools[tool.id] = { stability: tool.stability, input: tool.input, output: tool.output }
  }
  return { format: 1, tools }
}

/** The lock file's text: canonical JSON, so it is byte-stable. */
export function compatLockText(registry: Registry): string {
  return `${JSON.stringify(sortKeys(JSON.parse(JSON.stringify(compatLock(registry)))), null, 2)}\n`
}

/**
 * narrow: fewer values are valid; widen: more are; both: neither contains the other; add: a new
 * property (additive on either side, by convention: old callers neither send nor read it).
 */
type Change = { direction: 'narrow' | 'widen' | 'both' | 'add'; where: string; what: string }

const LOWER_BOUNDS = ['minLength', 'minimum', 'exclusiveMinimum', 'minItems', 'minProperties'] as const
const UPPER_BOUNDS = ['maxLength', 'maximum', 'exclusiveMaximum', 'maxItems', 'maxProperties'] as const
const RESTRICTIONS = ['pattern', 'format', 'const', 'multipleOf'] as const
/** Keys that only document: changing them changes no contract. */
const DOCUMENTATION = new Set(['title', 'description', 'examples', 'default', '$comment', 'deprecated'])

type Schema = Record<string, unknown>

function asSchema(value: unknown): Schema {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Schema) : {}
}

function types(schema: Schema): Set<string> | undefined {
  const t = schema['type']
  if (t === undefined) return undefined
  const list = Array.isArray(t) ? (t as string[]) : [t as string]
  // An integer is a number: widening integer to number is a widening, not a change of kind.
  return new Set(list)
}

function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a ?? null) === canonicalJson(b ?? null)
}

/** How the set of values a schema accepts changed from `before` to `after`. */
export function schemaChanges(before: unknown, after: unknown, where = ''): Change[] {
  const a = asSchema(before)
  const b = asSchema(after)
  const changes: Change[] = []
  const at = where || '/'
  const ta = types(a)
  const tb = types(b)
  if (!ta && tb)
    changes.push({ direction: 'narrow', where: at, what: `type limited to ${[...tb].join('|')}` })
  else if (ta && !tb) changes.push({ direction: 'widen', where: at, what: 'type no longer limited' })
  else if (ta && tb) {
    const lost = [...ta].filter((t) => !tb.has(t) && !(t === 'integer' && tb.has('number')))
    const gained = [...tb].filter((t) => !ta.has(t) && !(t === 'integer' && ta.has('number')))
    if (lost.length)
      changes.push({ direction: 'narrow', where: at, what: `type no longer allows ${lost.join('|')}` })
    if (gained.length)
      changes.push({ direction: 'widen', where: at, what: `type now allows ${gained.join('|')}` })
  }
  for (const [keys, sign] of [
    [LOWER_BOUNDS, 1],
    [UPPER_BOUNDS, -1],
  ] as const) {
    // A lower bound that rises, or an upper bound that falls, rejects values it used to accept.
    const tighter = sign > 0 ? 'raised' : 'lowered'
    const looser = sign > 0 ? 'lowered' : 'raised'
    for (const key of keys) {
      const x = a[key] as number | undefined
      const y = b[key] as number | undefined
      if (x === y) continue
      if (y !== undefined && (x === undefined || (y - x) * sign > 0))
        changes.push({ direction: 'narrow', where: at, what: `${key} ${tighter} to ${y}` })
      else
        changes.push({
          direction: 'widen',
          where: at,
          what: `${key} ${y === undefined ? 'removed' : `${looser} to ${y}`}`,
        })
    }
  }
  for (const key of RESTRICTIONS) {
    if (sameJson(a[key], b[key])) continue
    if (a[key] === undefined) changes.push({ direction: 'narrow', where: at, what: `${key} added` })
    else if (b[key] === undefined) changes.push({ direction: 'widen', where: at, what: `${key} removed` })
    else changes.push({ direction: 'both', where: at, what: `${key} changed` })
  }
  if (!sameJson(a['enum'], b['enum'])) {
    const ea = a['enum'] as unknown[] | undefined
    const eb = b['enum'] as unknown[] | undefined
    if (!ea) changes.push({ direction: 'narrow', where: at, what: 'enum added' })
    else if (!eb) changes.push({ direction: 'widen', where: at, what: 'enum removed' })
    else {
      const has = (list: unknown[], v: unknown) => list.some((x) => sameJson(x, v))
      const lost = ea.filter((v) => !has(eb, v))
      const gained = eb.filter((v) => !has(ea, v))
      if (lost.length)
        changes.push({ direction: 'narrow', where: at, what: `enum no longer has ${JSON.stringify(lost)}` })
      if (gained.length)
        changes.push({ direction: 'widen', where: at, what: `enum now has ${JSON.stringify(gained)}` })
    }
  }
  const ra = new Set((a['required'] as string[] | undefined) ?? [])
  const rb = new Set((b['required'] as string[] | undefined) ?? [])
  for (const name of rb)
    if (!ra.has(name)) changes.push({ direction: 'narrow', where: `${where}/${name}`, what: 'now required' })
  for (const name of ra)
    if (!rb.has(name))
      changes.push({ direction: 'widen', where: `${where}/${name}`, what: 'no longer required' })
  const pa = asSchema(a['properties'])
  const pb = asSchema(b['properties'])
  const closedA = a['additionalProperties'] === false
  const closedB = b['additionalProperties'] === false
  for (const name of Object.keys(pb)) {
    if (name in pa) changes.push(...schemaChanges(pa[name], pb[name], `${where}/${name}`))
    else changes.push({ direction: 'add', where: `${where}/${name}`, what: 'property added' })
  }
  for (const name of Object.keys(pa)) {
    if (name in pb) continue
    // Callers may send it (input) or read it (output): breaking either way.
    changes.push({ direction: 'both', where: `${where}/${name}`, what: 'property removed' })
  }
  if (!closedA && closedB)
    changes.push({ direction: 'narrow', where: at, what: 'additionalProperties: false added' })
  if (closedA && !closedB)
    changes.push({ direction: 'widen', where: at, what: 'additionalProperties: false removed' })
  if (a['items'] !== undefined || b['items'] !== undefined)
    changes.push(...schemaChanges(a['items'], b['items'], `${where}/items`))
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (DOCUMENTATION.has(key)) continue
    if (
      [
        'type',
        'required',
        'properties',
        'additionalProperties',
        'items',
        'enum',
        ...LOWER_BOUNDS,
        ...UPPER_BOUNDS,
        ...RESTRICTIONS,
      ].includes(key)
    )
      continue
    // Composition and anything else this guard does not reason about: any change counts both ways.
    if (!sameJson(a[key], b[key])) changes.push({ direction: 'both', where: at, what: `${key} changed` })
  }
  return changes
}

function parseVersion(version: string): [number, number, number] {
  const [major, minor, patch] = version.split(/[.+-]/).map(Number)
  return [major ?? 0, minor ?? 0, patch ?? 0]
}

function compareVersions(a: string, b: string): number {
  const x = parseVersion(a)
  const y = parseVersion(b)
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return 0
}

function describe(changes: Change[]): string {
  return changes.map((c) => `${c.where} ${c.what}`).join('; ')
}

/** Every way the current registry breaks the released baseline; empty when it is compatible. */
export function checkCompat(baseline: CompatLock, current: CompatLock): CompatViolation[] {
  const violations: CompatViolation[] = []
  const byName = (lock: CompatLock) => {
    const names = new Map<string, string[]>()
    for (const id of Object.keys(lock.tools)) {
      const at = id.lastIndexOf('@')
      const name = id.slice(0, at)
      names.set(name, [...(names.get(name) ?? []), id.slice(at + 1)])
    }
    for (const list of names.values()) list.sort(compareVersions)
    return names
  }
  for (const [id, locked] of Object.entries(baseline.tools)) {
    const now = current.tools[id]
    if (!now) {
      violations.push({
        tool: id,
        message: `${id} was released and is gone: released versions stay served. Restore it (mark it deprecated with a replacement if it should not be used).`,
      })
      continue
    }
    const changes = [
      ...schemaChanges(locked.input, now.input, '/input'),
      ...schemaChanges(locked.output, now.output, '/output'),
    ]
    if (changes.length > 0) {
      violations.push({
        tool: id,
        message: `${id} was released and its schemas changed (${describe(changes)}). Keep ${id} as released and declare the change as a new version.`,
      })
    }
  }
  const released = byName(baseline)
  for (const [name, versions] of byName(current)) {
    const before = released.get(name)
    if (!before) continue
    const last = before[before.length - 1]!
    const base = baseline.tools[`${name}@${last}`]!
    for (const version of versions) {
      if (compareVersions(version, last) <= 0) continue
      const now = current.tools[`${name}@${version}`]!
      const input = schemaChanges(base.input, now.input, '/input')
      const output = schemaChanges(base.output, now.output, '/output')
      const breaking = [
        ...input.filter((c) => c.direction === 'narrow' || c.direction === 'both'),
        ...output.filter((c) => c.direction === 'widen' || c.direction === 'both'),
      ]
      const additive = [...input, ...output].filter((c) => !breaking.includes(c))
      const [major, minor] = parseVersion(version)
      const [lastMajor, lastMinor] = parseVersion(last)
      if (breaking.length > 0 && major <= lastMajor) {
        violations.push({
          tool: `${name}@${version}`,
          message: `${name}@${version} breaks callers of ${name}@${last} (${describe(breaking)}): a breaking change needs a new major version, ${lastMajor + 1}.0.0.`,
        })
      } else if (additive.length > 0 && major === lastMajor && minor <= lastMinor) {
        violations.push({
          tool: `${name}@${version}`,
          message: `${name}@${version} changes ${name}@${last} (${describe(additive)}): an additive change needs at least a new minor version, ${lastMajor}.${lastMinor + 1}.0.`,
        })
      }
    }
  }
  return violations
}
