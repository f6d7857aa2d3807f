import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { describe, expect, it } from 'vitest'
import { fixtureRegistry } from './testing/fixture.ts'
import { emitToolSchemas } from './tool-schemas.ts'

describe('emitToolSchemas', () => {
  it('writes one JSON Schema 2020-12 document per tool version, named <id>.json', () => {
    const files = emitToolSchemas(fixtureRegistry())
    expect([...files.keys()]).toEqual([
      'demo.echo@2.0.0-beta.1.json',
      'demo.echo@1.0.0.json',
      'demo.echo@0.9.0.json',
      'files.delete@1.2.3.json',
    ])
    expect(files.get('files.delete@1.2.3.json')).toStrictEqual({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'urn:arw:tool:files.delete@1.2.3',
      title: 'Delete a file',
      description: 'Deletes a file from the workspace.',
      type: 'object',
      properties: { input: { $ref: '#/$defs/input' }, output: { $ref: '#/$defs/output' } },
      $defs: {
        input: { type: 'object', required: ['path'], properties: { path: { type: 'string', minLength: 1 } } },
        output: { type: 'object', required: ['deleted'], properties: { deleted: { type: 'boolean' } } },
      },
    })
  })

  it('marks a deprecated version, and only it, with the deprecated annotation', () => {
    const files = emitToolSchemas(fixtureRegistry())
    expect(files.get('demo.echo@0.9.0.json')?.deprecated).toBe(true)
    expect(files.get('demo.echo@1.0.0.json')).not.toHaveProperty('deprecated')
  })

  it('is usable as a schema on its own: $refs reach the input and output definitions', () => {
    const doc = emitToolSchemas(fixtureRegistry()).get('demo.echo@1.0.0.json')!
    const validator = Compile(doc as unknown as TSchema)
    expect(validator.Check({ input: { text: 'hi' }, output: { text: 'hi' } })).toBe(true)
    expect(validator.Check({ input: { text: 5 } })).toBe(false)
    expect(validator.Check({ input: { text: 'hi', extra: true } })).toBe(false)
    expect(validator.Check({ output: {} })).toBe(false)
  })
})
