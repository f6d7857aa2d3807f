import { isProblemCode, PROBLEM_CONTENT_TYPE, type ProblemCode } from '@arw/protocol'
import { type RegisteredTool, type Registry, type ServedBinding, takesQuery } from '@arw/registry'
import {
  type ExampleObject,
  type HeadersObject,
  type MediaTypeObject,
  type OpenAPIObject,
  OpenApiBuilder,
  type OperationObject,
  type ParameterObject,
  type PathItemObject,
  type ReferenceObject,
  type ResponseObject,
  type ResponsesObject,
  type SchemaObject,
  type SecurityRequirementObject,
  type ServerObject,
} from 'openapi3-ts/oas31'
import { byCodeUnit, COMPONENT_NAME, toolSchemaName } from './component-names.ts'
import { type JsonObject, toJsonObject } from './json.ts'
import { ProblemSchema, statusesOf } from './problem-schema.ts'
import type { HeaderDoc, HttpMethod, HttpRouteDoc } from './route.ts'
import { throwIfProblems } from './spec-error.ts'

export interface OpenApiOptions {
  registry: Registry
  routes: readonly HttpRouteDoc[]
  info: { title: string; version: string; description?: string }
  /** Where the daemon is usually reached; clients resolve the paths against these. */
  servers?: readonly ServerObject[]
}

const JSON_TYPE = 'application/json'
const PROBLEM_REF = '#/components/schemas/Problem'
const IDEMPOTENCY_KEY_REF = '#/components/parameters/IdempotencyKey'

/** Problems any route can answer with: bad input, unknown route, too large, rate limit, own fault. */
const EVERY_ROUTE: readonly ProblemCode[] = [
  'validation_failed',
  'not_found',
  'payload_too_large',
  'rate_limited',
  'internal_error',
]
/** What admin authentication adds: no or wrong token (401), admin endpoints closed (403). */
const ADMIN_ROUTE: readonly ProblemCode[] = ['unauthorized', 'forbidden']
/**
 * What the invoke pipeline itself can answer for any tool, besides the tool's declared errors:
 * policy decisions, the approval gate, admission limits, Idempotency-Key reuse, timeout and
 * cancellation. The generic invoke route declares the same list.
 */
const PIPELINE: readonly ProblemCode[] = [
  'validation_failed',
  'policy_denied',
  'approval_required',
  'conflict',
  'rate_limited',
  'timeout',
  'unavailable',
]
/**
 * Auth of the per-tool operations. They document the same call as `POST /tools/{tool_id}:invoke`
 * (one pipeline, one auth check), narrowed to one tool version.
 */
const TOOL_AUTH: HttpRouteDoc['auth'] = 'admin'

/** Methods in the order OpenAPI lists them in a path item, so output does not depend on input order. */
const METHOD_ORDER: readonly HttpMethod[] = ['GET', 'PUT', 'POST', 'PATCH', 'DELETE']

const ADMIN_SECURITY: SecurityRequirementObject[] = [{ adminToken: [] }, { bearer: [] }]

function securityOf(auth: HttpRouteDoc['auth']): SecurityRequirementObject[] {
  // A public operation says so (`security: []`) rather than leaving readers to guess; `{}` is
  // the "no credentials" alternative of a conditional one.
  if (auth === 'public') return []
  return auth === 'admin' ? structuredClone(ADMIN_SECURITY) : [{}, ...structuredClone(ADMIN_SECURITY)]
}

/**
 * Sent with every answer, success or problem: the entry hook of every route and the error and
 * not-found handlers set it (surfaces/http/trace.ts).
 */
const TRACEPARENT_HEADER = {
  description: 'W3C trace context of this request: continued from its `traceparent`, or started here.',
  schema: { type: 'string' },
} as const

interface PlannedOperation {
  path: string
  method: HttpMethod
  operation: OperationObject
  label: string
}

/**
 * The OpenAPI 3.1 document of every HTTP route and every tool version, a pure function of the
 * declarations. Every declaration is checked before anything is returned; all problems found are
 * thrown together as one SpecError.
 */
