import { type PostgresServer, startPostgres } from '@arw/store/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { invoke, linkWeather, rest, StateDir } from './support.ts'

let postgres: PostgresServer
const state = new StateDir()

beforeAll(async () => {
  postgres = await startPostgres()
}, 60_000)
afterAll(async () => {
  await postgres?.stop()
  state.remove()
})

describe('connections on PostgreSQL', () => {
  it('keep connections, links, imported tools and secrets across a restart; the key stays in the state directory', async () => {
    const store = postgres.createDatabase('conn_restart')
    let app = await state.start({ store })
    await linkWeather(app)
    expect(
      (await rest(app, 'POST', '/connections/c-weather/bind-secret', { secret: 'pg-kept-secret' })).status,
    ).toBe(200)
    await app.close()
    // The database holds the sealed secret only (the key is the state directory's file): no record
    // or journal row has the secret in clear, and the sealed record is there.
    const rows = (where: string) =>
      postgres.sql('conn_restart', `SELECT count(*) FROM (SELECT * FROM arw_records r WHERE ${where}) x`)
    expect(rows("r::text LIKE '%pg-kept-secret%'").trim()).toBe('0')
    expect(rows("r::text LIKE '%aes-256-gcm%'").trim()).toBe('1')
    expect(
      postgres
        .sql('conn_restart', "SELECT count(*) FROM arw_journal j WHERE j::text LIKE '%pg-kept-secret%'")
        .trim(),
    ).toBe('0')

    app = await state.start({ store })
    try {
      expect(app.arw.registry.tryResolve('weather.forecast@1.0.0')).toBeDefined()
      let status = ''
      for (let i = 0; i < 100 && status !== 'up'; i++) {
        status = (await rest(app, 'GET', '/links')).body.links[0]?.status
        if (status !== 'up') await new Promise((r) => setTimeout(r, 50))
      }
      expect(status).toBe('up')
      const connection = (await rest(app, 'GET', '/connections/c-weather')).body.connection
      expect(connection.secretRef).toMatch(/^sealed:c-weather@/)
      expect((await invoke(app, 'weather.forecast', { city: 'Kyiv' })).body.output).toEqual({
        city: 'Kyiv',
        tempC: 12,
      })
    } finally {
      await app.close()
    }
  })
})
