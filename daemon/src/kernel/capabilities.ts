/**
 * Capabilities a tool declares to use MCP-only features. They are ordinary declared capabilities,
 * so they show in the catalog and policy can see them; the MCP surface acts on them.
 * - `mcp.content`: the tool's output carries `content`, an array of MCP content blocks (image,
 *   audio, embedded resources) that MCP clients get as the result's content instead of the text
 *   rendering of the output. `structuredContent` is still the whole output.
 * - `mcp.client`: the tool talks back to the MCP client of its call through `ctx.client`.
 */
export const MCP_CONTENT = 'mcp.content'
export const MCP_CLIENT = 'mcp.client'
