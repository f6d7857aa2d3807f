import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ERRORS, ProblemError } from '@arw/protocol'
import type { HeaderDoc, HttpRouteDoc } from '@arw/spec'
import type { FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { presentedToken } from '../../auth/authenticator.ts'
import { authRequestOf } from '../../auth/request-guard.ts'
import { defineRoute } from '../../kernel/route.ts'
import type { Services } from '../../services.ts'
import { ASSET_FILES, ASSETS_DIR, ensureDebugUi } from './build.ts'

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
}

/**
 * The page loads nothing but its own two files and talks only to this daemon: the policy makes
 * "fully offline" enforced, not just true today.
 */
export const DEBUG_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

interface Asset {
  body: Buffer
  type: string
  etag: string
}

/** The built files, read once per process (built first when missing or stale). */
let loading: Promise<Map<string, Asset>> | undefined

function loadAssets(): Promise<Map<string, Asset>> {
  loading ??= (async () => {
    await ensureDebugUi()
    const out = new Map<string, Asset>()
    for (const name of ASSET_FILES) {
      const body = await readFile(join(ASSETS_DIR, name))
      out.set(name, {
        body,
        type: CONTENT_TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      })
    }
    return out
  })().catch((error: unknown) => {
    loading = undefined
    throw new ProblemError(ERRORS.unavailable, {
      reason: `the debug UI is not built and could not be built (${error instanceof Error ? error.message : String(error)}); run npm run build:debug-ui`,
    })
  })
  return loading
}

/**
 * Who gets the UI: everyone when ARW_DEBUG=1 (the files hold no data; every panel still needs the
 * admin API), else only a request that presents the admin token. Without ARW_DEBUG and without a
 * token the UI does not exist (404); a wrong token is a 401 (and counts as a failed attempt).
 */
async function admit(services: Services, request: FastifyRequest): Promise<void> {
  if (services.config.debug) return
  if (presentedToken(request.headers) === undefined) {
    throw new ProblemError(ERRORS.not_found, {
      what: 'The debug UI (enabled by ARW_DEBUG=1, or for a request with the admin token)',
    })
  }
  request.principal = await services.auth.authenticate(authRequestOf(request))
}

async function send(name: string, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const asset = (await loadAssets()).get(name)
  if (!asset) throw new ProblemError(ERRORS.not_found, { what: `debug asset ${name}` })
  reply.header('content-security-policy', DEBUG_CSP)
  reply.header('x-content-type-options', 'nosniff')
  reply.header('referrer-policy', 'no-referrer')
  reply.header('cache-control', 'private, no-cache')
  reply.header('etag', asset.etag)
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send()
  return reply.type(asset.type).send(asset.body)
}

/** The headers `send` sets on every answer of the UI's files, 200 and 304 alike. */
const ASSET_HEADERS: Record<string, HeaderDoc> = {
  'content-security-policy': {
    description: 'Loads nothing from other origins; talks only to this daemon.',
    schema: Type.String(),
  },
  'x-content-type-options': { description: '`nosniff`.', schema: Type.String() },
  'referrer-policy': { description: '`no-referrer`.', schema: Type.String() },
  'cache-control': {
    description: '`private, no-cache`: revalidated with the ETag each time.',
    schema: Type.String(),
  },
  etag: { description: 'Of the file served; send it back as If-None-Match.', schema: Type.String() },
}

const IF_NONE_MATCH = Type.Object({
  'if-none-match': Type.Optional(
    Type.String({ description: 'The ETag of a copy already held (304 if current).' }),
  ),
})

function assetResponses(description: string, content: Record<string, string>): HttpRouteDoc['responses'] {
  const [[first, what], ...rest] = Object.entries(content) as [[string, string], ...[string, string][]]
  return {
    200: {
      description,
      contentType: first,
      schema: Type.String({ description: what }),
      otherContent: Object.fromEntries(
        rest.map(([type, file]) => [
          type,
          // A source map is a JSON document; the others are text.
          type === 'application/json'
            ? Type.Record(Type.String(), Type.Unknown(), { description: file })
            : Type.String({ description: file }),
        ]),
      ),
      headers: ASSET_HEADERS,
    },
    304: {
      description: 'Not modified: the If-None-Match ETag is current (no body).',
      headers: ASSET_HEADERS,
    },
  }
}

const DESCRIPTION =
  "Served when the daemon runs with ARW_DEBUG=1, else only to a request with the admin token (404 without one, 401 with a wrong one). The page is static and holds no data; every panel reads the admin API (tools, schemas, invoke, events, probe, stats) with the admin token in the X-ARW-Admin header. The token is entered once in the page, kept in the tab's sessionStorage and never put in a URL. With ARW_DEBUG=1 and no token configured, loopback callers are admitted without one; otherwise the page asks for the token. Built from daemon/src/surfaces/debug/web (Preact, esbuild); loads nothing from other origins (Content-Security-Policy)."

export const debugRoutes = [
  defineRoute<Services>({
    doc: {
      method: 'GET',
      path: '/debug',
      operationId: 'debugUi',
      summary: 'The debug UI: tools with schema forms, live events, stats',
      description: DESCRIPTION,
      tags: ['debug'],
      auth: 'conditional',
      headers: IF_NONE_MATCH,
      responses: assetResponses('The HTML page.', { 'text/html': 'The page.' }),
      errors: ['not_found', 'unauthorized', 'forbidden', 'rate_limited', 'unavailable'],
    },
    handler: (services) => async (request, reply) => {
      await admit(services, request)
      return send('index.html', request, reply)
    },
  }),
  defineRoute<Services>({
    doc: {
      method: 'GET',
      path: '/debug/assets/{file}',
      operationId: 'debugUiAsset',
      summary: "A file of the debug UI's bundle",
      description: 'app.js, app.css and their source maps; served to whom /debug is served.',
      tags: ['debug'],
      auth: 'conditional',
      params: Type.Object({ file: Type.String({ pattern: '^[a-z0-9-]+(\\.[a-z0-9]+)+$', maxLength: 100 }) }),
      headers: IF_NONE_MATCH,
      responses: assetResponses('JavaScript, CSS or a source map.', {
        'text/javascript': 'app.js',
        'text/css': 'app.css',
        'application/json': 'app.js.map, app.css.map',
      }),
      errors: ['not_found', 'unauthorized', 'forbidden', 'rate_limited', 'unavailable'],
    },
    handler: (services) => async (request, reply) => {
      await admit(services, request)
      const file = (request.params as { file: string }).file
      if (file === 'index.html') throw new ProblemError(ERRORS.not_found, { what: `debug asset ${file}` })
      return send(file, request, reply)
    },
  }),
]
