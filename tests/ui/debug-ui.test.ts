/**
 * The debug UI end to end in headless Chromium, against a real daemon on 127.0.0.1 (random port):
 * token entry, the Tools panel (search, schema form, invoke, result, field-level problems, the
 * call's live events), keyboard use, the Events panel's exact resume after a disconnect, and the
 * Stats panel. Screenshots of each panel at 1280x800 and 420x800 go to test-artifacts/ui/.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineTool } from '@arw/registry'
import type { Page } from 'playwright-core'
import Type from 'typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256Hex, testConfig } from '../../daemon/src/config.ts'
import { type RunningDaemon, startDaemon } from '../../daemon/src/server.ts'
import { fieldId } from '../../daemon/src/surfaces/debug/web/form-model.ts'
import {
  type Browser,
  ensureChromium,
  launch,
  screenshot,
  tabTo,
  tabToSelector,
  type Win,
} from './browser.ts'

const TOKEN = 'ui-test-admin-token'

const FormInput = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 40, description: 'A short title.' }),
    count: Type.Integer({ minimum: 1, maximum: 10, default: 3 }),
    ratio: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
    mode: Type.Union([Type.Literal('fast'), Type.Literal('safe')], { default: 'safe' }),
    verbose: Type.Boolean({ default: false }),
    owner: Type.Object(
      {
        name: Type.String({ maxLength: 40 }),
        team: Type.Optional(Type.String({ pattern: '^[a-z]+$', maxLength: 20 })),
      },
      { additionalProperties: false },
    ),
    tags: Type.Array(Type.String({ maxLength: 20 }), { maxItems: 3 }),
  },
  { additionalProperties: false },
)

/** A tool whose input has every kind of field the form generator handles; it returns its input. */
const formTool = defineTool({
  name: 'uitest.form',
  version: '1.0.0',
  title: 'Form test',
  description: 'Returns its input. Used by the UI tests to exercise every kind of form field.',
  input: FormInput,
  output: FormInput,
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['test'],
  timeoutMs: 1000,
  handler: (input) => input,
})

let stateDir: string
let daemon: RunningDaemon
let base: string
let browser: Browser
let page: Page
const sseSockets = new Set<Socket>()
const foreignRequests: string[] = []
const pageErrors: string[] = []