export function emitOpenApi(options: OpenApiOptions): OpenAPIObject {
  const problems: string[] = []
  const schemas = new Map<string, SchemaObject>()
  schemas.set('Problem', toJsonObject(ProblemSchema, 'Problem schema', problems) as SchemaObject)

  const responses = new Map<string, ResponseObject>()
  const planned: PlannedOperation[] = []
  for (const route of options.routes) planned.push(routeOperation(route, responses, problems))
  for (const tool of options.registry.tools()) planned.push(toolOperation(tool, schemas, responses, problems))
  for (const served of options.registry.bindings())
    planned.push(bindingOperation(served, responses, problems))

  checkUnique(planned, problems)
  for (const name of schemas.keys()) {
    if (!COMPONENT_NAME.test(name))
      problems.push(`component schema name "${name}" must match ${COMPONENT_NAME}`)
  }
  throwIfProblems(problems)

  const tags = [...new Set(planned.flatMap((p) => p.operation.tags ?? []))].sort(byCodeUnit)
  const builder = OpenApiBuilder.create({
    openapi: '3.1.0',
    info: { ...options.info },
    ...(options.servers ? { servers: structuredClone([...options.servers]) } : {}),
    ...(tags.length > 0 ? { tags: tags.map((name) => ({ name })) } : {}),
    paths: {},
  })
  const byPath = new Map<string, PlannedOperation[]>()
  for (const op of planned) byPath.set(op.path, [...(byPath.get(op.path) ?? []), op])
  for (const path of [...byPath.keys()].sort(byCodeUnit)) {
    const item: PathItemObject = {}
    const ops = byPath
      .get(path)!
      .sort((a, b) => METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method))
    for (const op of ops) item[op.method.toLowerCase() as Lowercase<HttpMethod>] = op.operation
    builder.addPath(path, item)
  }
  for (const name of [...schemas.keys()].sort(byCodeUnit)) builder.addSchema(name, schemas.get(name)!)
  for (const name of [...responses.keys()].sort(byCodeUnit)) builder.addResponse(name, responses.get(name)!)
  builder.addParameter('IdempotencyKey', {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description:
      'Makes a retried call safe: a second call with the same key and the same request returns the first answer (with `idempotent-replayed: true`) instead of running again; the same key with a different request is a conflict.',
    schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
  })
  builder.addSecurityScheme('adminToken', {
    type: 'apiKey',
    in: 'header',
    name: 'X-ARW-Admin',
    description: 'The admin token (ARW_ADMIN_TOKEN).',
  })
  builder.addSecurityScheme('bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'The admin token sent as `Authorization: Bearer <token>`.',
  })
  return builder.getSpec()
}

function routeLabel(route: HttpRouteDoc): string {
  return `route ${route.method} ${route.path} (${route.operationId})`
}

function isObjectSchema(schema: JsonObject): boolean {
  return (
    schema['type'] === 'object' && typeof schema['properties'] === 'object' && schema['properties'] !== null
  )
}

function propertiesOf(schema: JsonObject): Array<[string, JsonObject]> {
  const properties = (schema['properties'] ?? {}) as Record<string, JsonObject>
  return Object.entries(properties)
}

function requiredOf(schema: JsonObject): Set<string> {
  const required = schema['required']
  return new Set(Array.isArray(required) ? required.filter((r): r is string => typeof r === 'string') : [])
}

/**
 * Parameters are documented one by one, so a rule across them (`anyOf`/`oneOf` of `required`
 * lists on the query object, which the validator enforces) is said in words.
 */
