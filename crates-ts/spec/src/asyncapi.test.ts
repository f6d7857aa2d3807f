import { defineEvent, Registry } from '@arw/registry'
import { Parser } from '@asyncapi/parser'
import Type from 'typebox'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { emitAsyncApi } from './asyncapi.ts'
import { SpecError } from './spec-error.ts'
import { specFiles, yamlText } from './spec-files.ts'
import { fixtureRegistry, fixtureRoutes } from './testing/fixture.ts'

const info = { title: 'ARW test', version: '9.9.9' }

/** Diagnostics worse than "information" (0 error, 1 warning, 2 information, 3 hint). */
async function serious(text: string) {
  const { document, diagnostics } = await new Parser().parse(text)
  return {
    document,
    diagnostics: diagnostics
      .filter((d) => d.severity <= 1)
      .map((d) => `${d.code}: ${d.message} at ${d.path.join('/')}`),
  }
}

describe('emitAsyncApi', () => {
  it('parses with @asyncapi/parser without errors or warnings', async () => {
    const text = specFiles({ registry: fixtureRegistry(), routes: fixtureRoutes(), version: '1.0.0' }).get(
      'asyncapi.yaml',
    )!
    const { document, diagnostics } = await serious(text)
    expect(diagnostics).toEqual([])
    expect(document).toBeDefined()
    expect(document!.version()).toBe('3.0.0')
    expect(document!.channels().get('events')?.address()).toBe('/admin/events')
    const operation = document!.operations().get('receiveEvents')!
    expect(operation.action()).toBe('receive')
    expect(
      operation
        .messages()
        .all()
        .map((m) => m.name()),
    ).toEqual(['daemon.started', 'tool.ran'])
  })

  it('has teeth: the parser reports a broken reference in the same document as an error', async () => {
    const doc = parse(yamlText(emitAsyncApi({ registry: fixtureRegistry(), info })))
    delete doc.components.messages['tool.ran']
    const { diagnostics } = await serious(yamlText(doc))
    expect(diagnostics.length).toBeGreaterThan(0)
  })

  it('wraps each kind payload in the journal envelope', () => {
    const doc = emitAsyncApi({ registry: fixtureRegistry(), info })
    expect(Object.keys(doc.components.messages)).toEqual(['daemon.started', 'tool.ran'])
    expect(doc.channels['events']?.['messages']).toEqual({
      'daemon.started': { $ref: '#/components/messages/daemon.started' },
      'tool.ran': { $ref: '#/components/messages/tool.ran' },
    })
    const started = doc.components.messages['daemon.started'] as unknown as {
      name: string
      payload: { required: string[]; properties: Record<string, Record<string, unknown>> }
    }
    expect(started.name).toBe('daemon.started')
    expect(started.payload.required).toEqual(['id', 'time', 'kind', 'version', 'severity', 'payload'])
    expect(started.payload.properties['kind']).toEqual({ type: 'string', const: 'daemon.started' })
    expect(started.payload.properties['version']?.['const']).toBe('1.1.0')
    expect(started.payload.properties['severity']).toEqual({
      type: 'string',
      enum: ['debug', 'info', 'notice', 'warning', 'error', 'critical'],
      default: 'notice',
    })
    expect(started.payload.properties['time']).toMatchObject({ type: 'string', format: 'date-time' })
    expect(started.payload.properties['actor']).toEqual({ $ref: '#/components/schemas/EventActor' })
    expect(started.payload.properties['payload']).toEqual({
      type: 'object',
      required: ['version', 'pid'],
      properties: { version: { type: 'string' }, pid: { type: 'integer' } },
    })
  })

  it('reports an event payload JSON cannot carry', () => {
    const registry = new Registry()
    registry.addEvents([
      defineEvent({
        kind: 'x.happened',
        version: '1.0.0',
        title: 'X',
        description: 'X happened.',
        payload: Type.Object({ n: Type.Number({ maximum: Number.POSITIVE_INFINITY }) }),
      }),
    ])
    expect(() => emitAsyncApi({ registry, info })).toThrow(SpecError)
    expect(() => emitAsyncApi({ registry, info })).toThrow(
      'event x.happened payload schema/properties/n/maximum: Infinity is not a JSON number',
    )
  })
})