async function invoke(tool: string, input: unknown): Promise<{ trace_id: string }> {
  const res = await fetch(`${base}/tools/${tool}:invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-arw-admin': TOKEN },
    body: JSON.stringify({ input }),
  })
  expect(res.status).toBe(200)
  return (await res.json()) as { trace_id: string }
}

async function text(selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent())?.trim() ?? ''
}

/** Waits until the Events panel's "last id" shows `id`. */
async function waitLastId(id: number): Promise<void> {
  await page.waitForFunction(
    (want) =>
      Number((globalThis as unknown as Win).document.querySelector('[data-testid="last-id"]')?.textContent) >=
      want,
    id,
  )
}

/** The event ids listed in the Events panel, ascending. */
async function listedIds(): Promise<number[]> {
  const ids = await page.$$eval('.event-list li.event', (lis) =>
    lis.map((li) => Number(li.getAttribute('data-event-id'))),
  )
  return ids.sort((a, b) => a - b)
}

function expectContiguous(ids: number[], from: number, to: number): void {
  const have = new Set(ids)
  const missing: number[] = []
  // Journal ids start at 1.
  for (let id = Math.max(1, from); id <= to; id++) if (!have.has(id)) missing.push(id)
  expect(missing).toEqual([])
}

async function noHorizontalScroll(): Promise<void> {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: (globalThis as unknown as Win).document.documentElement.scrollWidth,
    width: (globalThis as unknown as Win).document.documentElement.clientWidth,
  }))
  expect(scroll).toBeLessThanOrEqual(width)
}

async function bothSizes(name: string): Promise<void> {
  await page.setViewportSize({ width: 1280, height: 800 })
  await screenshot(page, `${name}-1280x800`)
  await noHorizontalScroll()
  await page.setViewportSize({ width: 420, height: 800 })
  await screenshot(page, `${name}-420x800`)
  await screenshot(page, `${name}-420x800-full`, true)
  await noHorizontalScroll()
  await page.setViewportSize({ width: 1280, height: 800 })
}

beforeAll(async () => {
  await ensureChromium()
  stateDir = mkdtempSync(join(tmpdir(), 'arw-ui-'))
  daemon = await startDaemon(
    testConfig({
      stateDir,
      host: '127.0.0.1',
      port: 0,
      debug: true,
      adminTokenSha256: sha256Hex(TOKEN),
    }),
    { extraTools: [formTool] },
  )
  base = daemon.url
  daemon.app.server.on('request', (req) => {
    if (req.url?.startsWith('/admin/events')) sseSockets.add(req.socket)
  })
  browser = await launch()
  page = browser.page
  page.on('request', (r) => {
    if (!r.url().startsWith(`${base}/`) && !r.url().startsWith('data:')) foreignRequests.push(r.url())
  })
  page.on('pageerror', (e) => pageErrors.push(String(e)))
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) pageErrors.push(m.text())
  })
}, 720_000)

afterAll(async () => {
  await browser?.close()
  await daemon?.close()
  if (stateDir) rmSync(stateDir, { recursive: true, force: true })
})

describe('debug UI in Chromium', () => {
  it('asks for the admin token once, keeps it in sessionStorage and never in the URL', async () => {
    await page.goto(`${base}/debug`)
    await page.locator('.banner[role="alert"]').waitFor()
    expect(await text('.banner')).toContain('needs the admin token')
    // The token field has focus, so it can be typed straight away.
    expect(await page.evaluate(() => (globalThis as unknown as Win).document.activeElement?.id)).toBe(
      'admin-token',
    )
    await bothSizes('token-prompt')
    await page.keyboard.type(TOKEN)
    await page.keyboard.press('Enter')
    await page.locator('a[data-tool="demo.echo@1.0.0"]').waitFor()
    expect(await page.locator('.banner').count()).toBe(0)
    expect(
      await page.evaluate(() =>
        (globalThis as unknown as Win).sessionStorage.getItem('arw.debug.adminToken'),
      ),
    ).toBe(TOKEN)
    expect(page.url()).not.toContain(TOKEN)
    await page.locator('[data-testid="stream-status"], .stream-badge.stream-open').first().waitFor()
    // Loaded again in the same tab: no second prompt.
    await page.reload()
    await page.locator('a[data-tool="demo.echo@1.0.0"]').waitFor()
    expect(await page.locator('#admin-token').count()).toBe(0)
  })

  it('finds demo.echo, fills its form, invokes it, and shows the result and its live tool.ran event', async () => {
    await page.locator('#tool-search').fill('echo')
    await page.waitForFunction(
      () => (globalThis as unknown as Win).document.querySelectorAll('.tool-list li').length === 1,
    )
    await page.locator('a[data-tool="demo.echo@1.0.0"]').click()
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Win).document.getElementById('tool-heading')?.textContent === 'Echo text',
    )
    const header = await text('.tool-header')
    expect(header).toContain('demo.echo@1.0.0')
    expect(header).toContain('stable')
    expect(header).toContain('risk low')
    expect(header).toContain('Returns the text it was given')
    const facts = await text('dl.facts')
    expect(facts).toContain('read-only')
    expect(facts).toContain('idempotent')
    expect(facts).toMatch(/capabilities\s*demo/)

    const textField = page.locator(`#${fieldId('/text')}`)
    await textField.fill('hello from chromium')
    await page.locator('form.invoke-form button[type="submit"]').click()
    await page.locator('.result .success').waitFor()
    expect(await text('.result .success pre.json')).toContain('"text": "hello from chromium"')
    const traceId = await text('.result .success a.trace code')
    expect(traceId).toMatch(/^[0-9a-f]{32}$/)

    // The call's tool.ran event arrives on the live stream and is listed under the result.
    const ran = page.locator('.call-events li[data-kind="tool.ran"]')
    await ran.waitFor()
    expect(await ran.textContent()).toContain('demo.echo@1.0.0 ok')
    const eventId = Number(await ran.getAttribute('data-event-id'))
    // It is the journal's record of this very call.
    const probe = (await (
      await fetch(`${base}/admin/probe?trace_id=${traceId}`, { headers: { 'x-arw-admin': TOKEN } })
    ).json()) as { events: Array<{ id: number; kind: string; trace_id: string }> }
    const recorded = probe.events.find((e) => e.kind === 'tool.ran')
    expect(recorded?.id).toBe(eventId)
    expect(recorded?.trace_id).toBe(traceId)

    await bothSizes('tools-result')

    // The trace id links to that call's events in the Events panel.
    await page.locator('.result .success a.trace').click()
    await page.waitForFunction(
      (t) => (globalThis as unknown as Win).location.hash === `#/events/trace/${t}`,
      traceId,
    )
    await page.locator(`.event-list li.event[data-event-id="${eventId}"][data-kind="tool.ran"]`).waitFor()
    expect(await text('.events-panel')).toContain(traceId)
    await page.locator(`.event-list li.event[data-event-id="${eventId}"] summary`).click()
    expect(await text(`.event-list li.event[data-event-id="${eventId}"] pre.json`)).toContain(
      '"outcome": "ok"',
    )
    await bothSizes('events-trace')
  })

  it("offers the tool's declared examples: one fills the JSON input and invokes to its declared output", async () => {
    await page.goto(`${base}/debug#/tools/hash.digest@1.0.0`)
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Win).document.getElementById('tool-heading')?.textContent === 'Hash text',
    )
    const example = page.locator('[data-testid="example-2"]')
    expect(await example.textContent()).toBe('SHA-256 of base64 bytes, base64url')
    await example.click()
    const json = JSON.parse(await page.locator('#input-json').inputValue())
    expect(json).toEqual({ base64: 'aGVsbG8=', encoding: 'base64url' })
    await page.locator('form.invoke-form button[type="submit"]').click()
    await page.locator('.result .success').waitFor()
    expect(await text('.result .success pre.json')).toContain(
      '"digest": "LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ"',
    )
  })

  it('builds a form from the schema and puts server problems next to the fields they name', async () => {
    await page.goto(`${base}/debug#/tools/uitest.form@1.0.0`)
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Win).document.getElementById('tool-heading')?.textContent === 'Form test',
    )
    await page.locator(`#${fieldId('/count')}`).waitFor()
    // Defaults and constraints come from the schema.
    expect(await page.locator(`#${fieldId('/count')}`).inputValue()).toBe('3')
    expect(await text(`#${fieldId('/count')}-hints`)).toMatch(/integer · ≥ 1 · ≤ 10 · default 3/)
    expect(await page.locator(`#${fieldId('/mode')} option:checked`).textContent()).toBe('safe')
    expect(await page.locator(`#${fieldId('/verbose')}`).isChecked()).toBe(false)
    expect(await page.locator(`fieldset[data-pointer="/owner"] legend`).textContent()).toContain('owner')
    expect(await page.locator(`fieldset[data-pointer="/tags"]`).count()).toBe(1)
    expect(await text(`#${fieldId('/owner/team')}-hints`)).toContain('pattern ^[a-z]+$')

    await page.locator(`#${fieldId('/title')}`).fill('bounds')
    await page.locator(`#${fieldId('/owner/name')}`).fill('me')
    await page.locator(`#${fieldId('/count')}`).fill('42')
    await page.locator(`#${fieldId('/owner/team')}`).fill('Not Lower')
    await page.locator('form.invoke-form button[type="submit"]').click()
    await page.locator('.result .problem').waitFor()
    expect(await text('.result .problem')).toContain('validation_failed')

    const countErrors = page.locator(`.field[data-pointer="/count"] .field-errors`)
    await countErrors.waitFor()
    expect(await countErrors.textContent()).toMatch(/10/)
    expect(await page.locator(`#${fieldId('/count')}`).getAttribute('aria-invalid')).toBe('true')
    expect(await page.locator(`#${fieldId('/count')}`).getAttribute('aria-describedby')).toContain(
      `${fieldId('/count')}-err`,
    )
    const teamErrors = page.locator(`.field[data-pointer="/owner/team"] .field-errors`)
    expect(await teamErrors.textContent()).toMatch(/pattern|match/i)
    // Focus lands on the first field named by the problem.
    await page
      .waitForFunction(
        (id) => (globalThis as unknown as Win).document.activeElement?.id === id,
        fieldId('/count'),
        { timeout: 5000 },
      )
      .catch(() => undefined)
    expect(await page.evaluate(() => (globalThis as unknown as Win).document.activeElement?.id)).toBe(
      fieldId('/count'),
    )
    // The problem's trace links to the failed call's events.
    expect(await page.locator('.result .problem a.trace').count()).toBe(1)
    await bothSizes('tools-problem')

    // A value of the wrong type: text in an integer field is sent as typed and named by the server.
    await page.locator(`#${fieldId('/count')}`).fill('many')
    await page.locator(`#${fieldId('/owner/team')}`).fill('')
    await page.locator('form.invoke-form button[type="submit"]').click()
    await page.waitForFunction(
      (id) =>
        /integer/i.test(
          (globalThis as unknown as Win).document.getElementById(`${id}-err`)?.textContent ?? '',
        ),
      fieldId('/count'),
    )
    expect(await page.locator(`.field[data-pointer="/owner/team"] .field-errors`).count()).toBe(0)
  })

  it('can be filled and submitted with the keyboard alone', async () => {
    await page.goto(`${base}/debug#/tools/uitest.form@1.0.0`)
    // A fresh page: nothing typed by the previous test is left in the form.
    await page.reload()
    await page.locator(`#${fieldId('/title')}`).waitFor()
    await page.locator('#tool-search').focus()
    await tabTo(page, fieldId('/title'))
    await page.keyboard.type('by keyboard')
    await tabTo(page, fieldId('/count'))
    await page.keyboard.press('ControlOrMeta+a')
    await page.keyboard.type('7')
    await tabTo(page, fieldId('/ratio'))
    await page.keyboard.type('0.5')
    await tabTo(page, fieldId('/mode'))
    await page.keyboard.press('ArrowUp')
    await tabTo(page, fieldId('/verbose'))
    await page.keyboard.press('Space')
    await tabTo(page, fieldId('/owner/name'))
    await page.keyboard.type('kb')
    await tabToSelector(page, 'fieldset[data-pointer="/tags"] > button')
    await page.keyboard.press('Enter')
    await page.locator(`#${fieldId('/tags/0')}`).waitFor()
    await tabTo(page, fieldId('/tags/0'), { back: true })
    await page.keyboard.type('alpha')
    await tabToSelector(page, 'form.invoke-form button[type="submit"]')
    await page.keyboard.press('Enter')
    await page.locator('.result .success').waitFor()
    const output = JSON.parse(await text('.result .success pre.json'))
    expect(output).toEqual({
      title: 'by keyboard',
      count: 7,
      ratio: 0.5,
      mode: 'fast',
      verbose: true,
      owner: { name: 'kb' },
      tags: ['alpha'],
    })

    // Ctrl+Enter invokes from inside a field too.
    await page.locator(`#${fieldId('/title')}`).focus()
    await page.keyboard.type(' again')
    const before = await text('.result .success a.trace code')
    await page.keyboard.press('Control+Enter')
    await page.waitForFunction((t) => {
      const now = (globalThis as unknown as Win).document.querySelector(
        '.result .success a.trace code',
      )?.textContent
      return now !== undefined && now !== t
    }, before)
    expect(JSON.parse(await text('.result .success pre.json')).title).toBe('by keyboard again')
  })

  it('resumes the event stream after a disconnect with no gap in event ids', async () => {
    await page.goto(`${base}/debug#/events`)
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Win).document.querySelector('[data-testid="stream-status"]')
          ?.textContent === 'open',
    )
    const head0 = daemon.app.arw.journal.head
    await waitLastId(head0)

    // 1. Paused by the user: events keep being recorded while the stream is closed.
    await page.getByRole('button', { name: 'Pause' }).click()
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Win).document.querySelector('[data-testid="stream-status"]')
          ?.textContent === 'paused',
    )
    for (let i = 0; i < 25; i++) await invoke('demo.echo', { text: `while paused ${i}` })
    const head1 = daemon.app.arw.journal.head
    expect(head1).toBeGreaterThanOrEqual(head0 + 25)
    expect(Number(await text('[data-testid="last-id"]'))).toBeLessThan(head1)
    await page.getByRole('button', { name: 'Resume' }).click()
    await waitLastId(head1)
    expect(await text('[data-testid="missing-ids"]')).toBe('0')
    expectContiguous(await listedIds(), head0 - 5, head1)

    // 2. The server drops the connection; events are recorded before the client reconnects.
    const reconnects1 = Number(await text('[data-testid="reconnects"]'))
    for (const s of sseSockets) s.destroy()
    sseSockets.clear()
    for (let i = 0; i < 15; i++) await invoke('demo.echo', { text: `while dropped ${i}` })
    const head2 = daemon.app.arw.journal.head
    await waitLastId(head2)
    expect(Number(await text('[data-testid="reconnects"]'))).toBeGreaterThan(reconnects1)
    expect(await text('[data-testid="missing-ids"]')).toBe('0')
    expectContiguous(await listedIds(), head0 - 5, head2)

    // 3. The Reconnect control closes and reopens the stream from the last id.
    const reconnects2 = Number(await text('[data-testid="reconnects"]'))
    await page.getByRole('button', { name: 'Reconnect' }).click()
    for (let i = 0; i < 5; i++) await invoke('demo.echo', { text: `around reconnect ${i}` })
    const head3 = daemon.app.arw.journal.head
    await waitLastId(head3)
    expect(Number(await text('[data-testid="reconnects"]'))).toBeGreaterThan(reconnects2)
    expect(await text('[data-testid="missing-ids"]')).toBe('0')
    expectContiguous(await listedIds(), head0 - 5, head3)

    // Kind-prefix filter: only tool.* rows remain.
    await page.locator('#event-filter').fill('tool.')
    const kinds = await page.$$eval('.event-list li.event', (lis) =>
      lis.map((li) => li.getAttribute('data-kind')),
    )
    expect(kinds.length).toBeGreaterThan(0)
    expect(kinds.every((k) => k?.startsWith('tool.'))).toBe(true)
    await page.locator('#event-filter').fill('')
    await page.locator('.event-list li.event summary').first().click()
    await bothSizes('events')
  })

  it('charts latency per route and per tool from /admin/introspect/stats', async () => {
    // Calls of its own, so the counts do not depend on what earlier tests did.
    for (let i = 0; i < 3; i++) await invoke('demo.echo', { text: `for the stats ${i}` })
    const counted = (await (
      await fetch(`${base}/admin/introspect/stats`, { headers: { 'x-arw-admin': TOKEN } })
    ).json()) as { tools: Array<{ name: string; hits: number }> }
    const echoHits = counted.tools.find((m) => m.name === 'demo.echo@1.0.0')?.hits ?? 0
    expect(echoHits).toBeGreaterThanOrEqual(3)
    await page.goto(`${base}/debug#/stats`)
    const toolRow = page.locator('table[data-table="tool"] tr[data-name="demo.echo@1.0.0"]')
    await toolRow.waitFor()
    expect(await toolRow.locator('svg.chart').count()).toBeGreaterThan(0)
    // The panel shows the daemon's own count (read after ours, so at least as large).
    expect(Number(await toolRow.locator('td').first().textContent())).toBeGreaterThanOrEqual(echoHits)
    const routeRow = page.locator('table[data-table="route"] tr[data-name="POST /tools/:call"]')
    await routeRow.waitFor()
    expect(await routeRow.locator('svg.chart[role="img"]').getAttribute('aria-label')).toMatch(/EWMA/)
    // A second reading extends the chart's line.
    await page.getByRole('button', { name: 'Refresh now' }).click()
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Win).document.querySelector(
          'table[data-table="route"] tr[data-name="POST /tools/:call"] polyline',
        ) !== null,
    )
    await bothSizes('stats')
  })

  it('labels every control of every panel', async () => {
    for (const hash of ['#/tools/uitest.form@1.0.0', '#/events', '#/stats']) {
      await page.goto(`${base}/debug${hash}`)
      await page.reload()
      await page.locator('main h2').first().waitFor()
      if (hash.startsWith('#/tools')) await page.locator(`#${fieldId('/title')}`).waitFor()
      const controls = await page.locator('input, select, textarea, button').count()
      expect(controls, hash).toBeGreaterThanOrEqual(3)
      const unlabeled = await page.$$eval('input, select, textarea, button', (els) =>
        els
          .filter((el) => {
            const e = el as unknown as {
              labels?: { length: number } | null
              getAttribute(n: string): string | null
              textContent: string | null
            }
            if (e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')) return false
            if (el.tagName === 'BUTTON') return (e.textContent ?? '').trim() === ''
            return !e.labels || e.labels.length === 0
          })
          .map((el) => el.outerHTML.slice(0, 120)),
      )
      expect(unlabeled, hash).toEqual([])
    }
  })

  it('shows only panels whose areas exist, loads nothing from other hosts and throws no errors', async () => {
    const panels = await page.$$eval('nav[aria-label="Panels"] a', (as) => as.map((a) => a.textContent))
    expect(panels.map((p) => p?.replace(/\d+/g, '').trim())).toEqual(['Tools', 'Events', 'Stats'])
    expect(foreignRequests).toEqual([])
    expect(pageErrors).toEqual([])
  })
})
