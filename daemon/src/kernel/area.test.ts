import { ERRORS, ProblemError } from '@arw/protocol'
import Type from 'typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AREAS } from '../areas/index.ts'
import { configVars, loadConfig } from '../config.ts'
import { createRegistry } from '../registry.ts'
import { routeDocs } from '../routes.ts'
import { type TestDaemon, testDaemon } from '../testing/harness.ts'
import { areaKit, defineArea } from './area.ts'
import { intVar } from './env.ts'

/** A small area as a user would write one: services from start, a config slice, a collection, a route. */
interface Counter {
  bump(by: number): number
}
const { tool, route } = areaKit<Counter, { step: number }>()

const counting = defineArea({
  name: 'counting',
  description: 'Counts, to show what an area gets.',
  config: {
    vars: [{ name: 'ARW_COUNTING_STEP', default: '1', description: 'How much one bump adds.' }],
    parse: (env, problems) => ({ step: intVar(env, 'ARW_COUNTING_STEP', 1, 1, 100, problems) }),
  },
  tools: [
    tool({
      name: 'counting.bump',
      version: '1.0.0',
      title: 'Bump',
      description: 'Adds the configured step, remembers the total.',
      input: Type.Object({ times: Type.Integer({ minimum: 1, maximum: 10 }) }),
      output: Type.Object({ total: Type.Integer() }),
      handler: async ({ times }, ctx) => {
        const total = ctx.services.bump(times * ctx.config.step)
        await ctx.collection<number>('totals').put('total', total)
        return { total }
      },
    }),
    tool({
      name: 'counting.move',
      version: '1.0.0',
      title: 'Move',
      description: 'Moves an amount between two counters, with an event, in one transaction.',
      input: Type.Object({ amount: Type.Integer() }),
      output: Type.Object({ from: Type.Integer(), to: Type.Integer() }),
      handler: async ({ amount }, ctx) => {
        const counters = ctx.collection<number>('counters', {
          indexes: [{ name: 'sign', of: (n) => (n < 0 ? '-' : '+') }],
        })
        return ctx.transaction(async (tx) => {
          const from = ((await tx.get(counters, 'from'))?.value ?? 100) - amount
          const to = ((await tx.get(counters, 'to'))?.value ?? 0) + amount
          tx.put(counters, 'from', from)
          tx.put(counters, 'to', to)
          void tx.append({ kind: 'counting.moved', version: '1.0.0', severity: 'info', payload: { amount } })
          if (amount > 100) throw new ProblemError(ERRORS.conflict, { reason: 'not that much' })
          return { from, to }
        })
      },
    }),
  ],
  routes: [
    route({
      doc: {
        method: 'GET',
        path: '/counting/total',
        operationId: 'countingTotal',
        summary: 'The total so far',
        tags: ['counting'],
        auth: 'admin',
        responses: { 200: { description: 'The total.', schema: Type.Object({ total: Type.Integer() }) } },
      },
      handler: (ctx) => async () => ({ total: (await ctx.collection<number>('totals').get('total')) ?? 0 }),
    }),
  ],
  start: async (ctx) => {
    let total = (await ctx.collection<number>('totals').get('total')) ?? 0
    return { services: { bump: (by: number) => (total += by) } }
  },
})

let d: TestDaemon
beforeAll(async () => {
  const areas = [...AREAS, counting]
  d = await testDaemon({ areas, config: { areas: loadConfig({ ARW_COUNTING_STEP: '5' }, areas).areas } })
})
afterAll(() => d.close())

describe('an area', () => {
  it('gives its tools its services, config slice and namespaced collections at call time', async () => {
    const res = await d.app.inject({
      method: 'POST',
      url: '/tools/counting.bump:invoke',
      headers: d.admin,
      payload: { input: { times: 2 } },
    })
    expect(res.json().output).toEqual({ total: 10 })
    // The collection is the area's own: namespaced by the area's name in the store.
    const totals = d.app.arw.store.collection<number>({ area: 'counting', name: 'totals' })
    expect(await totals.get('total')).toBe(10)
    expect(
      await d.app.arw.store.collection<number>({ area: 'other', name: 'totals' }).get('total'),
    ).toBeUndefined()
    const total = await d.app.inject({ url: '/counting/total', headers: d.admin })
    expect(total.json()).toEqual({ total: 10 })
  })

  it('gives its tools transactions: collection writes and events commit together, or nothing does', async () => {
    const move = (amount: number) =>
      d.app.inject({
        method: 'POST',
        url: '/tools/counting.move:invoke',
        headers: d.admin,
        payload: { input: { amount } },
      })
    expect((await move(30)).json().output).toEqual({ from: 70, to: 30 })
    const moved = async () =>
      (await d.app.arw.journal.read(0, 10_000)).filter((e) => e.kind === 'counting.moved')
    expect(await moved()).toHaveLength(1)
    const refused = await move(500)
    expect(refused.statusCode).toBe(409)
    const counters = d.app.arw.store.collection<number>({ area: 'counting', name: 'counters' })
    expect(await counters.get('from')).toBe(70)
    expect(await moved()).toHaveLength(1)
    expect((await counters.find('sign', '+')).items.map((e) => e.key)).toEqual(['from', 'to'])
  })

  it('is one declaration that the registry, routes, configuration and docs read', () => {
    const areas = [...AREAS, counting]
    const config = loadConfig({}, areas)
    expect(createRegistry({ areas, config }).tryResolve('counting.bump')?.area).toBe('counting')
    expect(routeDocs(areas).map((r) => r.path)).toContain('/counting/total')
    expect(configVars(areas).map((v) => v.name)).toContain('ARW_COUNTING_STEP')
    expect(config.areas['counting']).toEqual({ step: 1 })
    expect(() => loadConfig({ ARW_COUNTING_STEP: '0' }, areas)).toThrow(/ARW_COUNTING_STEP/)
  })

  it('serves an optional area only when its configuration enables it', () => {
    const off = createRegistry({ config: loadConfig({}) })
    expect(off.tryResolve('test_simple_text')).toBeUndefined()
    const on = createRegistry({ config: loadConfig({ ARW_MCP_CONFORMANCE: '1' }) })
    expect(on.tryResolve('test_simple_text')?.area).toBe('mcp-conformance')
  })
})
