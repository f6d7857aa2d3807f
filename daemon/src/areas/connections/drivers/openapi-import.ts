import type { ToolHints } from '@arw/registry'
import { Validator } from '@seriousme/openapi-schema-validator'
import type { JsonSchema, UpstreamTool } from '../driver.ts'
import {
  type DocumentContext,
  deref,
  isRecord,
  type OpenApiVersion,
  SchemaImportError,
  SchemaImporter,
  schemaProblem,
} from './openapi-schema.ts'

/**
 * An OpenAPI 3.0 or 3.1 document read into operations the `http` driver can call: each operation
 * one tool whose input holds its path, query, header and cookie parameters as properties (plus
 * `body` for a request body) and whose output is its 2xx JSON answer. The document is validated
 * first: a fault outside any operation rejects the document, a fault inside one (or in a component
 * it uses) skips that operation and is listed in `problems`.
 */

export class OpenApiDocumentError extends Error {
  override readonly name = 'OpenApiDocumentError'
}

export type ParameterLocation = 'path' | 'query' | 'header' | 'cookie'

export interface OperationParameter {
  /** Its name upstream. */
  name: string
  in: ParameterLocation
  /** Its property in the tool's input (the name, unless two locations share it). */
  property: string
  style: string
  explode: boolean
  /** Declared with `content` (a JSON media type) rather than `schema`: sent as JSON text. */
  json: boolean
  /** Query values sent without percent-encoding the reserved characters (`allowReserved`). */
  allowReserved: boolean
}

export type BodyEncoding = 'json' | 'form' | 'text'

export type AuthScheme =
  | { kind: 'bearer' }
  | { kind: 'basic' }
  | { kind: 'apiKey'; in: 'header' | 'query' | 'cookie'; name: string }

export interface Operation {
  tool: UpstreamTool
  /** Upper case, as sent. */
  method: string
  /** The path template, e.g. `/pets/{petId}`. */
  path: string
  /** The operation's own server (`servers` on the operation or its path item), when declared. */
  server: string | undefined
  parameters: OperationParameter[]
  body: { property: string; mediaType: string; encoding: BodyEncoding } | undefined
  /** How a 2xx answer becomes the output: itself (an object), under `body`, or as it comes. */
  response: 'object' | 'wrap' | 'any'
  /** The security requirement the bound secret fills (empty: none declared, or none usable). */
  auth: AuthScheme[]
}

export interface ImportProblem {
  /** `GET /pets/{petId}`, or `document` for the document as a whole. */
  operation: string
  message: string
}

