import { ERRORS, ProblemError } from '@arw/protocol'
import { defineTool, type ToolContext, type ToolSpec } from '@arw/registry'
import Type, { type TSchema } from 'typebox'
import { MCP_CLIENT, MCP_CONTENT } from '../../kernel/capabilities.ts'

/**
 * The optional conformance tool pack: the `test_*` tools the official MCP conformance suite
 * (`@modelcontextprotocol/conformance server`) calls, declared like any other tool and added to the
 * registry only with ARW_MCP_CONFORMANCE=1. Every call still runs through the governed pipeline.
 */

const NoInput = Type.Object({}, { additionalProperties: false })
const Content = Type.Object({ content: Type.Array(Type.Record(Type.String(), Type.Unknown())) })

// A 1x1 red PNG and a 1-sample silent WAV: the smallest valid media for content tests.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=='
const WAV = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQIAAAAAAA=='

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(signal.reason)
      },
      { once: true },
    )
  })

function text(value: string) {
  return { content: [{ type: 'text', text: value }] }
}

function client(ctx: ToolContext) {
  const channel = ctx.client
  if (!channel) throw new ProblemError(ERRORS.bad_request, { reason: 'this tool needs an MCP client' })
  return channel
}

function contentTool(name: string, title: string, content: () => Array<Record<string, unknown>>) {
  return defineTool({
    name,
    version: '1.0.0',
    title,
    description: `Conformance: ${title.toLowerCase()}.`,
    input: NoInput,
    output: Content,
    stability: 'experimental',
    hints: { readOnly: true, idempotent: true, openWorld: false },
    capabilities: [MCP_CONTENT],
    examples: [{ input: {}, output: { content: content() } }],
    handler: () => ({ content: content() }),
  })
}

const resource = {
  uri: 'test://embedded-resource',
  mimeType: 'text/plain',
  text: 'This is an embedded resource content.',
}

async function elicit(ctx: ToolContext, message: string, requestedSchema: Record<string, unknown>) {
  const answer = (await client(ctx).request('elicitation/create', { message, requestedSchema })) as {
    action?: string
    content?: unknown
  }
  return text(
    `Elicitation completed: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`,
  )
}

