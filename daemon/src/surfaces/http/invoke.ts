import type { ServerResponse } from 'node:http'
import { ERRORS, type Problem, ProblemError } from '@arw/protocol'
import type { RegisteredTool } from '@arw/registry'
import type { HeaderDoc } from '@arw/spec'
import type { FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { defineRoute } from '../../kernel/route.ts'
import { InvokeError, type InvokeOutcome } from '../../pipeline/invoke.ts'
import type { Services } from '../../services.ts'
import { sendProblem } from './problems.ts'

export const InvokeBody = Type.Object(
  {
    input: Type.Optional(
      Type.Unknown({ description: "The tool's input; checked against its input schema. Defaults to {}." }),
    ),
    task_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'Groups calls of one task (see /admin/probe).',
      }),
    ),
    step: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Label of this call within its task.' }),
    ),
    approval_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description:
          'Resumes a call that answered approval_required: the approval id it gave. The call runs once the approval is granted, with the approved (possibly edited) input.',
      }),
    ),
  },
  { additionalProperties: false },
)

export const InvokeResponse = Type.Object({
  output: Type.Unknown(),
  tool: Type.String({ description: 'The id@version that ran.' }),
  trace_id: Type.String(),
  duration_ms: Type.Number(),
})

const SUFFIX = ':invoke'

/** What a call's answer, success or problem, can carry besides traceparent. */
const CALL_HEADERS: Record<string, HeaderDoc> = {
  'idempotent-replayed': {
    description:
      '"true" when this is the stored answer of an earlier call with the same Idempotency-Key: the body (its trace_id too) is that call\'s, traceparent this request\'s.',
    schema: Type.String(),
  },
  deprecation: { description: 'RFC 9745: the version that ran is deprecated.', schema: Type.String() },
  sunset: { description: 'RFC 8594: when that version may be removed.', schema: Type.String() },
  link: {
    description:
      'The deprecation notice, the successor version and the schema (rel=deprecation, successor-version, describedby).',
    schema: Type.String(),
  },
}

/** RFC 9745 Deprecation, RFC 8594 Sunset and Link headers for a deprecated version. */
export function deprecationHeaders(reply: FastifyReply, tool: RegisteredTool): void {
  if (tool.stability !== 'deprecated') return
  const since = tool.deprecation?.since ? Date.parse(tool.deprecation.since) : Number.NaN
  reply.header('deprecation', Number.isNaN(since) ? 'true' : `@${Math.floor(since / 1000)}`)
  if (tool.deprecation?.sunset) {
    const sunset = new Date(tool.deprecation.sunset)
    if (!Number.isNaN(sunset.getTime())) reply.header('sunset', sunset.toUTCString())
  }
  const links: string[] = []
  if (tool.deprecation?.link) links.push(`<${tool.deprecation.link}>; rel="deprecation"`)
  if (tool.deprecation?.replacement) {
    links.push(`</tools/${tool.deprecation.replacement}:invoke>; rel="successor-version"`)
  }
  links.push(`</admin/introspect/schemas/${tool.id}>; rel="describedby"`)
  reply.header('link', links.join(', '))
}

/** Calls `cancel` if the client hangs up before its answer is written; returns the unwatch. */
function watchClose(this: ServerResponse, cancel: () => void): () => void {
  const response = this
  function onClose() {
    if (!response.writableFinished) cancel()
  }
  response.once('close', onClose)
  return () => response.off('close', onClose)
}

