import { Parser } from '@asyncapi/parser'
import { Validator } from '@seriousme/openapi-schema-validator'
import { beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { type Generated, generateFromDaemon } from './main.ts'

// The documents docgen writes for the real product (not a fixture): what spec/ holds once committed.
let generated: Generated
beforeAll(async () => {
  generated = await generateFromDaemon()
})

describe("the product's spec", () => {
  it('documents every tool version, event kind and route', () => {
    expect(generated.tools).toBeGreaterThan(0)
    expect(generated.events).toBeGreaterThan(0)
    expect(generated.routes).toBeGreaterThan(0)
    const schemas = [...generated.files.keys()].filter((path) => path.startsWith('schemas/'))
    expect(schemas).toHaveLength(generated.tools)
    const mcp = JSON.parse(generated.files.get('mcp-tools.json')!) as { tools: Array<{ name: string }> }
    expect(mcp.tools).toHaveLength(generated.tools)
    for (const tool of mcp.tools) expect(tool.name).toMatch(/^[A-Za-z0-9_.-]{1,128}$/)
  })

  it('is valid OpenAPI 3.1', async () => {
    const result = await new Validator().validate(parse(generated.files.get('openapi.yaml')!))
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
  })

  it('is AsyncAPI 3.0 that parses without errors or warnings', async () => {
    const { document, diagnostics } = await new Parser().parse(generated.files.get('asyncapi.yaml')!)
    expect(diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code}: ${d.message}`)).toEqual([])
    expect(document).toBeDefined()
  })
})