export const conformanceTools: ToolSpec<any, any>[] = [
  contentTool(
    'test_simple_text',
    'Simple text',
    () => text('This is a simple text response for testing.').content,
  ),
  contentTool('test_image_content', 'Image content', () => [
    { type: 'image', data: PNG, mimeType: 'image/png' },
  ]),
  contentTool('test_audio_content', 'Audio content', () => [
    { type: 'audio', data: WAV, mimeType: 'audio/wav' },
  ]),
  contentTool('test_embedded_resource', 'Embedded resource', () => [{ type: 'resource', resource }]),
  contentTool('test_multiple_content_types', 'Mixed content', () => [
    { type: 'text', text: 'Multiple content types test:' },
    { type: 'image', data: PNG, mimeType: 'image/png' },
    {
      type: 'resource',
      resource: {
        uri: 'test://mixed-content-resource',
        mimeType: 'application/json',
        text: '{"test":"data","value":123}',
      },
    },
  ]),
  defineTool({
    name: 'test_tool_with_logging',
    version: '1.0.0',
    title: 'Logging',
    description: 'Conformance: sends three log notifications while it runs.',
    input: NoInput,
    output: Content,
    stability: 'experimental',
    capabilities: [MCP_CONTENT, MCP_CLIENT],
    examples: [{ title: 'Over MCP (it logs to the client)', input: {} }],
    handler: async (_input, ctx) => {
      const channel = client(ctx)
      channel.log('info', 'Tool execution started')
      await sleep(50, ctx.signal)
      channel.log('info', 'Tool processing data')
      await sleep(50, ctx.signal)
      channel.log('info', 'Tool execution completed')
      return text('Tool with logging executed successfully')
    },
  }),
  defineTool({
    name: 'test_tool_with_progress',
    version: '1.0.0',
    title: 'Progress',
    description: 'Conformance: reports progress 0, 50 and 100 of 100.',
    input: NoInput,
    output: Content,
    stability: 'experimental',
    capabilities: [MCP_CONTENT],
    examples: [{ input: {}, output: text('Tool with progress executed successfully') }],
    handler: async (_input, ctx) => {
      ctx.progress({ progress: 0, total: 100 })
      await sleep(50, ctx.signal)
      ctx.progress({ progress: 50, total: 100 })
      await sleep(50, ctx.signal)
      ctx.progress({ progress: 100, total: 100 })
      return text('Tool with progress executed successfully')
    },
  }),
  defineTool({
    name: 'test_error_handling',
    version: '1.0.0',
    title: 'Error',
    description: 'Conformance: always fails.',
    input: NoInput,
    output: Content,
    errors: ['upstream_error'],
    stability: 'experimental',
    examples: [{ title: 'Fails with upstream_error', input: {} }],
    handler: () => {
      throw new ProblemError(ERRORS.upstream_error, {
        reason: 'This tool intentionally returns an error for testing',
      })
    },
  }),
  defineTool({
    name: 'test_sampling',
    version: '1.0.0',
    title: 'Sampling',
    description: 'Conformance: asks the client to sample an LLM.',
    input: Type.Object({ prompt: Type.String({ maxLength: 10_000 }) }),
    output: Content,
    stability: 'experimental',
    capabilities: [MCP_CONTENT, MCP_CLIENT],
    examples: [{ title: 'Over MCP, with a client that samples', input: { prompt: 'Say hello' } }],
    handler: async ({ prompt }, ctx) => {
      const channel = client(ctx)
      if (!channel.capabilities['sampling'])
        throw new ProblemError(ERRORS.bad_request, { reason: 'the client does not support sampling' })
      const answer = (await channel.request('sampling/createMessage', {
        messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
        maxTokens: 100,
      })) as { content?: { text?: string } }
      return text(`LLM response: ${answer.content?.text ?? ''}`)
    },
  }),
  defineTool({
    name: 'test_elicitation',
    version: '1.0.0',
    title: 'Elicitation',
    description: 'Conformance: asks the user for input through the client.',
    input: Type.Object({ message: Type.String({ maxLength: 10_000 }) }),
    output: Content,
    stability: 'experimental',
    capabilities: [MCP_CONTENT, MCP_CLIENT],
    examples: [{ title: 'Over MCP, with a client that elicits', input: { message: 'Who are you?' } }],
    handler: async ({ message }, ctx) => {
      const channel = client(ctx)
      if (!channel.capabilities['elicitation']) {
        throw new ProblemError(ERRORS.bad_request, { reason: 'the client does not support elicitation' })
      }
      const answer = (await channel.request('elicitation/create', {
        message,
        requestedSchema: {
          type: 'object',
          properties: {
            username: { type: 'string', description: "User's response" },
            email: { type: 'string', description: "User's email address" },
          },
          required: ['username', 'email'],
        },
      })) as { action?: string; content?: unknown }
      return text(`User response: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`)
    },
  }),
  defineTool({
    name: 'test_elicitation_sep1034_defaults',
    version: '1.0.0',
    title: 'Elicitation defaults',
    description: 'Conformance: elicitation with a default for every primitive type (SEP-1034).',
    input: NoInput,
    output: Content,
    stability: 'experimental',
    capabilities: [MCP_CONTENT, MCP_CLIENT],
    examples: [{ title: 'Over MCP, with a client that elicits', input: {} }],
    handler: (_input, ctx) =>
      elicit(ctx, 'Please review and update the form fields with defaults', {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'User name', default: 'John Doe' },
          age: { type: 'integer', description: 'User age', default: 30 },
          score: { type: 'number', description: 'User score', default: 95.5 },
          status: {
            type: 'string',
            description: 'User status',
            enum: ['active', 'inactive', 'pending'],
            default: 'active',
          },
          verified: { type: 'boolean', description: 'Verification status', default: true },
        },
      }),
  }),
  defineTool({
    name: 'test_elicitation_sep1330_enums',
    version: '1.0.0',
    title: 'Elicitation enums',
    description: 'Conformance: elicitation with the five enum schema variants (SEP-1330).',
    input: NoInput,
    output: Content,
    stability: 'experimental',
    capabilities: [MCP_CONTENT, MCP_CLIENT],
    examples: [{ title: 'Over MCP, with a client that elicits', input: {} }],
    handler: (_input, ctx) =>
      elicit(ctx, 'Please select options from the enum fields', {
        type: 'object',
        properties: {
          untitledSingle: {
            type: 'string',
            description: 'Untitled single-select',
            enum: ['option1', 'option2', 'option3'],
          },
          titledSingle: {
            type: 'string',
            description: 'Titled single-select',
            oneOf: [
              { const: 'value1', title: 'First Option' },
              { const: 'value2', title: 'Second Option' },
              { const: 'value3', title: 'Third Option' },
            ],
          },
          legacyEnum: {
            type: 'string',
            description: 'Legacy titled enum',
            enum: ['opt1', 'opt2', 'opt3'],
            enumNames: ['Option One', 'Option Two', 'Option Three'],
          },
          untitledMulti: {
            type: 'array',
            description: 'Untitled multi-select',
            items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          },
          titledMulti: {
            type: 'array',
            description: 'Titled multi-select',
            items: {
              anyOf: [
                { const: 'value1', title: 'First Choice' },
                { const: 'value2', title: 'Second Choice' },
                { const: 'value3', title: 'Third Choice' },
              ],
            },
          },
        },
      }),
  }),
  defineTool({
    name: 'test_reconnection',
    version: '1.0.0',
    title: 'Reconnection',
    description:
      'Conformance: closes its response stream mid-call; the client resumes it with Last-Event-ID (SEP-1699).',
    input: NoInput,
    output: Content,
    stability: 'experimental',
    capabilities: [MCP_CONTENT, MCP_CLIENT],
    examples: [{ title: 'Over MCP Streamable HTTP', input: {} }],
    handler: async (_input, ctx) => {
      client(ctx).closeStream()
      await sleep(100, ctx.signal)
      return text('Reconnection test completed successfully')
    },
  }),
  defineTool({
    name: 'json_schema_2020_12_tool',
    version: '1.0.0',
    title: 'JSON Schema 2020-12',
    description: 'Tool with JSON Schema 2020-12 features',
    input: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: {
        address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } },
      },
      properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
      additionalProperties: false,
    } as unknown as TSchema,
    output: Content,
    stability: 'experimental',
    capabilities: [MCP_CONTENT],
    examples: [{ input: { name: 'Ada', address: { city: 'London' } }, output: text('Hello, Ada') }],
    handler: (input: { name?: string }) => text(`Hello, ${input.name ?? 'world'}`),
  }),
]
