/**
 * Who is calling. Every call carries one; policy decides on it and the journal records it.
 * `id` is stable per caller and never a secret (an API key's id, never the key).
 */
export interface Principal {
  kind: 'admin' | 'operator' | 'anonymous' | 'system' | 'api_key' | 'user' | 'agent'
  id: string
  /** The tenant the principal acts in (identity area); undefined for the single-tenant daemon. */
  tenant?: string
  roles?: readonly string[]
  /**
   * What the principal may do, as `<scope>:<action>` with `*` wildcards (`connections:*`, `*`).
   * Admin principals hold every permission whatever this says.
   */
  permissions?: readonly string[]
  /** The principal this one acts for (an agent acting for a user), when it is a delegation. */
  on_behalf_of?: Pick<Principal, 'kind' | 'id'>
}

export const SYSTEM_PRINCIPAL: Principal = Object.freeze({ kind: 'system', id: 'system' })

/** Whether `principal` holds `permission` (exact, `<scope>:*` or `*`); admins hold all. */
export function hasPermission(principal: Principal, permission: string): boolean {
  if (principal.kind === 'admin' || principal.kind === 'system') return true
  const held = principal.permissions
  if (!held) return false
  const scope = permission.slice(0, permission.indexOf(':'))
  return held.some((p) => p === permission || p === '*' || p === `${scope}:*`)
}
