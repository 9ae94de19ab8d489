/**
 * Budget scopes. A request counts toward the organisation, its key's team and user, the key
 * itself and the alias that served it, so a budget on any of these counts it.
 */

export const SCOPE_KINDS = ['org', 'team', 'user', 'key', 'alias'] as const;
export type ScopeKind = (typeof SCOPE_KINDS)[number];

/** The single organisation's scope id. */
export const ORG_SCOPE_ID = 'org';

export interface ScopeRef {
  kind: ScopeKind;
  /** "org" for the organisation, else a team, user or key id, or a model_name. */
  id: string;
}

/**
 * The key, user and team a request counts toward. Build it with KeyDirectory.resolve, which
 * takes the team from the user's directory entry rather than from the key.
 */
export interface GovernancePrincipal {
  keyId: string;
  userId: string | null;
  teamId: string | null;
}

/** Returns the scopes a request by `principal` on `alias` counts toward, most specific first. */
export function scopesOf(principal: GovernancePrincipal, alias: string): ScopeRef[] {
  const scopes: ScopeRef[] = [
    { kind: 'alias', id: alias },
    { kind: 'key', id: principal.keyId },
  ];
  if (principal.userId !== null) scopes.push({ kind: 'user', id: principal.userId });
  if (principal.teamId !== null) scopes.push({ kind: 'team', id: principal.teamId });
  scopes.push({ kind: 'org', id: ORG_SCOPE_ID });
  return scopes;
}

/** Returns a map key for one scope, unambiguous because no scope kind contains the separator. */
export function scopeKey(kind: ScopeKind, id: string): string {
  return `${kind}\u0001${id}`;
}

/** Describes a scope for messages: "team 'backend'", "the organisation". */
export function describeScope(scope: ScopeRef): string {
  return scope.kind === 'org' ? 'the organisation' : `${scope.kind} '${scope.id}'`;
}
