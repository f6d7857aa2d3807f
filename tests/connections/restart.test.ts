import { Store } from '@arw/store'
import { afterAll, describe, expect, it } from 'vitest'
import { loadKeyFile, type SealedSecret, SecretBox } from '../../daemon/src/areas/connections/secrets.ts'
import { invoke, linkWeather, rest, StateDir } from './support.ts'

const state = new StateDir()
afterAll(() => state.remove())

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let value = await fn()
  for (let i = 0; i < 100 && !ok(value); i++) {
    await new Promise((r) => setTimeout(r, 50))
    value = await fn()
  }
  return value
}

describe('a restart', () => {
  it('keeps connections, links, imported tools and secrets; links come back by themselves', async () => {
    let app = await state.start()
    await linkWeather(app)
    expect(
      (await rest(app, 'POST', '/connections/c-weather/bind-secret', { secret: 'kept-across-restarts' }))
        .status,
    ).toBe(200)
    const before = {
      connection: (await rest(app, 'GET', '/connections/c-weather')).body.connection,
      tools: app.arw.registry
        .tools()
        .filter((t) => t.name.startsWith('weather.'))
        .map((t) => t.id),
    }
    expect(before.tools).toContain('weather.forecast@1.0.0')
    await app.close()

    app = await state.start()
    try {
      // Registered at start from the stored catalog, whether or not the upstream is back yet.
      const after = app.arw.registry
        .tools()
        .filter((t) => t.name.startsWith('weather.'))
        .map((t) => t.id)
      expect(after).toEqual(before.tools)
      const connection = (await rest(app, 'GET', '/connections/c-weather')).body.connection
      expect(connection).toMatchObject({
        id: 'c-weather',
        enabled: true,
        secretRef: before.connection.secretRef,
        createdAt: before.connection.createdAt,
      })
      const links = await until(
        () => rest(app, 'GET', '/links'),
        (r) => r.body.links[0]?.status === 'up',
      )
      expect(links.body.links).toHaveLength(1)
      expect(links.body.links[0]).toMatchObject({ id: 'l-weather', serviceId: 'weather', status: 'up' })
      const call = await invoke(app, 'weather.forecast', { city: 'Lima' })
      expect(call.status).toBe(200)
      expect(call.body.output).toEqual({ city: 'Lima', tempC: 12 })
    } finally {
      await app.close()
    }
    // The sealed secret opens with the state directory's key file, and only with it.
    const store = await Store.open({ location: state.dir })
    try {
      const sealed = await store
        .collection<SealedSecret>({ area: 'connections', name: 'secrets' })
        .get('c-weather')
      expect(sealed).toBeDefined()
      expect(new SecretBox(loadKeyFile(state.dir)).open(sealed!, 'c-weather')).toBe('kept-across-restarts')
      expect(() => new SecretBox(Buffer.alloc(32, 7)).open(sealed!, 'c-weather')).toThrow()
      expect(() => new SecretBox(loadKeyFile(state.dir)).open(sealed!, 'c-other')).toThrow()
    } finally {
      await store.close()
    }
  })
})
