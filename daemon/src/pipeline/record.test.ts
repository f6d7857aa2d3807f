import { createHash } from 'node:crypto'
import { SYSTEM_PRINCIPAL, traceFrom } from '@arw/protocol'
import { defineTool } from '@arw/registry'
import Type from 'typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TestDaemon, testDaemon } from '../testing/harness.ts'
import { RECORD_VALUE_LIMIT, recordValue } from './record.ts'

describe('recordValue', () => {
  it('keeps small clean values as they are', () => {
    const value = { text: 'hello', n: 3, nested: { list: [1, 'two', null, true] } }
    expect(recordValue(value)).toBe(value)
  })

  it('redacts values under secret-looking keys at any depth, and only those', () => {
    expect(
      recordValue({
        user: 'ann',
        password: 'hunter2',
        nested: [{ api_key: 'k', Authorization: 'Bearer x' }],
      }),
    ).toEqual({
      user: 'ann',
      password: '[redacted]',
      nested: [{ api_key: '[redacted]', Authorization: '[redacted]' }],
    })
    // A secret-looking word in a value is not a secret key.
    expect(recordValue({ text: 'my password is long' })).toEqual({ text: 'my password is long' })
  })

  it('summarises a value whose JSON is over the limit by its digest and size', () => {
    const digest = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex')
    const big = { text: 'x'.repeat(RECORD_VALUE_LIMIT) }
    expect(recordValue(big)).toEqual({
      omitted: true,
      bytes: Buffer.byteLength(JSON.stringify(big)),
      sha256: digest(big),
    })
    const many = { list: Array.from({ length: 2000 }, (_, i) => i) }
    expect(recordValue(many)).toEqual({
      omitted: true,
      bytes: JSON.stringify(many).length,
      sha256: digest(many),
    })
    // A secret deep in a large value is redacted before the digest is taken.
    const secret = { blob: 'z'.repeat(RECORD_VALUE_LIMIT), deep: { password: 'hunter2' } }
    expect(recordValue(secret)).toMatchObject({
      sha256: digest({ blob: secret.blob, deep: { password: '[redacted]' } }),
    })
    // The limit is the caller's (ARW_RECORD_VALUE_LIMIT).
    expect(recordValue({ text: 'hello' }, 8)).toMatchObject({ omitted: true, bytes: 16 })
    expect(recordValue(big, 10 * RECORD_VALUE_LIMIT)).toBe(big)
    // Just under the limit is kept whole.
    const near = { t: 'y'.repeat(RECORD_VALUE_LIMIT - 20) }
    expect(recordValue(near)).toBe(near)
  })
})

describe('call records in the journal', () => {
  let d: TestDaemon
  beforeAll(async () => {
    d = await testDaemon({
      extraTools: [
        defineTool({
          name: 'test.login',
          version: '1.0.0',
          title: 'Login',
          description: 'Takes a secret, returns a token.',
          input: Type.Object({ user: Type.String(), password: Type.String() }),
          output: Type.Object({ user: Type.String(), token: Type.String() }),
          handler: ({ user }) => ({ user, token: 'tok-123' }),
        }),
        defineTool({
          name: 'test.unlock',
          version: '1.0.0',
          title: 'Unlock',
          description: 'Takes a value declared writeOnly under a name that does not look secret.',
          input: Type.Object({ door: Type.String(), code: Type.String({ writeOnly: true, maxLength: 16 }) }),
          output: Type.Object({ door: Type.String() }),
          handler: ({ door, code }) => {
            if (code !== 'open-sesame') throw new Error('wrong code')
            return { door }
          },
        }),
      ],
    })
  })
  afterAll(() => d.close())

  it('never stores a secret input or output in the tool.ran record', async () => {
    const outcome = await d.app.arw.pipeline.invoke({
      ref: 'test.login',
      input: { user: 'ann', password: 'hunter2' },
      principal: SYSTEM_PRINCIPAL,
      trace: traceFrom(undefined),
      surface: 'test',
    })
    expect(outcome.result.output).toEqual({ user: 'ann', token: 'tok-123' })
    const [event] = await d.app.arw.journal.byTrace(outcome.result.trace_id)
    expect(event?.payload).toMatchObject({
      input: { user: 'ann', password: '[redacted]' },
      output: { user: 'ann', token: '[redacted]' },
    })
    expect(JSON.stringify(event)).not.toContain('hunter2')
    expect(JSON.stringify(event)).not.toContain('tok-123')
  })

  it('keeps an input property declared writeOnly out of the record, whatever its name, also when the call fails', async () => {
    const call = (code: string) =>
      d.app.arw.pipeline.invoke({
        ref: 'test.unlock',
        input: { door: 'front', code },
        principal: SYSTEM_PRINCIPAL,
        trace: traceFrom(undefined),
        surface: 'test',
      })
    const ok = await call('open-sesame')
    const [event] = await d.app.arw.journal.byTrace(ok.result.trace_id)
    expect(event?.payload).toMatchObject({ input: { door: 'front', code: '[redacted]' } })
    const failed = await call('wrong-guess').catch((e: { problem: { trace_id: string } }) => e.problem)
    const [record] = await d.app.arw.journal.byTrace((failed as { trace_id: string }).trace_id)
    expect(record?.payload).toMatchObject({ outcome: 'error', input: { door: 'front', code: '[redacted]' } })
    expect(JSON.stringify([event, record])).not.toMatch(/open-sesame|wrong-guess/)
  })
})

describe('ARW_RECORD_VALUE_LIMIT', () => {
  it('records a call whose input and output exceed it by digest and size only', async () => {
    const d = await testDaemon({ config: { recordValueLimit: 32 } })
    try {
      const text = 'a text longer than thirty-two bytes of JSON'
      const res = await d.app.inject({
        method: 'POST',
        url: '/tools/demo.echo:invoke',
        headers: { ...d.admin, 'content-type': 'application/json' },
        payload: { input: { text } },
      })
      expect(res.statusCode).toBe(200)
      const ran = (await d.app.arw.journal.read(0, 100)).find((e) => e.kind === 'tool.ran')!
      const json = JSON.stringify({ text })
      const summary = {
        omitted: true,
        bytes: json.length,
        sha256: createHash('sha256').update(json).digest('hex'),
      }
      expect(ran.payload).toMatchObject({ input: summary, output: summary })
    } finally {
      await d.close()
    }
  })
})