function requiredGroupsRule(schema: JsonObject): string | undefined {
  for (const [keyword, how] of [
    ['oneOf', 'exactly'],
    ['anyOf', 'at least'],
  ] as const) {
    const groups = schema[keyword]
    if (!Array.isArray(groups)) continue
    const names = groups.map((g) => (g as JsonObject)['required'])
    if (names.every((n) => Array.isArray(n)))
      return `Query: give ${how} one of ${names.map((n) => (n as string[]).map((x) => `\`${x}\``).join(' and ')).join(', ')}.`
  }
  return undefined
}

/** A parameter from one property of a params/query object schema; its description moves up to it. */
function parameter(
  name: string,
  where: 'path' | 'query' | 'header',
  schema: JsonObject,
  required: boolean,
): ParameterObject {
  const { description, ...rest } = schema
  return {
    name,
    in: where,
    ...(typeof description === 'string' ? { description } : {}),
    required,
    schema: rest as SchemaObject,
  }
}

function routeOperation(
  route: HttpRouteDoc,
  shared: Map<string, ResponseObject>,
  problems: string[],
): PlannedOperation {
  const label = routeLabel(route)
  if (!METHOD_ORDER.includes(route.method)) problems.push(`${label}: unknown method ${route.method}`)
  if (!route.path.startsWith('/')) problems.push(`${label}: path must start with /`)
  if (!route.operationId) problems.push(`${label}: operationId is required`)
  if (!route.summary) problems.push(`${label}: summary is required`)

  const parameters: ParameterObject[] = []
  const templated = [...route.path.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!)
  const declared = new Map<string, JsonObject>()
  if (route.params !== undefined) {
    const params = toJsonObject(route.params, `${label} params`, problems)
    if (isObjectSchema(params)) for (const [name, schema] of propertiesOf(params)) declared.set(name, schema)
    else problems.push(`${label}: params must be an object schema`)
  }
  for (const name of templated) {
    const schema = declared.get(name)
    if (schema === undefined) problems.push(`${label}: path parameter {${name}} is not declared in params`)
    // Path parameters are always required in OpenAPI: the path does not match without them.
    else parameters.push(parameter(name, 'path', schema, true))
  }
  for (const name of declared.keys()) {
    if (!templated.includes(name))
      problems.push(`${label}: params declares "${name}", which is not in the path`)
  }
  let queryRule: string | undefined
  if (route.query !== undefined) {
    const query = toJsonObject(route.query, `${label} query`, problems)
    queryRule = requiredGroupsRule(query)
    if (isObjectSchema(query)) {
      const required = requiredOf(query)
      for (const [name, schema] of propertiesOf(query)) {
        parameters.push(parameter(name, 'query', schema, required.has(name)))
      }
    } else problems.push(`${label}: query must be an object schema`)
  }
  if (route.headers !== undefined) {
    const headers = toJsonObject(route.headers, `${label} headers`, problems)
    if (isObjectSchema(headers)) {
      const required = requiredOf(headers)
      for (const [name, schema] of propertiesOf(headers)) {
        parameters.push(parameter(name, 'header', schema, required.has(name)))
      }
    } else problems.push(`${label}: headers must be an object schema`)
  }

  const operation: OperationObject = {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description || queryRule
      ? { description: [route.description, queryRule].filter(Boolean).join(' ') }
      : {}),
    ...(route.tags.length > 0 ? { tags: [...route.tags] } : {}),
    security: securityOf(route.auth),
  }
  if (parameters.length > 0) operation.parameters = parameters
  if (route.body !== undefined) {
    const body = toJsonObject(route.body, `${label} body`, problems)
    // The body is required when its schema requires something; an all-optional body may be left out.
    operation.requestBody = {
      required: route.bodyRequired ?? requiredOf(body).size > 0,
      content: { [JSON_TYPE]: { schema: body as SchemaObject } },
    }
  }

  const responses: ResponsesObject = {}
  for (const [key, response] of Object.entries(route.responses)) {
    const status = Number(key)
    if (!Number.isInteger(status) || status < 100 || status > 599) {
      problems.push(`${label}: response status ${key} is not an HTTP status`)
      continue
    }
    const out: ResponseObject = { description: response.description }
    {
      const headers: HeadersObject = { traceparent: { ...TRACEPARENT_HEADER } }
      Object.assign(headers, headerObjects(response.headers, `${label} response ${status}`, problems))
      out.headers = headers
    }
    if (response.schema !== undefined || response.contentType !== undefined) {
      const media: MediaTypeObject = {}
      if (response.schema !== undefined) {
        media.schema = toJsonObject(response.schema, `${label} response ${status}`, problems) as SchemaObject
      }
      out.content = { [response.contentType ?? JSON_TYPE]: media }
    }
    for (const [type, schema] of Object.entries(response.otherContent ?? {})) {
      out.content = {
        ...(out.content ?? {}),
        [type]: {
          schema: toJsonObject(schema, `${label} response ${status} ${type}`, problems) as SchemaObject,
        },
      }
    }
    responses[String(status)] = out
  }
  if (Object.keys(responses).length === 0) problems.push(`${label}: declares no success response`)

  const codes = new Set<ProblemCode>([...EVERY_ROUTE, ...(route.auth !== 'public' ? ADMIN_ROUTE : [])])
  for (const code of route.errors ?? []) {
    if (isProblemCode(code)) codes.add(code)
    else problems.push(`${label}: errors lists "${code}", which is not a problem code`)
  }
  const problemHeaders = route.problemHeaders
    ? { headers: headerObjects(route.problemHeaders, `${label} problem`, problems) }
    : undefined
  addProblemResponses(responses, codes, problemHeaders ? undefined : shared, label, problems, problemHeaders)
  operation.responses = responses
  return { path: route.path, method: route.method, operation, label }
}

/**
 * Documents each status the codes can answer with as `application/problem+json`, with the
 * shared Problem schema narrowed to the codes possible at that status. Each (status, codes)
 * answer is one shared response component (`Problem403.forbidden.policy_denied`) that operations
 * reference, so the same dozen problem answers are not repeated under every operation. A status
 * the route also answers successfully (approval_required is a 202) gets the problem inline, as a
 * second media type of that response.
 */
function addProblemResponses(
  responses: ResponsesObject,
  codes: ReadonlySet<ProblemCode>,
  /** Where shared problem responses go; without it (an operation's own problem headers), inline. */
  shared: Map<string, ResponseObject> | undefined,
  label: string,
  problems: string[],
  extra?: { headers: HeadersObject; prefix?: string },
): void {
  const byStatus = new Map<number, ProblemCode[]>()
  for (const code of codes) {
    const statuses = statusesOf(code)
    if (statuses.length === 0) problems.push(`${label}: no error catalog entry answers with code ${code}`)
    for (const status of statuses) byStatus.set(status, [...(byStatus.get(status) ?? []), code])
  }
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    const atStatus = byStatus.get(status)!.sort(byCodeUnit)
    const response = problemResponse(status, atStatus)
    if (extra) response.headers = { ...response.headers, ...structuredClone(extra.headers) }
    const existing = responses[String(status)] as ResponseObject | undefined
    if (existing) {
      existing.description = `${existing.description} ${response.description}`
      existing.content = { ...(existing.content ?? {}), ...response.content }
      existing.headers = { ...(existing.headers ?? {}), ...response.headers }
      continue
    }
    if (!shared) {
      responses[String(status)] = response
      continue
    }
    const name = `${extra?.prefix ?? ''}Problem${status}.${atStatus.join('.')}`
    shared.set(name, response)
    responses[String(status)] = { $ref: `#/components/responses/${name}` }
  }
}