export const invokeRoute = defineRoute<Services>({
  doc: {
    method: 'POST',
    path: '/tools/{tool_id}:invoke',
    operationId: 'invokeTool',
    summary: 'Invoke a tool',
    description:
      'Runs a tool through the governed pipeline. `tool_id` is a bare name (newest stable version) or name@x.y.z (exactly that version). An Idempotency-Key header makes a retried call return the first answer instead of running twice.',
    tags: ['tools'],
    auth: 'admin',
    params: Type.Object({ tool_id: Type.String({ description: 'name or name@x.y.z' }) }),
    body: InvokeBody,
    headers: Type.Object({
      'idempotency-key': Type.Optional(
        Type.String({
          description:
            'Makes a retry return the first answer instead of running again (1-255 visible ASCII).',
        }),
      ),
      traceparent: Type.Optional(Type.String({ description: 'W3C trace context to continue.' })),
      'x-arw-surface': Type.Optional(
        Type.Union([Type.Literal('cli'), Type.Literal('debug')], {
          description:
            'Records the call as made from the arw command (cli) or the debug UI (debug) instead of http; informational, not an authorization.',
        }),
      ),
    }),
    responses: {
      200: {
        description: 'The tool ran; its output is checked against the declared output schema.',
        schema: InvokeResponse,
        headers: CALL_HEADERS,
      },
    },
    problemHeaders: CALL_HEADERS,
    errors: [
      'validation_failed',
      'policy_denied',
      'approval_required',
      'not_found',
      'conflict',
      'rate_limited',
      'timeout',
      'unavailable',
      // Tools federated from an upstream service (the connections area); `gone`: an earlier
      // version of one, called with an input its upstream no longer takes.
      'upstream_error',
      'gone',
    ],
  },
  url: '/tools/:call',
  handler: (services) => async (request, reply) => {
    const call = (request.params as { call: string }).call
    if (!call.endsWith(SUFFIX)) {
      throw new ProblemError(ERRORS.route_not_found, {
        method: request.method,
        path: request.url.split('?')[0],
      })
    }
    const body = (request.body ?? {}) as {
      input?: unknown
      task_id?: string
      step?: string
      approval_id?: string
    }
    const httpCall: HttpCall = {
      ref: call.slice(0, -SUFFIX.length),
      input: body.input === undefined ? {} : body.input,
      approvalId: body.approval_id,
      taskId: body.task_id,
      step: body.step,
    }
    return invokeOverHttp(services, request, reply, httpCall, resultOf)
  },
})

/** What an HTTP route hands to the pipeline besides what every HTTP call shares. */
export interface HttpCall {
  ref: string
  input: unknown
  approvalId?: string | undefined
  taskId?: string | undefined
  step?: string | undefined
  /** Where an input field was in the request, from its `/input/...` pointer (a REST binding's path, query or body). */
  locate?: (pointer: string) => string
}

function resultOf(outcome: InvokeOutcome): unknown {
  return outcome.result
}

/** The request's path without its query string. */
function pathOf(url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

/** Field pointers of the pipeline's problem moved to where the request carried each field. */
function located(problem: Problem, locate: ((pointer: string) => string) | undefined): Problem {
  if (locate === undefined || problem.errors === undefined) return problem
  return { ...problem, errors: problem.errors.map((e) => ({ ...e, pointer: locate(e.pointer) })) }
}

/**
 * One tool call from an HTTP request, the same for `:invoke` and every REST binding: the request's
 * principal, trace and Idempotency-Key, the request path as problem instance, cancellation when the
 * client hangs up, deprecation and replay headers, and the pipeline's problem on failure. `answer`
 * turns the outcome into the body.
 */
export async function invokeOverHttp(
  services: Services,
  request: FastifyRequest,
  reply: FastifyReply,
  call: HttpCall,
  answer: (outcome: InvokeOutcome) => unknown,
): Promise<unknown> {
  const key = request.headers['idempotency-key']
  const surface = request.headers['x-arw-surface']
  try {
    const outcome = await services.pipeline.invoke({
      ref: call.ref,
      input: call.input,
      principal: request.principal!,
      trace: request.trace,
      surface: surface === 'cli' || surface === 'debug' ? surface : 'http',
      instance: pathOf(request.url),
      // One object shape for every call (absent fields undefined, not missing): cheaper than spreads.
      approvalId: call.approvalId,
      taskId: call.taskId,
      step: call.step,
      idempotencyKey: typeof key === 'string' ? key : undefined,
      // A caller that hangs up cancels its call, watched only if the handler looks at its signal.
      watchCancel: watchClose.bind(reply.raw),
    })
    deprecationHeaders(reply, outcome.tool)
    if (outcome.replayed) reply.header('idempotent-replayed', 'true')
    return answer(outcome)
  } catch (error) {
    if (error instanceof InvokeError) {
      if (error.tool) deprecationHeaders(reply, error.tool)
      if (error.replayed) reply.header('idempotent-replayed', 'true')
      return sendProblem(reply, located(error.problem, call.locate))
    }
    throw error
  }
}