export interface ImportedDocument {
  version: OpenApiVersion
  title: string
  /** The document's `servers` URLs, variables filled with their defaults (may be relative). */
  servers: string[]
  operations: Operation[]
  problems: ImportProblem[]
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const
/** Methods whose call may be repeated without a second effect (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE'])
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])
/** OpenAPI: header parameters with these names SHALL be ignored (the request's own headers). */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization'])
/** Headers fetch manages itself; a parameter cannot set them. */
const TRANSPORT_HEADERS = new Set([
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
])
const MAX_MESSAGES = 3
const COMBINATORS = new Set(['oneOf', 'anyOf', 'if', 'then', 'else', 'not'])

function pointerSegments(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function escapeSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1')
}

interface Findings {
  document: string[]
  /** `get /pets` → messages. */
  operations: Map<string, string[]>
  /** A path item's own faults (its shared parameters) count for each of its operations. */
  paths: Map<string, string[]>
  components: Map<string, string>
}

function push(map: Map<string, string[]>, key: string, message: string): void {
  const list = map.get(key) ?? []
  if (!list.includes(message)) list.push(message)
  map.set(key, list)
}

interface ValidatorError {
  instancePath: string
  keyword: string
  params: Record<string, unknown>
  message?: string
}

/**
 * Sorts the validator's errors by where they are. An error that only says a branch below it failed
 * (a `oneOf` or `if` above a deeper error, or "must have $ref" since the value was not a reference)
 * is the deeper error again, so it is left out: a fault in an operation never leaks upwards.
 */
function classify(errors: ValidatorError[]): Findings {
  const findings: Findings = { document: [], operations: new Map(), paths: new Map(), components: new Map() }
  const ancestors = new Set<string>()
  for (const { instancePath } of errors) {
    for (let i = instancePath.lastIndexOf('/'); i >= 0; i = instancePath.lastIndexOf('/', i - 1)) {
      ancestors.add(instancePath.slice(0, i))
      if (i === 0) break
    }
  }
  const deepest = errors.filter(
    (e) =>
      !ancestors.has(e.instancePath) ||
      !(COMBINATORS.has(e.keyword) || (e.keyword === 'required' && e.params['missingProperty'] === '$ref')),
  )
  for (const error of deepest) {
    const message = `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`
    const [top, a, b] = pointerSegments(error.instancePath)
    if (top === 'paths' && a !== undefined) {
      if (b !== undefined && (METHODS as readonly string[]).includes(b))
        push(findings.operations, `${b} ${a}`, message)
      else push(findings.paths, a, message)
    } else if (top === 'components' && a !== undefined && b !== undefined) {
      const pointer = `#/components/${escapeSegment(a)}/${escapeSegment(b)}`
      if (!findings.components.has(pointer)) findings.components.set(pointer, message)
    } else if (!findings.document.includes(message)) {
      findings.document.push(message)
    }
  }
  return findings
}

function versionOf(doc: Record<string, unknown>): OpenApiVersion {
  const declared = doc['openapi']
  if (typeof declared === 'string' && /^3\.0\.\d+/.test(declared)) return '3.0'
  if (typeof declared === 'string' && /^3\.1\.\d+/.test(declared)) return '3.1'
  const found =
    typeof doc['swagger'] === 'string' ? `swagger ${doc['swagger']}` : JSON.stringify(declared ?? null)
  throw new OpenApiDocumentError(`only OpenAPI 3.0 and 3.1 documents are read (found ${found.slice(0, 40)})`)
}

/** A server's URL with its variables set to their defaults. */
function serverUrl(server: unknown): string | undefined {
  if (!isRecord(server) || typeof server['url'] !== 'string') return undefined
  const variables = isRecord(server['variables']) ? server['variables'] : {}
  return server['url'].replace(/\{([^}]+)\}/g, (whole, name: string) => {
    const variable = variables[name]
    return isRecord(variable) && typeof variable['default'] === 'string' ? variable['default'] : whole
  })
}

function firstServer(servers: unknown): string | undefined {
  return Array.isArray(servers) && servers.length > 0 ? serverUrl(servers[0]) : undefined
}

function fallbackName(method: string, path: string): string {
  const words = `${method} ${path}`.toLowerCase().replace(/[^a-z0-9]+/g, '_')
  return words.replace(/^_+|_+$/g, '')
}

function isJsonMediaType(type: string): boolean {
  const base = type.split(';')[0]!.trim().toLowerCase()
  return base === 'application/json' || base.endsWith('+json')
}

/** The media type entry of `content` to use (JSON first), or undefined. */
function pickMediaType(
  content: unknown,
  encodings: readonly BodyEncoding[],
): [string, Record<string, unknown>, BodyEncoding] | undefined {
  if (!isRecord(content)) return undefined
  const entries = Object.entries(content).filter((e): e is [string, Record<string, unknown>] =>
    isRecord(e[1]),
  )
  const ranked: [BodyEncoding, (type: string) => boolean][] = [
    ['json', isJsonMediaType],
    ['form', (t) => t.toLowerCase().startsWith('application/x-www-form-urlencoded')],
    ['text', (t) => t.toLowerCase().startsWith('text/plain')],
  ]
  for (const [encoding, matches] of ranked) {
    if (!encodings.includes(encoding)) continue
    const found = entries.find(([type]) => matches(type))
    if (found) return [found[0], found[1], encoding]
  }
  return undefined
}

function hintsFor(method: string): ToolHints {
  return {
    readOnly: SAFE.has(method),
    idempotent: IDEMPOTENT.has(method),
    destructive: method === 'DELETE' || method === 'PUT',
    openWorld: true,
  }
}

