import { ERRORS, ProblemError } from '@arw/protocol'
import type { Registry, ToolContext, ToolSpec } from '@arw/registry'
import type { TSchema } from 'typebox'
import type { ImportPlan } from './import.ts'
import type { ImportedTool } from './model.ts'

/**
 * The registry side of federation: which registered tools are imports of which link, and the
 * registration of a link's tools with their versions (the current one of each upstream tool, and
 * the earlier versions kept beside it as deprecated). import.ts decides names and versions; this
 * puts them in the registry and answers, per call, what a tool id stands for upstream.
 */

/** What a registered imported tool stands for. */
export interface ImportedRef {
  linkId: string
  connectionId: string
  upstream: string
  retrySafe: boolean
  /** For an earlier version: the id of the current one, whose schemas the upstream follows now. */
  replacement?: string
}

/** A link as far as its registered tools go (the federation's live link is one). */
export interface ImportHolder {
  readonly stored: { readonly id: string; readonly connectionId: string }
  /** The current versions registered for the link. */
  tools: ImportedTool[]
  /** Earlier versions registered beside them, deprecated (import.ts `retiredAfter`). */
  retired: ImportedTool[]
}

/** What the handler of an imported tool calls: the federation, found in the area's services. */
export interface FederatedCall {
  call(input: Record<string, unknown>, ctx: ToolContext, timeoutMs: number): Promise<Record<string, unknown>>
}

const idOf = (t: ImportedTool) => `${t.name}@${t.version}`

export class ImportedTools {
  readonly #registry: Registry
  readonly #refs = new Map<string, ImportedRef>()

  constructor(registry: Registry) {
    this.#registry = registry
  }

  /** What `toolId` stands for upstream, when it is an import. */
  ref(toolId: string): ImportedRef | undefined {
    return this.#refs.get(toolId)
  }

  /** Whether a tool name is taken by a tool that is not an import of `linkId`. */
  taken(name: string, linkId?: string): boolean {
    return this.#registry
      .versions(name)
      .some((t) => this.#refs.get(t.id)?.linkId !== linkId || linkId === undefined)
  }

  /** Names registered under `serviceId.` by anything but links (an area's tools, another link). */
  namespaceTaken(serviceId: string): string | undefined {
    const prefix = `${serviceId}.`
    return this.#registry.tools().find((t) => t.name === serviceId || t.name.startsWith(prefix))?.id
  }

  /**
   * Registers `tools` and the earlier versions `retired` for the link, in place of what it had,
   * and sets the link's `tools` and `retired` to what was registered; answers the tools the
   * registry refused. Unchanged versions stay registered as they are (no listChanged for them); an
   * earlier version is registered deprecated, pointing at the current one, and only while a
   * current version of its tool is registered.
   */
  register(
    link: ImportHolder,
    tools: readonly ImportedTool[],
    retired: readonly ImportedTool[],
    timeoutMs: number,
  ): ImportPlan['rejected'] {
    const registered: ImportedTool[] = []
    const rejected: ImportPlan['rejected'] = []
    // Decided before anything is removed: which earlier version points at which current one.
    const planned = new Map(tools.map((t) => [t.name, idOf(t)]))
    const keep = new Set([...tools.map(idOf), ...retired.map(idOf)])
    const stale = [...link.tools, ...link.retired].map(idOf).filter((id) => !keep.has(id))
    // An earlier version whose current one changed is registered again with the new replacement.
    for (const t of retired) {
      const ref = this.#refs.get(idOf(t))
      if (ref && ref.replacement !== planned.get(t.name)) stale.push(idOf(t))
    }
    for (const id of stale) this.#refs.delete(id)
    this.#registry.removeTools(stale)
    /** Registers one version; answers why the registry refused it, if it did. */
    const add = (tool: ImportedTool, replacement: string | undefined): string | undefined => {
      const id = idOf(tool)
      if (this.#refs.get(id)?.linkId === link.stored.id && this.#registry.tryResolve(id)) return
      try {
        this.#registry.addTools([toolSpec(tool, timeoutMs, replacement)], { area: 'connections' })
        this.#refs.set(id, {
          linkId: link.stored.id,
          connectionId: link.stored.connectionId,
          upstream: tool.upstream,
          retrySafe: tool.retrySafe,
          ...(replacement ? { replacement } : {}),
        })
        return
      } catch (error) {
        return (error as Error).message.split('\n').slice(1).join(' ').trim() || 'refused by the registry'
      }
    }
    for (const tool of tools) {
      const refused = add(tool, undefined)
      if (refused === undefined) registered.push(tool)
      else rejected.push({ upstream: tool.upstream, reason: refused })
    }
    const current = new Map(registered.map((t) => [t.name, idOf(t)]))
    const kept: ImportedTool[] = []
    for (const tool of retired) {
      const replacement = current.get(tool.name)
      if (replacement === undefined) {
        this.#refs.delete(idOf(tool))
        this.#registry.removeTools([idOf(tool)])
        continue
      }
      // An earlier version the registry refuses is left out: the current one is what callers need.
      if (add(tool, replacement) === undefined) kept.push(tool)
    }
    link.tools = registered
    link.retired = kept
    return rejected
  }

