import { ERRORS, type FieldError, PROBLEM_CODES, ProblemError } from '@arw/protocol'
import type { TSchema } from 'typebox'
import { type DeclaredBinding, declareBindings, HTTP_METHODS, routeKey } from './http-binding.ts'
import { compareSemver, formatToolId, isToolName, parseSemver, parseToolRef } from './id.ts'
import {
  DEFAULT_TIMEOUT_MS,
  type EventSpec,
  type Risk,
  type Stability,
  type ToolDeclaration,
  type ToolExample,
  type ToolSpec,
} from './tool.ts'
import { compileValidator, type Validator } from './validator.ts'

/** A registered tool version with its compiled validators. */
export interface RegisteredTool extends ToolDeclaration {
  readonly inputValidator: Validator
  readonly outputValidator: Validator
}

/** A binding the HTTP surface serves, with the tool version that serves it. */
export interface ServedBinding {
  readonly binding: DeclaredBinding
  readonly tool: RegisteredTool
  /** Position of the binding in its tool's declaration (0: the first). */
  readonly index: number
}

export interface RegisteredEvent extends Required<EventSpec> {
  readonly validator: Validator
}

/** Every problem found while registering declarations, reported together. */
export class RegistryError extends Error {
  readonly problems: readonly string[]
  constructor(problems: readonly string[]) {
    super(`Invalid declarations:\n  - ${problems.join('\n  - ')}`)
    this.name = 'RegistryError'
    this.problems = problems
  }
}

export interface RegistryVisitor {
  onTool?(tool: RegisteredTool): void
  onEvent?(event: RegisteredEvent): void
}

export type ChangeListener = (change: { added: string[]; removed: string[]; revision: number }) => void

const PERMISSION = /^[a-z][a-z0-9_.-]*:[a-z*][a-z0-9_.*-]*$/

const STABILITIES: readonly Stability[] = ['stable', 'experimental', 'deprecated']
const RISKS: readonly Risk[] = ['low', 'medium', 'high', 'critical']

function isObjectSchema(schema: unknown): schema is TSchema {
  return (
    schema !== null &&
    typeof schema === 'object' &&
    (schema as { type?: unknown }).type === 'object' &&
    typeof (schema as { properties?: unknown }).properties === 'object'
  )
}

/** Each example's input (and output, when given) must satisfy the tool's schemas. */
function checkExamples(
  id: string,
  examples: readonly ToolExample[] | undefined,
  input: Validator,
  output: Validator,
  problems: string[],
): boolean {
  if (examples === undefined) return true
  const before = problems.length
  if (!Array.isArray(examples)) {
    problems.push(`${id}: examples must be an array`)
    return false
  }
  for (const [i, example] of examples.entries()) {
    const fields = (validator: Validator, value: unknown) =>
      validator
        .errors(value)
        .map((e) => `${e.pointer || '/'} ${e.message}`)
        .join('; ')
    if (example === null || typeof example !== 'object' || !('input' in example)) {
      problems.push(`${id}: examples[${i}] needs an input`)
      continue
    }
    if (!input.check(example.input))
      problems.push(
        `${id}: examples[${i}].input does not match the input schema: ${fields(input, example.input)}`,
      )
    if (example.output !== undefined && !output.check(example.output))
      problems.push(
        `${id}: examples[${i}].output does not match the output schema: ${fields(output, example.output)}`,
      )
  }
  return problems.length === before
}

/** The input properties a call record must not keep (`writeOnly: true`). */
function writeOnlyProperties(input: TSchema): string[] {
  const properties = (input as { properties?: Record<string, { writeOnly?: unknown }> }).properties ?? {}
  return Object.keys(properties).filter((name) => properties[name]?.writeOnly === true)
}

function compareTools(a: { name: string; version: string }, b: { name: string; version: string }): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1
  // Newest first within a name.
  return compareSemver(parseSemver(b.version)!, parseSemver(a.version)!)
}

/**
 * The set of declared tools and event kinds. Reads are served from sorted snapshots rebuilt on
 * change, so every emitter walking it sees the same deterministic order. Registration validates a
 * whole batch first and adds nothing when any declaration is wrong.
 */