class OperationReader {
  readonly #context: DocumentContext
  readonly #securitySchemes: Record<string, unknown>
  readonly #rootSecurity: unknown

  constructor(context: DocumentContext) {
    this.#context = context
    const components = isRecord(context.doc['components']) ? context.doc['components'] : {}
    this.#securitySchemes = isRecord(components['securitySchemes']) ? components['securitySchemes'] : {}
    this.#rootSecurity = context.doc['security']
  }

  read(
    method: string,
    path: string,
    pathItem: Record<string, unknown>,
    operation: Record<string, unknown>,
  ): Operation {
    const METHOD = method.toUpperCase()
    const name =
      typeof operation['operationId'] === 'string' && operation['operationId'] !== ''
        ? operation['operationId']
        : fallbackName(method, path)
    const inputs = new SchemaImporter(this.#context)
    const properties: Record<string, JsonSchema | boolean> = {}
    const required: string[] = []
    const parameters: OperationParameter[] = []
    const hasBody = operation['requestBody'] !== undefined
    const taken = new Set<string>(hasBody ? ['body'] : [])

    for (const declared of this.#parameters(pathItem, operation)) {
      const location = declared['in'] as ParameterLocation
      const paramName = declared['name'] as string
      if (location === 'header' && IGNORED_HEADERS.has(paramName.toLowerCase())) continue
      if (location === 'header' && TRANSPORT_HEADERS.has(paramName.toLowerCase())) {
        throw new SchemaImportError(
          `header parameter ${paramName} cannot be set (the HTTP client manages it)`,
        )
      }
      let property = paramName
      if (taken.has(property)) property = `${location}_${paramName}`
      if (taken.has(property))
        throw new SchemaImportError(
          `parameter ${paramName} (${location}) collides with another input property`,
        )
      taken.add(property)
      let schema: JsonSchema | boolean = {}
      let json = false
      if (declared['schema'] !== undefined) {
        schema = inputs.convert(declared['schema'])
      } else if (declared['content'] !== undefined) {
        const picked = pickMediaType(declared['content'], ['json'])
        if (!picked) throw new SchemaImportError(`parameter ${paramName} has no JSON media type`)
        schema = picked[1]['schema'] === undefined ? {} : inputs.convert(picked[1]['schema'])
        json = true
      }
      if (
        typeof schema !== 'boolean' &&
        typeof declared['description'] === 'string' &&
        schema['description'] === undefined
      ) {
        schema = { ...schema, description: declared['description'] }
      }
      properties[property] = schema
      if (declared['required'] === true || location === 'path') required.push(property)
      const style =
        typeof declared['style'] === 'string'
          ? declared['style']
          : location === 'query' || location === 'cookie'
            ? 'form'
            : 'simple'
      parameters.push({
        name: paramName,
        in: location,
        property,
        style,
        explode: typeof declared['explode'] === 'boolean' ? declared['explode'] : style === 'form',
        json,
        allowReserved: declared['allowReserved'] === true,
      })
    }
    for (const [, param] of path.matchAll(/\{([^}]+)\}/g)) {
      if (!parameters.some((p) => p.in === 'path' && p.name === param)) {
        throw new SchemaImportError(`path parameter {${param}} is not declared`)
      }
    }

    let body: Operation['body']
    if (hasBody) {
      const requestBody = deref(this.#context, operation['requestBody'])
      if (!isRecord(requestBody)) throw new SchemaImportError('requestBody is not an object')
      const picked = pickMediaType(requestBody['content'], ['json', 'form', 'text'])
      if (picked) {
        const [mediaType, media, encoding] = picked
        let schema: JsonSchema | boolean =
          encoding === 'text'
            ? { type: 'string' }
            : media['schema'] === undefined
              ? {}
              : inputs.convert(media['schema'])
        if (
          typeof schema !== 'boolean' &&
          typeof requestBody['description'] === 'string' &&
          schema['description'] === undefined
        ) {
          schema = { ...schema, description: requestBody['description'] }
        }
        properties['body'] = schema
        if (requestBody['required'] === true) required.push('body')
        body = { property: 'body', mediaType, encoding }
      } else if (requestBody['required'] === true) {
        const types = isRecord(requestBody['content'])
          ? Object.keys(requestBody['content']).join(', ')
          : 'none'
        throw new SchemaImportError(
          `request body media type not supported (${types}; JSON, form or text/plain are)`,
        )
      }
    }

    const input = inputs.root({
      type: 'object',
      properties,
      ...(required.length > 0 ? { required } : {}),
      additionalProperties: false,
    })
    const [response, output] = this.#output(operation)
    for (const [which, schema] of [
      ['input', input],
      ['output', output],
    ] as const) {
      if (schema === undefined) continue
      const problem = schemaProblem(schema)
      if (problem) throw new SchemaImportError(`${which} schema is not valid JSON Schema: ${problem}`)
    }

    const hints = hintsFor(METHOD)
    const tool: UpstreamTool = { name, input, hints, retrySafe: hints.idempotent === true }
    if (output !== undefined) tool.output = output
    if (typeof operation['summary'] === 'string') tool.title = operation['summary']
    const description =
      typeof operation['description'] === 'string' ? operation['description'] : operation['summary']
    tool.description = `${METHOD} ${path}${typeof description === 'string' ? `: ${description}` : ''}`
    return {
      tool,
      method: METHOD,
      path,
      server: firstServer(operation['servers']) ?? firstServer(pathItem['servers']),
      parameters,
      body,
      response,
      auth: this.#auth(operation),
    }
  }

  /** The path item's parameters, overridden by the operation's own of the same name and location. */
  #parameters(
    pathItem: Record<string, unknown>,
    operation: Record<string, unknown>,
  ): Record<string, unknown>[] {
    const merged = new Map<string, Record<string, unknown>>()
    for (const list of [pathItem['parameters'], operation['parameters']]) {
      if (!Array.isArray(list)) continue
      for (const entry of list) {
        const param = deref(this.#context, entry)
        if (!isRecord(param) || typeof param['name'] !== 'string' || typeof param['in'] !== 'string') {
          throw new SchemaImportError('a parameter has no name or location')
        }
        if (!['path', 'query', 'header', 'cookie'].includes(param['in'])) {
          throw new SchemaImportError(`parameter ${param['name']} has an unknown location ${param['in']}`)
        }
        merged.set(`${param['in']} ${param['name']}`, param)
      }
    }
    return [...merged.values()]
  }

  /** The first 2xx answer, turned into an object schema; how the answer maps onto it. */
  #output(operation: Record<string, unknown>): [Operation['response'], JsonSchema | undefined] {
    const responses = isRecord(operation['responses']) ? operation['responses'] : {}
    const success = Object.keys(responses)
      .filter((code) => /^2(\d\d|XX)$/i.test(code))
      .sort((a, b) => a.toUpperCase().localeCompare(b.toUpperCase()))
    for (const code of success) {
      const answer = deref(this.#context, responses[code])
      if (!isRecord(answer)) continue
      const picked = pickMediaType(answer['content'], ['json', 'text'])
      if (!picked) continue
      const [, media, encoding] = picked
      const outputs = new SchemaImporter(this.#context)
      if (encoding === 'text') {
        return ['wrap', { type: 'object', properties: { body: { type: 'string' } }, required: ['body'] }]
      }
      if (media['schema'] === undefined) return ['any', undefined]
      const schema = outputs.convert(media['schema'])
      if (typeof schema !== 'boolean' && schema['type'] === 'object') return ['object', outputs.root(schema)]
      return ['wrap', outputs.root({ type: 'object', properties: { body: schema }, required: ['body'] })]
    }
    return ['any', undefined]
  }

  /** The first security requirement every scheme of which the secret can fill. */
  #auth(operation: Record<string, unknown>): AuthScheme[] {
    const requirements = operation['security'] ?? this.#rootSecurity
    if (!Array.isArray(requirements)) return []
    for (const requirement of requirements) {
      if (!isRecord(requirement)) continue
      const names = Object.keys(requirement)
      if (names.length === 0) continue
      const schemes = names.map((n) => this.#scheme(n))
      if (schemes.every((s) => s !== undefined)) return schemes as AuthScheme[]
    }
    return []
  }

  #scheme(name: string): AuthScheme | undefined {
    const scheme = deref(this.#context, this.#securitySchemes[name])
    if (!isRecord(scheme)) return undefined
    const type = scheme['type']
    if (type === 'http') {
      const kind = typeof scheme['scheme'] === 'string' ? scheme['scheme'].toLowerCase() : ''
      if (kind === 'bearer') return { kind: 'bearer' }
      if (kind === 'basic') return { kind: 'basic' }
      return undefined
    }
    if (type === 'apiKey' && typeof scheme['name'] === 'string') {
      const where = scheme['in']
      if (where === 'header' || where === 'query' || where === 'cookie')
        return { kind: 'apiKey', in: where, name: scheme['name'] }
      return undefined
    }
    // The bound secret is the access token OAuth 2 or OpenID Connect issued.
    if (type === 'oauth2' || type === 'openIdConnect') return { kind: 'bearer' }
    return undefined
  }
}

/** One validator for every document: it compiles the OpenAPI meta-schemas once per version. */
let documentValidator: Validator | undefined

/** Validates `doc` and reads its operations; throws `OpenApiDocumentError` when it is unusable. */
export async function importDocument(doc: unknown): Promise<ImportedDocument> {
  if (!isRecord(doc)) throw new OpenApiDocumentError('the OpenAPI document is not an object')
  const version = versionOf(doc)
  documentValidator ??= new Validator({ allErrors: true })
  const result = await documentValidator.validate(structuredClone(doc))
  const findings = classify(
    result.valid || !Array.isArray(result.errors) ? [] : (result.errors as ValidatorError[]),
  )
  if (!result.valid && typeof result.errors === 'string') findings.document.push(result.errors)
  if (findings.document.length > 0) {
    throw new OpenApiDocumentError(
      `the OpenAPI document is invalid: ${findings.document.slice(0, MAX_MESSAGES).join('; ')}`,
    )
  }
  const context: DocumentContext = { doc, version, malformed: findings.components }
  const reader = new OperationReader(context)
  const operations: Operation[] = []
  const problems: ImportProblem[] = []
  const names = new Set<string>()
  const paths = isRecord(doc['paths']) ? doc['paths'] : {}
  for (const [path, rawItem] of Object.entries(paths)) {
    let pathItem: unknown
    try {
      pathItem = deref(context, rawItem)
    } catch (error) {
      if (!(error instanceof SchemaImportError)) throw error
      problems.push({ operation: `* ${path}`, message: error.message })
      continue
    }
    if (!isRecord(pathItem)) continue
    for (const method of METHODS) {
      const declared = pathItem[method]
      if (!isRecord(declared)) continue
      const key = `${method.toUpperCase()} ${path}`
      const faults = [
        ...(findings.paths.get(path) ?? []),
        ...(findings.operations.get(`${method} ${path}`) ?? []),
      ]
      if (faults.length > 0) {
        problems.push({ operation: key, message: faults.slice(0, MAX_MESSAGES).join('; ') })
        continue
      }
      try {
        const operation = reader.read(method, path, pathItem, declared)
        if (names.has(operation.tool.name)) {
          problems.push({
            operation: key,
            message: `tool name ${operation.tool.name} is used by another operation`,
          })
          continue
        }
        names.add(operation.tool.name)
        operations.push(operation)
      } catch (error) {
        if (!(error instanceof SchemaImportError)) throw error
        problems.push({ operation: key, message: error.message })
      }
    }
  }
  const info = isRecord(doc['info']) ? doc['info'] : {}
  const servers = Array.isArray(doc['servers'])
    ? doc['servers'].map(serverUrl).filter((u): u is string => u !== undefined)
    : []
  return {
    version,
    title: typeof info['title'] === 'string' ? info['title'] : '',
    servers,
    operations,
    problems,
  }
}