function problemResponse(status: number, codes: readonly ProblemCode[]): ResponseObject {
  const response: ResponseObject = {
    description: `Problem with code ${codes.join(' or ')}.`,
    content: {
      [PROBLEM_CONTENT_TYPE]: {
        schema: { allOf: [{ $ref: PROBLEM_REF }, { properties: { code: { enum: [...codes] } } }] },
      },
    },
  }
  // The headers the daemon sends with these problems (see sendProblem in the HTTP surface).
  response.headers = { traceparent: { ...TRACEPARENT_HEADER } }
  if (status === 429) {
    response.headers = {
      ...response.headers,
      'Retry-After': {
        description: 'Seconds until a retry can succeed.',
        schema: { type: 'integer', minimum: 0 },
      },
    }
  } else if (status === 503) {
    response.headers = {
      ...response.headers,
      'Retry-After': {
        description:
          'Seconds until a retry can succeed, when the daemon knows (circuit_open: until the half-open probe of the connection is let through).',
        schema: { type: 'integer', minimum: 0 },
      },
    }
  } else if (status === 401) {
    response.headers = {
      ...response.headers,
      'WWW-Authenticate': { description: 'The scheme to authenticate with.', schema: { type: 'string' } },
    }
  }
  return response
}

function headerObjects(
  headers: Readonly<Record<string, HeaderDoc>> | undefined,
  label: string,
  problems: string[],
): HeadersObject {
  const out: HeadersObject = {}
  for (const [name, header] of Object.entries(headers ?? {})) {
    out[name] = {
      description: header.description,
      schema: toJsonObject(header.schema, `${label} header ${name}`, problems) as SchemaObject,
    }
  }
  return out
}