  /** Removes every tool of the link from the registry; answers their ids. */
  unregister(link: ImportHolder): string[] {
    const ids = [...link.tools, ...link.retired].map(idOf)
    for (const id of ids) this.#refs.delete(id)
    this.#registry.removeTools(ids)
    link.tools = []
    link.retired = []
    return ids
  }

  /** Registers the link's tools again (their declared timeout follows the connection's). */
  reregister(link: ImportHolder, timeoutMs: number): void {
    const { tools, retired } = link
    this.unregister(link)
    this.register(link, tools, retired, timeoutMs)
  }

  /**
   * An earlier version is served by the upstream as it is now: a call its schema allows but the
   * current version's refuses would fail upstream, so it answers `gone` without going there.
   */
  checkStillAccepted(tool: string, replacement: string, input: Record<string, unknown>): void {
    const current = this.#registry.tryResolve(replacement)
    if (!current || current.inputValidator.check(current.inputValidator.withDefaults(input))) return
    throw new ProblemError(ERRORS.gone, {
      what: `This call of ${tool} (the upstream changed incompatibly; ${replacement} says what it takes now)`,
    })
  }

  /**
   * An answer an earlier version's output schema cannot describe is the upstream's change, not a
   * fault of this daemon: upstream_error (502) naming the version that describes it, not 500.
   */
  checkStillDescribed(tool: string, replacement: string, output: Record<string, unknown>): void {
    if (this.#registry.tryResolve(tool)?.outputValidator.check(output)) return
    throw new ProblemError(ERRORS.upstream_error, {
      reason: `the upstream's answer no longer matches the output schema of ${tool}; ${replacement} describes it`,
    })
  }
}

/** The registry declaration of one imported tool; its handler is the federation's call. */
export function toolSpec(
  tool: ImportedTool,
  timeoutMs: number,
  replacement?: string,
): ToolSpec<TSchema, TSchema, ToolContext & { services: { federation: FederatedCall } }> {
  return {
    ...(replacement
      ? {
          stability: 'deprecated' as const,
          deprecation: { ...(tool.retiredAt ? { since: tool.retiredAt } : {}), replacement },
        }
      : {}),
    name: tool.name,
    version: tool.version,
    title: tool.title,
    description: tool.description,
    input: tool.input as TSchema,
    output: tool.output as TSchema,
    hints: tool.hints,
    risk: tool.hints['readOnly'] ? 'low' : tool.hints['destructive'] ? 'high' : 'medium',
    capabilities: ['connections', 'federated'],
    errors: [
      'upstream_error',
      'unavailable',
      'rate_limited',
      'timeout',
      ...(replacement ? (['gone'] as const) : []),
    ],
    timeoutMs,
    handler: (input, ctx) => ctx.services.federation.call(input as Record<string, unknown>, ctx, timeoutMs),
  }
}
