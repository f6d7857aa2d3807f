import type { RegisteredTool, Registry } from '@arw/registry'

/**
 * MCP tool names allow only 1-128 of [A-Za-z0-9_.-], so `memory.probe@1.0.0` cannot be one.
 * The mapping, used identically by the live MCP server and spec/mcp-tools.json:
 * - the version a bare name resolves to (newest stable) is listed under the bare name: `memory.probe`;
 * - every other version is listed under `<name>_v<version>`: `memory.probe_v0.9.0`.
 * The alias cannot collide with a real name: a name segment must start with a letter, so a name
 * never contains `_v<digit>...` followed by a `.<digit>` segment.
 * Any version may also be called by its alias even when it is the current one.
 */
export function mcpAlias(tool: { name: string; version: string }): string {
  return `${tool.name}_v${tool.version}`
}

const ALIAS = /^(.+)_v(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/

/** The registry reference (`name` or `name@version`) an MCP tool name stands for. */
export function mcpNameToRef(mcpName: string): string {
  const match = ALIAS.exec(mcpName)
  return match ? `${match[1]}@${match[2]}` : mcpName
}

/** The tools MCP clients see, in listing order, each with the name they see it under. */
export function mcpListing(registry: Registry): Array<{ name: string; tool: RegisteredTool }> {
  const out: Array<{ name: string; tool: RegisteredTool }> = []
  for (const tool of registry.tools()) {
    const current = registry.current(tool.name)
    out.push({ name: current?.id === tool.id ? tool.name : mcpAlias(tool), tool })
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}
