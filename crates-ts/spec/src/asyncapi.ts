import { SEVERITIES } from '@arw/protocol'
import type { RegisteredEvent, Registry } from '@arw/registry'
import { COMPONENT_NAME } from './component-names.ts'
import { type JsonObject, toJsonObject } from './json.ts'
import { throwIfProblems } from './spec-error.ts'

export interface AsyncApiOptions {
  registry: Registry
  info: { title: string; version: string; description?: string }
}

/** The AsyncAPI 3.0 document shape this emitter produces (a subset of the specification). */
export interface AsyncApiDocument {
  asyncapi: '3.0.0'
  info: { title: string; version: string; description?: string }
  defaultContentType: string
  servers: Record<string, JsonObject>
  channels: Record<string, JsonObject>
  operations: Record<string, JsonObject>
  components: {
    schemas: Record<string, JsonObject>
    messages: Record<string, JsonObject>
    securitySchemes: Record<string, JsonObject>
  }
}

const CHANNEL = 'events'
const ADDRESS = '/admin/events'
const SERVER = 'daemon'
/** The address the daemon listens on by default (ARW_HOST/ARW_PORT change it). */
const DEFAULT_HOST = '127.0.0.1:8090'

/**
 * The AsyncAPI 3.0 document of the event stream: one channel (`/admin/events`, server-sent
 * events), one message per declared event kind whose payload is the journal envelope around the
 * kind's payload schema, and the one operation a client performs on it (receive). A pure function
 * of the registry; every problem found is thrown together as one SpecError.
 */
export function emitAsyncApi(options: AsyncApiOptions): AsyncApiDocument {
  const problems: string[] = []
  const messages: Record<string, JsonObject> = {}
  const channelMessages: Record<string, JsonObject> = {}
  const operationMessages: JsonObject[] = []
  for (const event of options.registry.events()) {
    if (!COMPONENT_NAME.test(event.kind)) {
      problems.push(`event ${event.kind}: the kind cannot be an AsyncAPI message key (${COMPONENT_NAME})`)
      continue
    }
    messages[event.kind] = message(event, problems)
    channelMessages[event.kind] = { $ref: `#/components/messages/${event.kind}` }
    operationMessages.push({ $ref: `#/channels/${CHANNEL}/messages/${event.kind}` })
  }
  throwIfProblems(problems)

  const security = [
    { $ref: '#/components/securitySchemes/adminToken' },
    { $ref: '#/components/securitySchemes/bearer' },
  ]
  return {
    asyncapi: '3.0.0',
    info: { ...options.info },
    defaultContentType: 'application/json',
    servers: {
      [SERVER]: {
        host: DEFAULT_HOST,
        protocol: 'http',
        description: 'The ARW daemon (default address; set by ARW_HOST and ARW_PORT).',
        security,
      },
    },
    channels: {
      [CHANNEL]: {
        address: ADDRESS,
        title: 'Journal events',
        description:
          'Server-sent events (text/event-stream). Each frame has `event:` = the kind and `data:` = the JSON envelope; journaled events also have `id:` = the journal sequence, so `Last-Event-ID` (or `?after=`) resumes exactly. `?replay=N` replays the last N events first and `?prefix=` keeps only kinds with the given prefixes. The server sends heartbeat comments between events.',
        servers: [{ $ref: `#/servers/${SERVER}` }],
        messages: channelMessages,
      },
    },
    operations: {
      receiveEvents: {
        action: 'receive',
        channel: { $ref: `#/channels/${CHANNEL}` },
        title: 'Receive events',
        summary: 'Subscribe to the journal: replayed events first, then live ones.',
        security,
        messages: operationMessages,
      },
    },
    components: {
      schemas: {
        EventActor: {
          type: 'object',
          description: 'Who caused the event: the principal of the call, without its roles and permissions.',
          required: ['kind', 'id'],
          properties: {
            kind: { type: 'string', description: 'admin, anonymous, system, api_key, user, agent, ...' },
            id: { type: 'string', description: 'Stable id of the caller; never a secret.' },
          },
        },
      },
      messages,
      securitySchemes: {
        adminToken: {
          type: 'httpApiKey',
          name: 'X-ARW-Admin',
          in: 'header',
          description: 'The admin token (ARW_ADMIN_TOKEN).',
        },
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'The admin token sent as `Authorization: Bearer <token>`.',
        },
      },
    },
  }
}

/** One event kind as a message: the envelope every journal event has, around its payload schema. */
function message(event: RegisteredEvent, problems: string[]): JsonObject {
  const payload = toJsonObject(event.payload, `event ${event.kind} payload schema`, problems)
  return {
    name: event.kind,
    title: event.title,
    summary: event.title,
    description: event.description,
    contentType: 'application/json',
    payload: {
      type: 'object',
      required: event.journaled
        ? ['id', 'time', 'kind', 'version', 'severity', 'payload']
        : ['time', 'kind', 'version', 'severity', 'payload'],
      properties: {
        id: event.journaled
          ? { type: 'integer', minimum: 0, description: 'Journal sequence number; also the SSE `id:`.' }
          : { not: {}, description: 'Absent: this notice is not journaled and has no SSE `id:`.' },
        time: { type: 'string', format: 'date-time', description: 'RFC 3339 UTC time with milliseconds.' },
        kind: { type: 'string', const: event.kind },
        version: { type: 'string', const: event.version, description: 'Version of the payload schema.' },
        severity: { type: 'string', enum: [...SEVERITIES], default: event.severity },
        trace_id: { type: 'string', description: 'W3C trace id of the call that caused the event.' },
        span_id: { type: 'string' },
        task_id: { type: 'string', description: 'The task the causing call belonged to.' },
        actor: { $ref: '#/components/schemas/EventActor' },
        payload,
      },
    },
  }
}
