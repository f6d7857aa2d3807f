import { loadConfig } from '@arw/daemon'
import { SYSTEM_PRINCIPAL, traceFrom } from '@arw/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AREAS } from '../daemon/src/areas/index.ts'
import { InvokeError, type InvokeOutcome } from '../daemon/src/pipeline/invoke.ts'
import { type TestDaemon, testDaemon } from '../daemon/src/testing/harness.ts'

/**
 * Tool examples are what the README's tool table, the OpenAPI and MCP catalogs and the fuzz test
 * show and start from, so each one must be a real call: run through the daemon, its input is
 * accepted, and a declared output is exactly what the tool answers.
 */
let d: TestDaemon
beforeAll(async () => {
  // Every area, the optional conformance pack too.
  d = await testDaemon({ config: { areas: loadConfig({ ARW_MCP_CONFORMANCE: '1' }).areas } })
})
afterAll(async () => {
  await d.close()
})

describe('tool examples', () => {
  it('are declared on every built-in tool', () => {
    const builtIn = AREAS.flatMap((area) => area.tools ?? []).map((t) => `${t.name}@${t.version}`)
    const served = d.app.arw.registry.tools()
    expect(served.map((t) => t.id).sort()).toEqual([...builtIn].sort())
    expect(served.filter((t) => t.examples.length === 0).map((t) => t.id)).toEqual([])
  })

  it('run: their input is accepted and a declared output is what the tool answers', async () => {
    let checked = 0
    for (const tool of d.app.arw.registry.tools()) {
      for (const example of tool.examples) {
        // Through the governed pipeline, as every surface calls (the conformance pack is not in spec/).
        const outcome = await d.app.arw.pipeline
          .invoke({
            ref: tool.id,
            input: example.input,
            principal: SYSTEM_PRINCIPAL,
            trace: traceFrom(undefined),
            surface: 'test',
          })
          .catch((error: unknown) => error as InvokeError)
        const what = `${tool.id} ${JSON.stringify(example.input)}: ${JSON.stringify(outcome)}`
        // Not refused by its schema (a tool that needs an MCP client may still refuse this call).
        if (outcome instanceof InvokeError)
          expect(outcome.problem.type, what).not.toBe('urn:arw:problem:validation_failed')
        if (example.output === undefined) continue
        expect(outcome, what).not.toBeInstanceOf(InvokeError)
        expect((outcome as InvokeOutcome).result.output, what).toEqual(example.output)
        checked++
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10)
  })
})
