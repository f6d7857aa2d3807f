import type { ToolSpec } from '@arw/registry'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { buildApp } from '../app.ts'
import { loadConfig } from '../config.ts'
import { serveStdio } from '../surfaces/mcp/stdio.ts'

/**
 * `arw mcp`: an MCP server on stdin/stdout for clients that spawn their servers
 * (`{"command": "npx", "args": ["arw", "mcp"]}`). It builds the daemon in-process (the same
 * registry, pipeline and journal on the configured ARW_STATE_DIR, without listening on a port) and
 * serves it with the same dispatcher as /mcp, so every call is governed and journaled exactly like
 * an HTTP call. Logs go to stderr: stdout carries only protocol messages. Returns when the client
 * closes stdin.
 */
export interface McpCommandOptions {
  env?: NodeJS.ProcessEnv
  /** Extra tools (tests, embedders). */
  extraTools?: readonly ToolSpec<any, any, any>[]
  /** Called once the daemon is built, before serving (tests). */
  onReady?: (app: FastifyInstance) => void
}

export async function runMcp(options: McpCommandOptions = {}): Promise<void> {
  const config = loadConfig(options.env ?? process.env)
  const logger = pino(
    {
      level: config.logLevel,
      base: { service: 'arw-mcp' },
      redact: { paths: ['req.headers.authorization'], censor: '[redacted]' },
    },
    pino.destination(2),
  )
  const app = await buildApp({
    config,
    logger,
    ...(options.extraTools ? { extraTools: options.extraTools } : {}),
  })
  options.onReady?.(app)
  try {
    await serveStdio({ services: app.arw, input: process.stdin, output: process.stdout })
  } finally {
    await app.close()
  }
}
