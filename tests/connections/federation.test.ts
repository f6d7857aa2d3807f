import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { control, invoke, linkWeather, resetControl, rest, StateDir } from './support.ts'

let state: StateDir
let app: FastifyInstance
let link: any

beforeAll(async () => {
  state = new StateDir()
  app = await state.start()
  link = await linkWeather(app)
})
afterAll(async () => {
  await app.close()
  state.remove()
})
beforeEach(() => resetControl())

describe('a local module linked under a service namespace', () => {
  it('imports its tools as <serviceId>.<name>@1.0.0, up and healthy', () => {
    expect(link.status).toBe('up')
    expect(link.tools).toEqual(
      expect.arrayContaining(['weather.forecast@1.0.0', 'weather.flaky_read@1.0.0', 'weather.slow@1.0.0']),
    )
  })

  it('calls an imported tool through the pipeline and checks its output', async () => {
    const res = await invoke(app, 'weather.forecast', { city: 'Oslo' })
    expect(res.status).toBe(200)
    expect(res.body.output).toEqual({ city: 'Oslo', tempC: 12 })
    expect(res.body.tool).toBe('weather.forecast@1.0.0')
    const bad = await invoke(app, 'weather.forecast', { city: '' })
    expect(bad.status).toBe(400)
    expect(bad.body.code).toBe('validation_failed')
    expect(control().calls).toBe(1)
  })

  it('reports a malformed upstream schema and a name collision instead of importing them', async () => {
    expect(link.tools.some((t: string) => t.startsWith('weather.broken'))).toBe(false)
    expect(link.health.errors.join('\n')).toMatch(/broken: malformed schema/)
    expect(link.health.errors.join('\n')).toMatch(/get_time: weather\.get_time is already the name/)
    expect(link.health.ok).toBe(false)
  })
})
