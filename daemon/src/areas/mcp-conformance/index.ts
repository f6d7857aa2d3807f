import { defineArea } from '../../kernel/area.ts'
import { flag } from '../../kernel/env.ts'
import { conformanceTools } from './tools.ts'

/**
 * The `test_*` tools the official MCP conformance suite calls, served only with
 * ARW_MCP_CONFORMANCE=1 (never documented in spec/: docgen uses the default configuration).
 */
export const mcpConformance = defineArea<undefined, { enabled: boolean }>({
  name: 'mcp-conformance',
  description: 'The tool pack of the official MCP conformance suite.',
  tools: conformanceTools,
  config: {
    vars: [
      {
        name: 'ARW_MCP_CONFORMANCE',
        default: '0',
        description:
          '1 or 0. 1 adds the MCP conformance tool pack (test_* tools the official conformance suite calls).',
      },
    ],
    parse: (env, problems) => ({ enabled: flag(env, 'ARW_MCP_CONFORMANCE', problems) }),
  },
  enabled: (config) => config.enabled,
})