export class Registry {
  #tools = new Map<string, RegisteredTool>()
  #byName = new Map<string, RegisteredTool[]>()
  #events = new Map<string, RegisteredEvent>()
  #sortedTools: RegisteredTool[] = []
  #sortedEvents: RegisteredEvent[] = []
  #bindings: ServedBinding[] = []
  #bindingsByKey = new Map<string, ServedBinding>()
  #revision = 0
  #listeners = new Set<ChangeListener>()

  get revision(): number {
    return this.#revision
  }

  /** Registers tool versions; `options.area` names the area whose context their handlers get. */
  addTools(specs: readonly ToolSpec<any, any, any>[], options: { area?: string } = {}): void {
    const problems: string[] = []
    const seen = new Set<string>()
    const prepared: RegisteredTool[] = []
    for (const [index, spec] of specs.entries()) {
      const label = spec?.name ? `${spec.name}@${spec.version}` : `tool #${index}`
      const before = problems.length
      if (typeof spec?.name !== 'string' || !isToolName(spec.name)) {
        problems.push(`${label}: name must match <dotted.name> (lowercase segments separated by dots)`)
      }
      if (typeof spec?.version !== 'string' || !parseSemver(spec.version)) {
        problems.push(`${label}: version must be semver major.minor.patch`)
      }
      if (!spec?.title) problems.push(`${label}: title is required`)
      if (!spec?.description) problems.push(`${label}: description is required`)
      if (!isObjectSchema(spec?.input)) problems.push(`${label}: input schema must be an object schema`)
      if (!isObjectSchema(spec?.output)) problems.push(`${label}: output schema must be an object schema`)
      if (typeof spec?.handler !== 'function') problems.push(`${label}: handler must be a function`)
      if (spec?.stability !== undefined && !STABILITIES.includes(spec.stability)) {
        problems.push(`${label}: stability must be one of ${STABILITIES.join(', ')}`)
      }
      if (spec?.risk !== undefined && !RISKS.includes(spec.risk)) {
        problems.push(`${label}: risk must be one of ${RISKS.join(', ')}`)
      }
      for (const code of spec?.errors ?? []) {
        if (!(PROBLEM_CODES as readonly string[]).includes(code))
          problems.push(`${label}: unknown error code ${code}`)
      }
      if (spec?.timeoutMs !== undefined && !(Number.isInteger(spec.timeoutMs) && spec.timeoutMs > 0)) {
        problems.push(`${label}: timeoutMs must be a positive integer`)
      }
      if (spec?.permission !== undefined && !PERMISSION.test(spec.permission)) {
        problems.push(`${label}: permission must look like <scope>:<action>, e.g. connections:write`)
      }
      const http = isObjectSchema(spec?.input) ? declareBindings(label, spec.http, spec.input, problems) : []
      if (problems.length > before) continue
      const id = formatToolId(spec.name, spec.version)
      if (this.#tools.has(id) || seen.has(id)) {
        problems.push(`${id}: this version is already registered`)
        continue
      }
      seen.add(id)
      try {
        const inputValidator = compileValidator(spec.input)
        const outputValidator = compileValidator(spec.output)
        if (!checkExamples(id, spec.examples, inputValidator, outputValidator, problems)) continue
        prepared.push(
          Object.freeze({
            id,
            name: spec.name,
            version: spec.version,
            title: spec.title,
            description: spec.description,
            input: spec.input,
            output: spec.output,
            errors: Object.freeze([...(spec.errors ?? [])]),
            stability: spec.stability ?? 'stable',
            risk: spec.risk ?? 'low',
            hints: Object.freeze({ ...(spec.hints ?? {}) }),
            capabilities: Object.freeze([...(spec.capabilities ?? [])].sort()),
            timeoutMs: spec.timeoutMs ?? DEFAULT_TIMEOUT_MS,
            limits: Object.freeze({ ...(spec.limits ?? {}) }),
            deprecation: spec.deprecation,
            permission: spec.permission,
            area: options.area,
            writeOnly: Object.freeze(writeOnlyProperties(spec.input)),
            http: Object.freeze(http),
            examples: Object.freeze(
              (spec.examples ?? []).map((example: ToolExample) => Object.freeze({ ...example })),
            ),
            handler: spec.handler,
            inputValidator,
            outputValidator,
          }),
        )
      } catch (error) {
        problems.push(`${id}: schema does not compile: ${(error as Error).message}`)
      }
    }
    this.#checkBindingClashes(prepared, problems)
    if (problems.length > 0) throw new RegistryError(problems)
    for (const tool of prepared) {
      this.#tools.set(tool.id, tool)
      const list = this.#byName.get(tool.name) ?? []
      list.push(tool)
      list.sort(compareTools)
      this.#byName.set(tool.name, list)
    }
    this.#changed(
      prepared.map((t) => t.id),
      [],
    )
  }

  /**
   * Versions of one name may share a route (the current one serves it); two names may not, since a
   * request could not say which of them it means.
   */
  #checkBindingClashes(prepared: readonly RegisteredTool[], problems: string[]): void {
    const owners = new Map<string, RegisteredTool>()
    for (const tool of [...this.#tools.values(), ...prepared]) {
      for (const binding of tool.http) {
        const key = routeKey(binding.method, binding.path)
        const owner = owners.get(key)
        if (owner === undefined) owners.set(key, tool)
        else if (owner.name !== tool.name) {
          problems.push(
            `${tool.id}: http ${binding.method} ${binding.path} is already bound by ${owner.id} (templated paths that differ only in parameter names are the same route)`,
          )
        }
      }
    }
  }

  /** Removes tool versions (e.g. a federated upstream went away). Unknown ids are ignored. */
  removeTools(ids: readonly string[]): void {
    const removed: string[] = []
    for (const id of ids) {
      const tool = this.#tools.get(id)
      if (!tool) continue
      this.#tools.delete(id)
      const list = (this.#byName.get(tool.name) ?? []).filter((t) => t.id !== id)
      if (list.length === 0) this.#byName.delete(tool.name)
      else this.#byName.set(tool.name, list)
      removed.push(id)
    }
    if (removed.length > 0) this.#changed([], removed)
  }

  addEvents(specs: readonly EventSpec<any>[]): void {
    const problems: string[] = []
    const prepared: RegisteredEvent[] = []
    const seen = new Set<string>()
    for (const [index, spec] of specs.entries()) {
      const label = spec?.kind ?? `event #${index}`
      const before = problems.length
      if (typeof spec?.kind !== 'string' || !isToolName(spec.kind))
        problems.push(`${label}: kind must be a dotted name`)
      if (typeof spec?.version !== 'string' || !parseSemver(spec.version)) {
        problems.push(`${label}: version must be semver`)
      }
      if (!spec?.title || !spec?.description) problems.push(`${label}: title and description are required`)
      if (!isObjectSchema(spec?.payload)) problems.push(`${label}: payload schema must be an object schema`)
      if (problems.length > before) continue
      if (this.#events.has(spec.kind) || seen.has(spec.kind)) {
        problems.push(`${spec.kind}: this event kind is already declared`)
        continue
      }
      seen.add(spec.kind)
      prepared.push(
        Object.freeze({
          kind: spec.kind,
          version: spec.version,
          title: spec.title,
          description: spec.description,
          payload: spec.payload,
          severity: spec.severity ?? 'info',
          journaled: spec.journaled ?? true,
          validator: compileValidator(spec.payload),
        }),
      )
    }
    if (problems.length > 0) throw new RegistryError(problems)
    for (const event of prepared) this.#events.set(event.kind, event)
    this.#changed([], [])
  }

  /** Every tool version, sorted by name, newest version first. */
  tools(): readonly RegisteredTool[] {
    return this.#sortedTools
  }

  events(): readonly RegisteredEvent[] {
    return this.#sortedEvents
  }

  /** Every REST binding served, by path then method, each with the tool version serving it. */
  bindings(): readonly ServedBinding[] {
    return this.#bindings
  }

  /** The binding serving `method` on a path template (parameter names do not matter). */
  binding(method: string, path: string): ServedBinding | undefined {
    return this.#bindingsByKey.get(routeKey(method, path))
  }

  event(kind: string): RegisteredEvent | undefined {
    return this.#events.get(kind)
  }

  /** Versions of one tool name, newest first. */
  versions(name: string): readonly RegisteredTool[] {
    return this.#byName.get(name) ?? []
  }

  /** The version a bare name resolves to: newest stable, else newest experimental, else newest. */
  current(name: string): RegisteredTool | undefined {
    const list = this.#byName.get(name)
    if (!list || list.length === 0) return undefined
    return (
      list.find((t) => t.stability === 'stable') ??
      list.find((t) => t.stability === 'experimental') ??
      list[0]
    )
  }

  /** Tools a bare name resolves to, one per name (what MCP clients list without a version). */
  currentTools(): readonly RegisteredTool[] {
    const out: RegisteredTool[] = []
    for (const name of [...this.#byName.keys()].sort()) out.push(this.current(name)!)
    return out
  }

  /** Resolves `name` or `name@x.y.z`, or throws the problem a caller should see. */
  resolve(ref: string): RegisteredTool {
    const parsed = parseToolRef(ref)
    if (!parsed) throw new ProblemError(ERRORS.invalid_tool_id, { id: ref })
    if (parsed.version === undefined) {
      const tool = this.current(parsed.name)
      if (!tool) throw new ProblemError(ERRORS.tool_not_found, { id: ref })
      return tool
    }
    const tool = this.#tools.get(ref)
    if (tool) return tool
    const versions = this.#byName.get(parsed.name)
    if (!versions) throw new ProblemError(ERRORS.tool_not_found, { id: ref })
    throw new ProblemError(ERRORS.tool_version_not_found, {
      id: parsed.name,
      version: parsed.version,
      available: versions.map((t) => t.version).join(', '),
    })
  }

  tryResolve(ref: string): RegisteredTool | undefined {
    try {
      return this.resolve(ref)
    } catch {
      return undefined
    }
  }

  /** Walks every declaration in a stable order: tools by name then newest version, events by kind. */
  reflect(visitor: RegistryVisitor): void {
    if (visitor.onTool) for (const tool of this.#sortedTools) visitor.onTool(tool)
    if (visitor.onEvent) for (const event of this.#sortedEvents) visitor.onEvent(event)
  }

  /** Subscribes to registry changes (MCP list_changed). Returns the unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * A route declared by several versions of a name is served by the version the bare name resolves
   * to, or else by the one `current` would prefer among those that declare it.
   */
  #indexBindings(): void {
    const byKey = new Map<string, ServedBinding>()
    for (const name of [...this.#byName.keys()].sort()) {
      const current = this.current(name)!
      const versions = this.#byName.get(name)!
      const preferred = [
        current,
        ...versions.filter((t) => t.stability === 'stable'),
        ...versions.filter((t) => t.stability === 'experimental'),
        ...versions,
      ]
      for (const tool of preferred) {
        for (const [index, binding] of tool.http.entries()) {
          const key = routeKey(binding.method, binding.path)
          if (!byKey.has(key)) byKey.set(key, Object.freeze({ binding, tool, index }))
        }
      }
    }
    this.#bindingsByKey = byKey
    this.#bindings = [...byKey.values()].sort((a, b) =>
      a.binding.path !== b.binding.path
        ? a.binding.path < b.binding.path
          ? -1
          : 1
        : HTTP_METHODS.indexOf(a.binding.method) - HTTP_METHODS.indexOf(b.binding.method),
    )
  }

  #changed(added: string[], removed: string[]): void {
    this.#sortedTools = [...this.#tools.values()].sort(compareTools)
    this.#sortedEvents = [...this.#events.values()].sort((a, b) =>
      a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0,
    )
    this.#indexBindings()
    this.#revision++
    if (added.length === 0 && removed.length === 0) return
    for (const listener of this.#listeners) listener({ added, removed, revision: this.#revision })
  }
}

export type { FieldError }
