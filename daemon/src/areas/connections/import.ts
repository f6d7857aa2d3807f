import { createHash } from 'node:crypto'
import { compileValidator, isToolName, parseSemver } from '@arw/registry'
import { schemaChanges } from '@arw/spec'
import type { JsonSchema, UpstreamTool } from './driver.ts'
import type { ImportedTool, ImportPreview } from './model.ts'

/**
 * How an upstream's tools become registry tools: named `<serviceId>.<normalized upstream name>`,
 * their schemas checked before use, versioned 1.0.0 on first import and bumped by the
 * compatibility rules of the spec guard when the upstream changes a schema (minor when every call
 * that was valid stays valid and no caller can get what it could not before, else major).
 */

/** Largest schema (bytes of JSON) an upstream may declare for one tool. */
export const MAX_SCHEMA_BYTES = 256 * 1024
const MAX_NAME = 100
const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'])

/** One segment per dotted part: lowercase, other characters as `_`, starting with a letter. */
export function normalizeName(upstream: string): string {
  const segments = upstream
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[./]/)
    .map((s) => s.replace(/[^a-z0-9_-]+/g, '_').replace(/^_+|_+$/g, ''))
    .filter((s) => s !== '')
    .map((s) => (/^[a-z]/.test(s) ? s : `t_${s}`))
  return segments.length === 0 ? 'tool' : segments.join('.')
}

/** The registry name of an upstream tool under a service; long names keep a digest of the original. */
export function importedName(serviceId: string, upstream: string): string {
  const name = `${serviceId}.${normalizeName(upstream)}`
  if (name.length <= MAX_NAME) return name
  const digest = createHash('sha256').update(upstream).digest('hex').slice(0, 8)
  return `${name.slice(0, MAX_NAME - 10).replace(/[._-]+$/, '')}_${digest}`
}

/** What is wrong with an upstream schema (empty when it can be used). */
export function schemaProblems(schema: unknown, where: string, problems: string[] = [], depth = 0): string[] {
  if (depth > 64) {
    problems.push(`${where}: nested too deep`)
    return problems
  }
  if (typeof schema === 'boolean') return problems
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    problems.push(`${where}: a schema must be an object`)
    return problems
  }
  const s = schema as Record<string, unknown>
  const type = s['type']
  if (type !== undefined) {
    const list = Array.isArray(type) ? type : [type]
    if (list.length === 0 || !list.every((t) => typeof t === 'string' && TYPES.has(t)))
      problems.push(`${where}/type: ${JSON.stringify(type)} is not a JSON Schema type`)
  }
  if (s['properties'] !== undefined) {
    const props = s['properties']
    if (props === null || typeof props !== 'object' || Array.isArray(props))
      problems.push(`${where}/properties: must be an object`)
    else
      for (const [name, sub] of Object.entries(props))
        schemaProblems(sub, `${where}/properties/${name}`, problems, depth + 1)
  }
  if (
    s['required'] !== undefined &&
    !(Array.isArray(s['required']) && s['required'].every((r) => typeof r === 'string'))
  )
    problems.push(`${where}/required: must be an array of property names`)
  if (s['items'] !== undefined) {
    const items = s['items']
    if (Array.isArray(items))
      for (const [i, sub] of items.entries()) schemaProblems(sub, `${where}/items/${i}`, problems, depth + 1)
    else schemaProblems(items, `${where}/items`, problems, depth + 1)
  }
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (s[key] === undefined) continue
    const list = s[key]
    if (!Array.isArray(list) || list.length === 0) problems.push(`${where}/${key}: must be a non-empty array`)
    else
      for (const [i, sub] of list.entries()) schemaProblems(sub, `${where}/${key}/${i}`, problems, depth + 1)
  }
  for (const key of ['not', 'additionalProperties'] as const)
    if (s[key] !== undefined && typeof s[key] !== 'boolean')
      schemaProblems(s[key], `${where}/${key}`, problems, depth + 1)
  if (s['enum'] !== undefined && !Array.isArray(s['enum'])) problems.push(`${where}/enum: must be an array`)
  for (const key of [
    'minimum',
    'maximum',
    'exclusiveMinimum',
    'exclusiveMaximum',
    'minLength',
    'maxLength',
    'minItems',
    'maxItems',
  ])
    if (s[key] !== undefined && typeof s[key] !== 'number') problems.push(`${where}/${key}: must be a number`)
  if (s['pattern'] !== undefined) {
    try {
      new RegExp(String(s['pattern']), 'u')
      if (typeof s['pattern'] !== 'string') throw new Error('not a string')
    } catch {
      problems.push(`${where}/pattern: not a valid regular expression`)
    }
  }
  const ref = s['$ref']
  if (ref !== undefined && !(typeof ref === 'string' && ref.startsWith('#')))
    problems.push(`${where}/$ref: only local references (#...) are followed`)
  return problems
}

/** An object schema the registry accepts, or the reasons it cannot be one. */
export function objectSchema(
  schema: JsonSchema | undefined,
  where: string,
): { schema?: JsonSchema; problems: string[] } {
  if (schema === undefined) return { schema: { type: 'object', properties: {} }, problems: [] }
  let bytes: number
  try {
    bytes = Buffer.byteLength(JSON.stringify(schema))
  } catch {
    return { problems: [`${where}: not JSON`] }
  }
  if (bytes > MAX_SCHEMA_BYTES) return { problems: [`${where}: larger than ${MAX_SCHEMA_BYTES} bytes`] }
  const problems = schemaProblems(schema, where)
  if (problems.length > 0) return { problems }
  if (schema['type'] !== 'object')
    return { problems: [`${where}: must be an object schema (type: "object")`] }
  // `{type: "object"}` alone is a valid upstream schema; the registry wants its properties spelled.
  const copy: JsonSchema = JSON.parse(JSON.stringify(schema))
  if (copy['properties'] === undefined) copy['properties'] = {}
  delete copy['$schema']
  try {
    compileValidator(copy as never)
  } catch (error) {
    return { problems: [`${where}: does not compile (${(error as Error).message.slice(0, 200)})`] }
  }
  return { schema: copy, problems: [] }
}

