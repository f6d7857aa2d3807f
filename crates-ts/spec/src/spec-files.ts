import type { Registry } from '@arw/registry'
import { stringify } from 'yaml'
import { emitAsyncApi } from './asyncapi.ts'
import { byCodeUnit } from './component-names.ts'
import { jsonText } from './json.ts'
import { emitMcpCatalog } from './mcp-catalog.ts'
import { emitOpenApi } from './openapi.ts'
import type { HttpRouteDoc } from './route.ts'
import { SpecError } from './spec-error.ts'
import { emitToolSchemas } from './tool-schemas.ts'

export interface SpecFilesOptions {
  registry: Registry
  routes: readonly HttpRouteDoc[]
  /** The daemon's version, written as `info.version` of both API documents. */
  version: string
}

/** Directory (relative to spec/) that holds one JSON Schema document per tool version. */
export const SCHEMAS_DIR = 'schemas'

const TITLE = 'ARW'
const OPENAPI_DESCRIPTION =
  'The HTTP API of the ARW daemon, a schema-first tool and connection daemon. Besides the generic `POST /tools/{tool_id}:invoke`, every registered tool version is documented as its own typed operation `POST /tools/<name>@<version>:invoke`. A path or method not listed here answers 404 (`route_not_found`), a query parameter an operation does not list 400 (`validation_failed`), and answers carry `traceparent`. Every failure is an RFC 7807 problem (`application/problem+json`) with a stable `code`.'
/**
 * The daemon's default listen address (ARW_HOST, ARW_PORT): what a client generated from the
 * document calls unless told otherwise.
 */
const SERVERS = [
  { url: 'http://127.0.0.1:8090', description: 'The daemon on its default address (ARW_HOST, ARW_PORT).' },
]
const ASYNCAPI_DESCRIPTION =
  'The event stream of the ARW daemon: every event the journal records, delivered as server-sent events with exact resume.'

/**
 * Fixed YAML output options, so the same document always gives the same bytes: no line folding
 * (lineWidth 0), and no anchors/aliases for objects that happen to appear twice.
 */
const YAML_OPTIONS = {
  version: '1.2',
  indent: 2,
  lineWidth: 0,
  minContentWidth: 0,
  aliasDuplicateObjects: false,
} as const

/** Byte-stable YAML text of a document. */
export function yamlText(value: unknown): string {
  return stringify(value, YAML_OPTIONS)
}

/**
 * Every generated spec file, keyed by its path relative to spec/, in a fixed order:
 * `openapi.yaml`, `asyncapi.yaml`, `mcp-tools.json` and `schemas/<id>.json`. The text depends only
 * on the declarations (not on registration or route order), so regenerating unchanged
 * declarations gives identical bytes. Problems of all emitters are thrown together.
 */
export function specFiles(options: SpecFilesOptions): Map<string, string> {
  const { registry, routes, version } = options
  const problems: string[] = []
  const attempt = <T>(emit: () => T): T | undefined => {
    try {
      return emit()
    } catch (error) {
      if (!(error instanceof SpecError)) throw error
      problems.push(...error.problems)
      return undefined
    }
  }
  const openapi = attempt(() =>
    emitOpenApi({
      registry,
      routes,
      info: { title: TITLE, version, description: OPENAPI_DESCRIPTION },
      servers: SERVERS,
    }),
  )
  const asyncapi = attempt(() =>
    emitAsyncApi({ registry, info: { title: TITLE, version, description: ASYNCAPI_DESCRIPTION } }),
  )
  const mcp = attempt(() => emitMcpCatalog(registry))
  const schemas = attempt(() => emitToolSchemas(registry))
  if (problems.length > 0 || !openapi || !asyncapi || !mcp || !schemas) {
    // The same declaration can fail in several emitters (e.g. a bad schema); list it once.
    throw new SpecError([...new Set(problems)])
  }

  const files = new Map<string, string>()
  files.set('openapi.yaml', yamlText(openapi))
  files.set('asyncapi.yaml', yamlText(asyncapi))
  files.set('mcp-tools.json', jsonText(mcp))
  for (const file of [...schemas.keys()].sort(byCodeUnit)) {
    files.set(`${SCHEMAS_DIR}/${file}`, jsonText(schemas.get(file)))
  }
  return files
}
