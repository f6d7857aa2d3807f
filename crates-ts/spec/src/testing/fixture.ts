import { defineEvent, defineTool, Registry } from '@arw/registry'
import Type from 'typebox'
import type { HttpRouteDoc } from '../route.ts'

/**
 * A small but complete product for the emitter tests: several versions of one tool (current,
 * older, deprecated, experimental), tools with and without hints, error codes and capabilities,
 * event kinds, and routes exercising params, query, body, headers, non-JSON bodies and both auths.
 */
/** Whatever `Registry.addTools` accepts: tool specs of any input/output schema. */
type AnyToolSpec = Parameters<Registry['addTools']>[0][number]

export function fixtureTools(): AnyToolSpec[] {
  const echoInput = Type.Object({ text: Type.String({ maxLength: 100 }) }, { additionalProperties: false })
  const echoOutput = Type.Object({ text: Type.String() })
  return [
    defineTool({
      name: 'demo.echo',
      version: '1.0.0',
      title: 'Echo',
      description: 'Returns its input.',
      input: echoInput,
      output: echoOutput,
      hints: { readOnly: true, idempotent: true },
      handler: ({ text }) => ({ text }),
    }),
    defineTool({
      name: 'demo.echo',
      version: '0.9.0',
      title: 'Echo (old)',
      description: 'The first echo.',
      input: echoInput,
      output: echoOutput,
      stability: 'deprecated',
      deprecation: { since: '2025-01-01', sunset: '2026-01-01', replacement: 'demo.echo@1.0.0' },
      handler: ({ text }) => ({ text }),
    }),
    defineTool({
      name: 'demo.echo',
      version: '2.0.0-beta.1',
      title: 'Echo (next)',
      description: 'The next echo, with a count.',
      input: Type.Object({
        text: Type.String(),
        times: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
      }),
      output: Type.Object({ text: Type.Array(Type.String()) }),
      stability: 'experimental',
      handler: ({ text, times }) => ({ text: Array.from({ length: times ?? 1 }, () => text) }),
    }),
    defineTool({
      name: 'files.delete',
      version: '1.2.3',
      title: 'Delete a file',
      description: 'Deletes a file from the workspace.',
      input: Type.Object({ path: Type.String({ minLength: 1 }) }),
      output: Type.Object({ deleted: Type.Boolean() }),
      errors: ['not_found', 'conflict', 'upstream_error'],
      risk: 'high',
      hints: { readOnly: false, destructive: true, openWorld: false },
      capabilities: ['fs.write', 'fs.read'],
      timeoutMs: 5000,
      handler: () => ({ deleted: true }),
    }),
  ]
}

export function fixtureEvents() {
  return [
    defineEvent({
      kind: 'tool.ran',
      version: '1.0.0',
      title: 'A tool call finished',
      description: 'One call record.',
      payload: Type.Object({
        tool: Type.String(),
        outcome: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
        duration_ms: Type.Number({ minimum: 0 }),
      }),
    }),
    defineEvent({
      kind: 'daemon.started',
      version: '1.1.0',
      title: 'The daemon started',
      description: 'Written once per start.',
      severity: 'notice',
      payload: Type.Object({ version: Type.String(), pid: Type.Integer() }),
    }),
  ]
}

export function fixtureRegistry(order: 'declared' | 'reversed' = 'declared'): Registry {
  const registry = new Registry()
  const tools = fixtureTools()
  const events = fixtureEvents()
  if (order === 'reversed') {
    tools.reverse()
    events.reverse()
  }
  // Register one by one so the reversed order is a different registration history, not just a
  // different batch order.
  for (const event of events) registry.addEvents([event])
  for (const tool of tools) registry.addTools([tool])
  return registry
}

export function fixtureRoutes(): HttpRouteDoc[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      operationId: 'health',
      summary: 'Liveness',
      tags: ['health'],
      auth: 'public',
      responses: { 200: { description: 'Alive.', schema: Type.Object({ ok: Type.Boolean() }) } },
    },
    {
      method: 'POST',
      path: '/tools/{tool_id}:invoke',
      operationId: 'invokeTool',
      summary: 'Invoke a tool',
      description: 'Runs a tool through the governed pipeline.',
      tags: ['tools'],
      auth: 'admin',
      params: Type.Object({ tool_id: Type.String({ description: 'name or name@x.y.z' }) }),
      body: Type.Object({ input: Type.Optional(Type.Unknown()), task_id: Type.Optional(Type.String()) }),
      responses: {
        200: {
          description: 'The tool ran.',
          schema: Type.Object({ output: Type.Unknown(), tool: Type.String() }),
          headers: { traceparent: { description: 'W3C trace context.', schema: Type.String() } },
        },
      },
      errors: ['validation_failed', 'policy_denied', 'approval_required', 'not_found', 'conflict', 'timeout'],
    },
    {
      method: 'GET',
      path: '/admin/things/{kind}/{id}',
      operationId: 'getThing',
      summary: 'One thing',
      tags: ['things'],
      auth: 'admin',
      params: Type.Object({ kind: Type.String(), id: Type.String({ pattern: '^[a-z0-9]+$' }) }),
      query: Type.Object({
        verbose: Type.Optional(Type.Boolean({ description: 'Include everything.' })),
        fields: Type.String(),
      }),
      responses: { 200: { description: 'The thing.', schema: Type.Object({ id: Type.String() }) } },
      errors: ['gone'],
    },
    {
      method: 'DELETE',
      path: '/admin/things/{kind}/{id}',
      operationId: 'deleteThing',
      summary: 'Delete one thing',
      tags: ['things'],
      auth: 'admin',
      params: Type.Object({ kind: Type.String(), id: Type.String() }),
      responses: { 204: { description: 'Deleted.' } },
    },
    {
      method: 'GET',
      path: '/spec/openapi.yaml',
      operationId: 'specOpenApi',
      summary: 'This document',
      tags: ['spec'],
      auth: 'public',
      responses: { 200: { description: 'YAML.', contentType: 'application/yaml', schema: Type.String() } },
    },
  ]
}
