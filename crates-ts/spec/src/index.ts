export { type AsyncApiDocument, type AsyncApiOptions, emitAsyncApi } from './asyncapi.ts'
export {
  type CompatLock,
  type CompatViolation,
  checkCompat,
  compatLock,
  compatLockText,
  schemaChanges,
} from './compat.ts'
export { COMPONENT_NAME, toolSchemaName } from './component-names.ts'
export { type JsonObject, type JsonValue, jsonText, toJson } from './json.ts'
export {
  emitMcpCatalog,
  type McpCatalog,
  type McpTool,
  type McpToolAnnotations,
} from './mcp-catalog.ts'
export { mcpAlias, mcpListing, mcpNameToRef } from './mcp-names.ts'
export { bindingOperationId, emitOpenApi, type OpenApiOptions } from './openapi.ts'
export { ProblemSchema, statusesOf } from './problem-schema.ts'
export type { HeaderDoc, HttpMethod, HttpRouteDoc, ResponseDoc } from './route.ts'
export { SpecError } from './spec-error.ts'
export { SCHEMAS_DIR, type SpecFilesOptions, specFiles, yamlText } from './spec-files.ts'
export {
  emitToolSchemas,
  JSON_SCHEMA_DIALECT,
  type ToolSchemaDocument,
  toolSchemaFile,
} from './tool-schemas.ts'