/** The MCP-style hints in a fixed key order, leaving out the ones not declared. */
function definedHints(tool: RegisteredTool): Record<string, boolean> {
  const out: Record<string, boolean> = {}
  for (const key of ['readOnly', 'destructive', 'idempotent', 'openWorld'] as const) {
    const value = tool.hints[key]
    if (value !== undefined) out[key] = value
  }
  return out
}

function deprecationNote(tool: RegisteredTool): string | undefined {
  if (tool.stability !== 'deprecated') return undefined
  const d = tool.deprecation ?? {}
  const parts = [`Deprecated${d.since ? ` since ${d.since}` : ''}.`]
  if (d.sunset) parts.push(`May be removed after ${d.sunset}.`)
  if (d.replacement) parts.push(`Use ${d.replacement} instead.`)
  if (d.link) parts.push(`See ${d.link}.`)
  return parts.join(' ')
}

/** Headers of a tool call's success answer: the trace, replay and (deprecated versions) deprecation. */
function toolHeaders(tool: RegisteredTool): HeadersObject {
  const deprecated = tool.stability === 'deprecated'
  const headers: HeadersObject = {
    traceparent: { ...TRACEPARENT_HEADER },
    'idempotent-replayed': {
      description:
        '"true" when this is the stored answer of an earlier call with the same Idempotency-Key: the body (its trace_id too) is that call\'s, traceparent this request\'s.',
      schema: { type: 'string' },
    },
  }
  if (deprecated) {
    headers['deprecation'] = {
      description: 'RFC 9745: this version is deprecated.',
      schema: { type: 'string' },
    }
    headers['link'] = {
      description:
        'The deprecation notice, the successor version and this schema (rel=deprecation, successor-version, describedby).',
      schema: { type: 'string' },
    }
    if (tool.deprecation?.sunset) {
      headers['sunset'] = {
        description: 'RFC 8594: when this version may be removed.',
        schema: { type: 'string' },
      }
    }
  }
  return headers
}

/**
 * A call's problems, on any route that calls the tool, carry the same headers as its answer: a
 * replayed problem says so, and a deprecated version says it on every answer (surfaces/http/invoke.ts).
 */
function addToolProblems(
  responses: ResponsesObject,
  tool: RegisteredTool,
  shared: Map<string, ResponseObject>,
  label: string,
  problems: string[],
): void {
  const { traceparent: _, ...headers } = toolHeaders(tool)
  const deprecated = tool.stability === 'deprecated'
  addProblemResponses(responses, toolCodes(tool), deprecated ? undefined : shared, label, problems, {
    headers,
    prefix: 'Tool',
  })
}

/** Problems a call of this tool can answer with, on any route that calls it. */
function toolCodes(tool: RegisteredTool): Set<ProblemCode> {
  return new Set<ProblemCode>([
    ...EVERY_ROUTE,
    ...(TOOL_AUTH === 'admin' ? ADMIN_ROUTE : []),
    ...PIPELINE,
    ...tool.errors,
  ])
}

/** Paragraphs of the description of every operation that calls a tool. */
function toolDescription(tool: RegisteredTool): string[] {
  const note = deprecationNote(tool)
  return [
    tool.description,
    ...(note ? [note] : []),
    ...(tool.permission !== undefined
      ? [
          `Needs the permission \`${tool.permission}\` (admins hold every permission); without it: 403 forbidden.`,
        ]
      : []),
  ]
}

/** The `x-arw-*` extensions of every operation that calls a tool. */
function toolExtensions(tool: RegisteredTool, label: string, problems: string[]): Record<string, unknown> {
  return {
    'x-arw-stability': tool.stability,
    'x-arw-risk': tool.risk,
    'x-arw-hints': definedHints(tool),
    'x-arw-capabilities': [...tool.capabilities],
    ...(tool.permission !== undefined ? { 'x-arw-permission': tool.permission } : {}),
    ...(tool.deprecation
      ? { 'x-arw-deprecation': toJsonObject(tool.deprecation, `${label} deprecation`, problems) }
      : {}),
  }
}

