import type { ToolSpec } from '@arw/registry'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { buildApp } from '../app.ts'
import { loadConfig } from '../config.ts'
import { ensureStateDir } from '../state/dir.ts'
import { readLock, StateDirLockedError } from '../state/lock.ts'
import { serveStdio } from '../surfaces/mcp/stdio.ts'
import { forwardStdio } from './mcp-forward.ts'

/**
 * `arw mcp`: an MCP server on stdin/stdout for clients that spawn their servers
 * (`{"command": "arw", "args": ["mcp"]}`). When a daemon already owns ARW_STATE_DIR, it
 * forwards every message to that daemon's /mcp (found in the state directory's lock file, with the
 * daemon's local token), so the daemon stays the one writer of the journal. Otherwise it builds the
 * daemon in-process (the same registry, pipeline and journal, holding the state directory's lock,
 * without listening on a port) and serves it with the same dispatcher as /mcp, so every call is
 * governed and journaled exactly like an HTTP call. Logs go to stderr: stdout carries only
 * protocol messages. Returns when the client closes stdin.
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
  ensureStateDir(config.stateDir)
  const owner = readLock(config.stateDir)
  if (owner?.url) {
    logger.info({ url: owner.url }, 'a daemon owns the state directory: forwarding to its /mcp')
    await forwardStdio({
      url: owner.url,
      token: owner.token,
      input: process.stdin,
      output: process.stdout,
      log: (line) => process.stderr.write(`${line}\n`),
    })
    return
  }
  if (owner) {
    throw new Error(
      `${new StateDirLockedError(config.stateDir, owner).message} To share one state directory, run the daemon on it (arw start): every arw mcp beside it forwards to its /mcp.`,
    )
  }
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
