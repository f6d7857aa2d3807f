// `arw mcp` as a child process for stdio tests: the real command, plus the test tools and a hook
// that registers a tool at run time on SIGUSR2 (to prove tools/list_changed over stdio).
import { runMcp } from '../../../daemon/src/cli/mcp.ts'
import { lateTool, waitTool } from './daemon.ts'

await runMcp({
  extraTools: [waitTool],
  onReady: (app) => {
    let n = 0
    process.on('SIGUSR2', () => app.arw.registry.addTools([lateTool(`late.stdio${++n}`)]))
    process.stderr.write('MCP-READY\n')
  },
})
