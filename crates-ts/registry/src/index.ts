export {
  type DeclaredBinding,
  HTTP_METHODS,
  type HttpBinding,
  type HttpMethod,
  isQuerySchema,
  isScalarSchema,
  routeKey,
  takesQuery,
} from './http-binding.ts'
export {
  compareSemver,
  formatToolId,
  isToolName,
  parseSemver,
  parseToolRef,
  type SemVer,
  type ToolRef,
} from './id.ts'
export {
  type ChangeListener,
  type RegisteredEvent,
  type RegisteredTool,
  Registry,
  RegistryError,
  type RegistryVisitor,
  type ServedBinding,
} from './registry.ts'
export {
  type ClientChannel,
  DEFAULT_TIMEOUT_MS,
  type Deprecation,
  defineEvent,
  defineTool,
  type EventSpec,
  type ProgressUpdate,
  type Risk,
  type Stability,
  type ToolContext,
  type ToolDeclaration,
  type ToolExample,
  type ToolHints,
  type ToolLimits,
  type ToolSpec,
  type Usage,
} from './tool.ts'
export { compileValidator, type Validator } from './validator.ts'
