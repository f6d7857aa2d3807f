import type { EventEnvelope } from '@arw/protocol'
import { ERRORS, ProblemError } from '@arw/protocol'
import { defineTool } from '@arw/registry'
import Type from 'typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_TOKEN, type TestDaemon, testDaemon } from '../daemon/src/testing/harness.ts'
import { connect, type TestClient } from './mcp/support/clients.ts'

/** A tool with a REST binding whose input comes from the path and the body. */
const rename = defineTool({
  name: 'test.parity.rename',
  version: '1.0.0',
  title: 'Rename',
  description: 'Answers the new name; "taken" is a conflict.',
  input: Type.Object(
    { id: Type.String(), name: Type.String(), dry_run: Type.Boolean({ default: false }) },
    { additionalProperties: false },
  ),
  output: Type.Object({ id: Type.String(), name: Type.String(), dry_run: Type.Boolean() }),
  errors: ['conflict'],
  http: { method: 'PATCH', path: '/parity/{id}' },
  handler: (input) => {
    if (input.name === 'taken') throw new ProblemError(ERRORS.conflict, { reason: 'the name is taken' })
    return input
  },
})

let d: TestDaemon
let mcp: TestClient

beforeAll(async () => {
  d = await testDaemon({ extraTools: [rename] })
  const base = await d.listen()
  mcp = await connect('sdk-v2', { http: new URL(`${base}/mcp`), token: TEST_TOKEN })
})

afterAll(async () => {
  await mcp.close()
  await d.close()
})

/** The record of the one call made since `head`. */
async function recordSince(head: number): Promise<EventEnvelope> {
  const records = (await d.app.arw.journal.read(head, 100)).filter((e) => e.kind === 'tool.ran')
  expect(records).toHaveLength(1)
  return records[0]!
}

/** What differs by nature between two calls of the same thing: identity, time, trace and surface. */
function comparable(record: EventEnvelope): unknown {
  const { id: _id, time: _time, trace_id: _trace, span_id: _span, ...rest } = record
  const { surface: _surface, duration_ms: _duration, ...payload } = record.payload as Record<string, unknown>
  return { ...rest, payload }
}

/** The same call made through the REST binding, `POST /tools/{id}:invoke` and MCP `tools/call`. */
async function recordsOfEachSurface(
  id: string,
  name: string,
  status: number,
): Promise<Record<string, EventEnvelope>> {
  let head = d.app.arw.journal.head
  const bound = await d.app.inject({
    method: 'PATCH',
    url: `/parity/${id}`,
    headers: d.admin,
    payload: { name },
  })
  expect(bound.statusCode).toBe(status)
  const binding = await recordSince(head)
  head = d.app.arw.journal.head
  const invoked = await d.app.inject({
    method: 'POST',
    url: '/tools/test.parity.rename:invoke',
    headers: d.admin,
    payload: { input: { id, name } },
  })
  expect(invoked.statusCode).toBe(status)
  const invoke = await recordSince(head)
  head = d.app.arw.journal.head
  await mcp.callTool('test.parity.rename', { id, name })
  return { binding, invoke, mcp: await recordSince(head) }
}

describe('a tool reached by its REST binding, by :invoke and by MCP', () => {
  it('records the same tool.ran record apart from surface, trace, time and duration', async () => {
    const records = await recordsOfEachSurface('c-1', 'fresh', 200)
    expect(records['binding']!.payload).toMatchObject({
      tool: 'test.parity.rename@1.0.0',
      outcome: 'ok',
      surface: 'http',
      input: { id: 'c-1', name: 'fresh', dry_run: false },
      output: { id: 'c-1', name: 'fresh', dry_run: false },
    })
    expect(records['invoke']!.payload).toMatchObject({ surface: 'http' })
    expect(records['mcp']!.payload).toMatchObject({ surface: 'mcp' })
    expect(comparable(records['binding']!)).toEqual(comparable(records['invoke']!))
    expect(comparable(records['binding']!)).toEqual(comparable(records['mcp']!))
  })

  it("records a tool's problem the same way on each surface", async () => {
    const records = await recordsOfEachSurface('c-2', 'taken', 409)
    expect(records['binding']!.payload).toMatchObject({ outcome: 'error', code: 'conflict', status: 409 })
    expect(comparable(records['binding']!)).toEqual(comparable(records['invoke']!))
    expect(comparable(records['binding']!)).toEqual(comparable(records['mcp']!))
  })
})
