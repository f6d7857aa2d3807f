/**
 * Headless Chromium for the UI tests: Debian's `chromium` (installed by tests/support/ensure-debian-package.sh when
 * missing, so a fresh machine and CI get it from the project's own setup) driven by playwright-core.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

/**
 * The few browser globals the tests touch inside page.evaluate callbacks, typed here so the repo's
 * Node-only typecheck (no DOM lib) covers them: `(globalThis as unknown as Win).document`.
 */
export interface El {
  id: string
  textContent: string | null
  getAttribute(name: string): string | null
  matches(selector: string): boolean
}
export interface Win {
  document: {
    activeElement: El | null
    querySelector(selector: string): El | null
    querySelectorAll(selector: string): { length: number }
    getElementById(id: string): El | null
    documentElement: { scrollWidth: number; clientWidth: number }
  }
  sessionStorage: { getItem(key: string): string | null }
  location: { hash: string }
}
const HERE = dirname(fileURLToPath(import.meta.url))
export const ARTIFACTS = join(HERE, '..', '..', 'test-artifacts', 'ui')

/** Longest the install may take (the script enforces it too); the hook that calls this allows more. */
export const INSTALL_LIMIT_S = 600

/** Runs ensure-debian-package.sh for chromium (no stdin, noninteractive apt-get, bounded); rejects with its output. */
export function ensureChromium(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'bash',
      [join(HERE, '..', 'support', 'ensure-debian-package.sh'), CHROMIUM, 'chromium', 'fonts-dejavu-core'],
      {
        timeout: (INSTALL_LIMIT_S + 30) * 1000,
        env: {
          ...process.env,
          DEBIAN_FRONTEND: 'noninteractive',
          ARW_INSTALL_TIMEOUT_S: String(INSTALL_LIMIT_S),
        },
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, _stdout, stderr) => {
        if (error) reject(new Error(`installing chromium failed: ${error.message}\n${stderr.slice(-4000)}`))
        else resolve()
      },
    )
    child.stdin?.end()
  })
}

export interface Browser {
  context: BrowserContext
  page: Page
  close(): Promise<void>
}

/** A fresh Chromium (its own user-data-dir, no network beyond what the page asks for). */
export async function launch(viewport = { width: 1280, height: 800 }): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'arw-ui-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 60_000,
  })
  const page = context.pages()[0] ?? (await context.newPage())
  page.setDefaultTimeout(15_000)
  return {
    context,
    page,
    close: async () => {
      await context.close().catch(() => undefined)
      rmSync(userDataDir, { recursive: true, force: true })
    },
  }
}

/** Saves a screenshot under test-artifacts/ui/ and returns its path. */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true })
  const path = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path, fullPage })
  return path
}

/** Presses Tab (or Shift+Tab) until the element with `id` has focus; fails after `max` presses. */
export async function tabTo(page: Page, id: string, options: { back?: boolean; max?: number } = {}) {
  const key = options.back ? 'Shift+Tab' : 'Tab'
  for (let i = 0; i < (options.max ?? 80); i++) {
    if (await page.evaluate((want) => (globalThis as unknown as Win).document.activeElement?.id === want, id))
      return
    await page.keyboard.press(key)
  }
  throw new Error(`#${id} was not reached with ${key}`)
}

/** Tabs until the focused element matches `selector`. */
export async function tabToSelector(page: Page, selector: string, max = 80) {
  for (let i = 0; i < max; i++) {
    if (
      await page.evaluate(
        (s) => (globalThis as unknown as Win).document.activeElement?.matches(s) === true,
        selector,
      )
    )
      return
    await page.keyboard.press('Tab')
  }
  throw new Error(`${selector} was not reached with Tab`)
}