function canonical(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort)
    if (v === null || typeof v !== 'object') return v
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
    )
  }
  return JSON.stringify(sort(value))
}

/** The version an import gets: the previous one when the schemas did not change, else bumped. */
export function nextVersion(
  previous: ImportedTool | undefined,
  input: JsonSchema,
  output: JsonSchema,
): string {
  if (!previous) return '1.0.0'
  if (canonical(previous.input) === canonical(input) && canonical(previous.output) === canonical(output))
    return previous.version
  const v = parseSemver(previous.version) ?? { major: 1, minor: 0, patch: 0 }
  const inputChanges = schemaChanges(previous.input, input)
  const outputChanges = schemaChanges(previous.output, output)
  const breaking =
    inputChanges.some((c) => c.direction === 'narrow' || c.direction === 'both') ||
    outputChanges.some((c) => c.direction === 'widen' || c.direction === 'both')
  if (breaking) return `${v.major + 1}.0.0`
  if (inputChanges.length + outputChanges.length > 0) return `${v.major}.${v.minor + 1}.0`
  // Only documentation changed.
  return `${v.major}.${v.minor}.${v.patch + 1}`
}

export interface ImportPlan extends ImportPreview {
  imported: ImportedTool[]
}

/**
 * Plans the import of an upstream's tools under `serviceId`. `previous` is the last import of the
 * same link (for versions); `taken` says whether a name belongs to a tool outside this link.
 */
export function planImport(
  serviceId: string,
  upstream: readonly UpstreamTool[],
  previous: readonly ImportedTool[],
  taken: (name: string) => boolean,
): ImportPlan {
  const before = new Map(previous.map((t) => [t.upstream, t]))
  const imported: ImportedTool[] = []
  const rejected: ImportPreview['rejected'] = []
  const names = new Map<string, string>()
  for (const tool of upstream) {
    const upstreamName = typeof tool?.name === 'string' ? tool.name : ''
    if (upstreamName === '' || upstreamName.length > 256) {
      rejected.push({
        upstream: upstreamName.slice(0, 256),
        reason: 'the upstream name is empty or too long',
      })
      continue
    }
    const name = importedName(serviceId, upstreamName)
    if (!isToolName(name)) {
      rejected.push({ upstream: upstreamName, reason: `its name cannot be made a tool name (${name})` })
      continue
    }
    const clash = names.get(name)
    if (clash !== undefined) {
      rejected.push({
        upstream: upstreamName,
        reason: `${name} is already the name of upstream tool ${clash}`,
      })
      continue
    }
    if (taken(name)) {
      rejected.push({ upstream: upstreamName, reason: `${name} collides with a tool already registered` })
      continue
    }
    const input = objectSchema(tool.input, 'input schema')
    const output = objectSchema(tool.output, 'output schema')
    const problems = [...input.problems, ...output.problems]
    if (problems.length > 0 || !input.schema || !output.schema) {
      rejected.push({
        upstream: upstreamName,
        reason: `malformed schema: ${problems.slice(0, 3).join('; ')}`,
      })
      continue
    }
    names.set(name, upstreamName)
    const hints: Record<string, boolean> = {}
    for (const [k, v] of Object.entries(tool.hints ?? {})) if (typeof v === 'boolean') hints[k] = v
    // Whatever the upstream says, a federated tool reaches outside the daemon.
    hints['openWorld'] = true
    imported.push({
      name,
      upstream: upstreamName,
      version: nextVersion(before.get(upstreamName), input.schema, output.schema),
      title: (tool.title || upstreamName).slice(0, 200),
      description: (tool.description || `The ${upstreamName} tool of ${serviceId}.`).slice(0, 4000),
      input: input.schema,
      output: output.schema,
      hints,
      retrySafe: tool.retrySafe === true || hints['idempotent'] === true || hints['readOnly'] === true,
    })
  }
  return {
    imported,
    rejected,
    tools: imported.map((t) => ({ name: t.name, upstream: t.upstream, title: t.title })),
  }
}

/** Earlier versions of one imported tool that stay registered beside the current one. */
export const KEEP_RETIRED = 2

/**
 * The earlier versions kept after an import: for each tool still imported whose version changed,
 * the version it had becomes the newest retired one (stamped `retiredAt`), before the ones retired
 * already; at most KEEP_RETIRED per tool. Versions of tools the upstream no longer offers go.
 */
export function retiredAfter(
  previous: readonly ImportedTool[],
  retired: readonly ImportedTool[],
  imported: readonly ImportedTool[],
  at: string,
): ImportedTool[] {
  const out: ImportedTool[] = []
  for (const tool of imported) {
    const before = previous.find((t) => t.upstream === tool.upstream)
    const older = retired.filter(
      (t) => t.upstream === tool.upstream && t.name === tool.name && t.version !== tool.version,
    )
    const kept =
      before && before.name === tool.name && before.version !== tool.version
        ? [{ ...before, retiredAt: at }, ...older]
        : older
    out.push(...kept.slice(0, KEEP_RETIRED))
  }
  return out
}
