import type { AuthScheme, Operation, OperationParameter } from './openapi-import.ts'
import { isRecord } from './openapi-schema.ts'

/**
 * One tool call turned into the HTTP request its OpenAPI operation describes: path parameters
 * percent-encoded into the template, query, header and cookie parameters serialized by their
 * `style` and `explode` (OpenAPI 3 §4.8.12.4), the body encoded by its media type, and the
 * operation's security scheme filled from the bound secret.
 */

export class RequestBuildError extends Error {
  override readonly name = 'RequestBuildError'
}

export interface BuiltRequest {
  url: string
  method: string
  headers: Record<string, string>
  body: string | undefined
}

const enc = encodeURIComponent

/** A scalar as text; a nested structure (which no style describes) as JSON. */
function scalar(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return JSON.stringify(value)
}

/** The `simple`, `label` and `matrix` styles (path and header parameters). */
function styled(param: OperationParameter, value: unknown, encode: (s: string) => string): string {
  const { style, explode, name } = param
  const prefix = style === 'label' ? '.' : style === 'matrix' ? ';' : ''
  if (Array.isArray(value)) {
    const items = value.map((v) => encode(scalar(v)))
    if (style === 'matrix')
      return explode ? items.map((v) => `;${name}=${v}`).join('') : `;${name}=${items.join(',')}`
    return prefix + items.join(explode && style === 'label' ? '.' : ',')
  }
  if (isRecord(value)) {
    const pairs = Object.entries(value).map(([k, v]) => [encode(k), encode(scalar(v))] as const)
    if (explode) {
      const separator = style === 'label' ? '.' : style === 'matrix' ? ';' : ','
      return prefix + pairs.map(([k, v]) => `${k}=${v}`).join(separator)
    }
    const flat = pairs.flat().join(',')
    return style === 'matrix' ? `;${name}=${flat}` : prefix + flat
  }
  return style === 'matrix' ? `;${name}=${encode(scalar(value))}` : prefix + encode(scalar(value))
}

/**
 * `name=value` pairs of a query parameter (`form`, `spaceDelimited`, `pipeDelimited`,
 * `deepObject`), percent-encoded: the delimiters between values stay literal.
 */
function queryPairs(param: OperationParameter, value: unknown): string[] {
  const { style, explode } = param
  const name = enc(param.name)
  const encode = param.allowReserved ? (s: string) => encodeURI(s).replace(/[#&=+]/g, enc) : enc
  if (param.json) return [`${name}=${enc(JSON.stringify(value))}`]
  if (Array.isArray(value)) {
    const items = value.map((v) => encode(scalar(v)))
    if (explode && style === 'form') return items.map((v) => `${name}=${v}`)
    const separator = style === 'spaceDelimited' ? '%20' : style === 'pipeDelimited' ? '|' : ','
    return [`${name}=${items.join(separator)}`]
  }
  if (isRecord(value)) {
    const entries = Object.entries(value).map(([k, v]) => [enc(k), encode(scalar(v))] as const)
    if (style === 'deepObject') return entries.map(([k, v]) => `${name}%5B${k}%5D=${v}`)
    if (explode) return entries.map(([k, v]) => `${k}=${v}`)
    return [`${name}=${entries.flat().join(',')}`]
  }
  return [`${name}=${encode(scalar(value))}`]
}

function joinPath(base: string, path: string): string {
  const url = new URL(base)
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}${path}`
}

function applyAuth(
  schemes: readonly AuthScheme[],
  secret: string,
  headers: Record<string, string>,
  query: string[],
  cookies: string[],
): void {
  for (const scheme of schemes) {
    if (scheme.kind === 'bearer') headers['authorization'] = `Bearer ${secret}`
    else if (scheme.kind === 'basic')
      headers['authorization'] = `Basic ${Buffer.from(secret).toString('base64')}`
    else if (scheme.in === 'header') headers[scheme.name.toLowerCase()] = secret
    else if (scheme.in === 'query') query.push(`${enc(scheme.name)}=${enc(secret)}`)
    else cookies.push(`${scheme.name}=${enc(secret)}`)
  }
}

export function buildRequest(
  operation: Operation,
  input: Record<string, unknown>,
  base: string,
  secret: string | undefined,
): BuiltRequest {
  const headers: Record<string, string> = { accept: 'application/json, text/plain;q=0.9, */*;q=0.1' }
  const query: string[] = []
  const cookies: string[] = []
  const pathValues = new Map<string, string>()
  for (const param of operation.parameters) {
    const value = input[param.property]
    if (value === undefined) continue
    if (param.in === 'path') {
      const text = param.json ? enc(JSON.stringify(value)) : styled(param, value, enc)
      // A whole segment of `.` or `..` would move the request to another resource (URL parsing
      // resolves dot segments, encoded or not).
      if (/^(\.|%2e){1,2}$/i.test(text))
        throw new RequestBuildError(`path parameter ${param.property} must not be "." or ".."`)
      pathValues.set(param.name, text)
    } else if (param.in === 'query') {
      query.push(...queryPairs(param, value))
    } else if (param.in === 'header') {
      const text = param.json ? JSON.stringify(value) : styled(param, value, (s) => s)
      if (/[\r\n\0]/.test(text))
        throw new RequestBuildError(`header parameter ${param.property} must not contain line breaks`)
      headers[param.name.toLowerCase()] = text
    } else {
      const text = param.json
        ? JSON.stringify(value)
        : Array.isArray(value)
          ? value.map(scalar).join(',')
          : scalar(value)
      cookies.push(`${param.name}=${enc(text)}`)
    }
  }
  const path = operation.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = pathValues.get(name)
    if (value === undefined) throw new RequestBuildError(`path parameter ${name} is missing`)
    return value
  })
  if (secret !== undefined) applyAuth(operation.auth, secret, headers, query, cookies)
  if (cookies.length > 0) headers['cookie'] = cookies.join('; ')

  let body: string | undefined
  const sent = operation.body === undefined ? undefined : input[operation.body.property]
  if (operation.body !== undefined && sent !== undefined) {
    headers['content-type'] = operation.body.mediaType
    if (operation.body.encoding === 'json') body = JSON.stringify(sent)
    else if (operation.body.encoding === 'text') body = scalar(sent)
    else if (isRecord(sent))
      body = new URLSearchParams(
        Object.entries(sent).map(([k, v]): [string, string] => [k, scalar(v)]),
      ).toString()
    else throw new RequestBuildError('a form body must be an object')
  }
  const search = query.join('&')
  return {
    url: joinPath(base, path) + (search === '' ? '' : `?${search}`),
    method: operation.method,
    headers,
    body,
  }
}