/** `POST /tools/<id>:invoke`: the generic invoke route with this version's schemas filled in. */
function toolOperation(
  tool: RegisteredTool,
  schemas: Map<string, SchemaObject>,
  shared: Map<string, ResponseObject>,
  problems: string[],
): PlannedOperation {
  const label = `tool ${tool.id}`
  const input = toolSchemaName(tool, 'Input')
  const output = toolSchemaName(tool, 'Output')
  for (const [name, schema, part] of [
    [input, tool.input, 'input'],
    [output, tool.output, 'output'],
  ] as const) {
    if (schemas.has(name)) problems.push(`${label}: component schema ${name} is already taken`)
    schemas.set(name, toJsonObject(schema, `${label} ${part} schema`, problems) as SchemaObject)
  }
  const ref = (name: string): ReferenceObject => ({ $ref: `#/components/schemas/${name}` })
  const deprecated = tool.stability === 'deprecated'

  const headers = toolHeaders(tool)

  const responses: ResponsesObject = {
    '200': {
      description: `${tool.id} ran; its output matched the declared output schema.`,
      headers,
      content: {
        [JSON_TYPE]: {
          schema: {
            type: 'object',
            required: ['output', 'tool', 'trace_id', 'duration_ms'],
            properties: {
              output: ref(output),
              tool: { type: 'string', const: tool.id, description: 'The id@version that ran.' },
              trace_id: { type: 'string' },
              duration_ms: { type: 'number', minimum: 0 },
            },
          },
        },
      },
    },
  }
  addToolProblems(responses, tool, shared, label, problems)

  const operation: OperationObject = {
    // A bound tool's first REST binding carries the bare id (see bindingOperationId).
    operationId: tool.http.length > 0 ? `${tool.id}:invoke` : tool.id,
    summary: tool.title,
    description: toolDescription(tool).join('\n\n'),
    tags: ['tools'],
    ...(deprecated ? { deprecated: true } : {}),
    ...(TOOL_AUTH === 'admin' ? { security: structuredClone(ADMIN_SECURITY) } : {}),
    parameters: [{ $ref: IDEMPOTENCY_KEY_REF }],
    requestBody: {
      required: true,
      content: {
        [JSON_TYPE]: {
          schema: {
            type: 'object',
            required: ['input'],
            properties: {
              input: ref(input),
              task_id: {
                type: 'string',
                minLength: 1,
                maxLength: 200,
                description: 'Groups calls of one task (see /admin/probe).',
              },
              step: {
                type: 'string',
                minLength: 1,
                maxLength: 200,
                description: 'Label of this call within its task.',
              },
            },
            additionalProperties: false,
          },
          ...invokeExamples(tool),
        },
      },
    },
    responses,
    ...toolExtensions(tool, label, problems),
  }
  return { path: `/tools/${tool.id}:invoke`, method: 'POST', operation, label }
}

/** The tool's declared examples as request bodies of its `:invoke` operation. */
function invokeExamples(tool: RegisteredTool): { examples?: Record<string, ExampleObject> } {
  if (tool.examples.length === 0) return {}
  const examples: Record<string, ExampleObject> = {}
  tool.examples.forEach((example, i) => {
    examples[`example-${i + 1}`] = {
      ...(example.title ? { summary: example.title } : {}),
      value: { input: structuredClone(example.input) },
    }
  })
  return { examples }
}

/**
 * The operationId of a REST binding: the first binding of a tool keeps the tool's id, so a tool
 * served at `GET /connections` is `conn.list@1.0.0` there; further bindings add `:http<n>` (their
 * 1-based position in the declaration) and the tool's `:invoke` operation adds `:invoke`.
 */
export function bindingOperationId(served: ServedBinding): string {
  return served.index === 0 ? served.tool.id : `${served.tool.id}:http${served.index + 1}`
}

/**
 * A tool's REST binding: path parameters and (GET, DELETE) query parameters from the input
 * schema's properties, or (POST, PUT, PATCH) the input minus its path parameters as the body; the
 * success answer is the output itself with the binding's status. Problems and extensions are the
 * tool's, as on its `:invoke` operation.
 */
