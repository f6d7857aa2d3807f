/**
 * Who is calling. Every call carries one; policy decides on it and the journal records it.
 * `kind` grows as identity lands (API keys, users, agent instances); `id` is stable per caller and
 * never a secret (an API key's id, never the key).
 */
export interface Principal {
  kind: 'admin' | 'anonymous' | 'system' | 'api_key' | 'user' | 'agent'
  id: string
  scopes?: readonly string[]
}

export const SYSTEM_PRINCIPAL: Principal = Object.freeze({ kind: 'system', id: 'system' })