function bindingOperation(
  served: ServedBinding,
  shared: Map<string, ResponseObject>,
  problems: string[],
): PlannedOperation {
  const { binding, tool } = served
  const label = `tool ${tool.id} http ${binding.method} ${binding.path}`
  const input = toJsonObject(tool.input, `${label} input schema`, problems)
  const properties = Object.fromEntries(propertiesOf(input))
  const required = requiredOf(input)
  const ref = (name: string): ReferenceObject => ({ $ref: `#/components/schemas/${name}` })

  const parameters: Array<ParameterObject | ReferenceObject> = []
  for (const name of binding.params) parameters.push(parameter(name, 'path', properties[name]!, true))
  if (takesQuery(binding.method)) {
    for (const [name, schema] of Object.entries(properties)) {
      if (!binding.params.includes(name))
        parameters.push(parameter(name, 'query', schema, required.has(name)))
    }
  }
  parameters.push({ $ref: IDEMPOTENCY_KEY_REF })

  let requestBody: OperationObject['requestBody']
  if (!takesQuery(binding.method)) {
    let body: SchemaObject | ReferenceObject = ref(toolSchemaName(tool, 'Input'))
    let bodyRequired = required.size > 0
    if (binding.params.length > 0) {
      // The body is the input without what the path already says.
      const rest = Object.entries(properties).filter(([name]) => !binding.params.includes(name))
      const restRequired = [...required].filter((name) => !binding.params.includes(name))
      const derived: JsonObject = { ...input, properties: Object.fromEntries(rest) }
      if (restRequired.length > 0) derived['required'] = restRequired
      else delete derived['required']
      body = derived as SchemaObject
      bodyRequired = restRequired.length > 0
    }
    requestBody = { required: bodyRequired, content: { [JSON_TYPE]: { schema: body } } }
  }

  const success: ResponseObject = {
    description: `${tool.id} ran; ${binding.status === 204 ? 'it answers no body' : 'the body is its output, which matched the declared output schema'}.`,
    headers: toolHeaders(tool),
  }
  if (binding.status !== 204) {
    success.content = { [JSON_TYPE]: { schema: ref(toolSchemaName(tool, 'Output')) } }
  }
  const responses: ResponsesObject = { [String(binding.status)]: success }
  addToolProblems(responses, tool, shared, label, problems)

  const deprecated = tool.stability === 'deprecated'
  const servesNote = [
    `Serves \`${tool.id}\`: the same call as \`POST /tools/${tool.id}:invoke\` (one pipeline, one journal record), answering the output itself.`,
    // OpenAPI parameters cannot say what they must satisfy together (one of two, say); the schema can.
    ...(takesQuery(binding.method)
      ? [`Together, the parameters are the input and must match \`${toolSchemaName(tool, 'Input')}\`.`]
      : []),
  ].join(' ')
  const operation: OperationObject = {
    operationId: bindingOperationId(served),
    summary: tool.title,
    description: [...toolDescription(tool), servesNote].join('\n\n'),
    // Beside the routes of the tool's area rather than among the per-tool :invoke operations.
    tags: [tool.area ?? 'tools'],
    ...(deprecated ? { deprecated: true } : {}),
    ...(TOOL_AUTH === 'admin' ? { security: structuredClone(ADMIN_SECURITY) } : {}),
    parameters,
    ...(requestBody ? { requestBody } : {}),
    responses,
    'x-arw-tool': tool.id,
    ...toolExtensions(tool, label, problems),
  }
  return { path: binding.path, method: binding.method, operation, label }
}

function checkUnique(planned: readonly PlannedOperation[], problems: string[]): void {
  const ids = new Map<string, string>()
  const routes = new Map<string, string>()
  for (const op of planned) {
    const id = op.operation.operationId ?? ''
    const first = ids.get(id)
    if (first !== undefined) problems.push(`${op.label}: operationId "${id}" is already used by ${first}`)
    else ids.set(id, op.label)
    // OpenAPI treats templated paths that differ only in parameter names as the same path.
    const key = `${op.method} ${op.path.replace(/\{[^{}]*\}/g, '{}')}`
    const taken = routes.get(key)
    if (taken !== undefined)
      problems.push(`${op.label}: ${op.method} ${op.path} is already declared by ${taken}`)
    else routes.set(key, op.label)
  }
}
