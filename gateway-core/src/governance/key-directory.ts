/**
 * The key side of the directory: which user a key belongs to, its rate limits, and the
 * principal a request counts toward. A key belongs to a user through api_keys.user_id, and the
 * user's team is read from the directory at each request, so moving a user to another team
 * moves the spend of all their keys.
 */
import type { SqliteDatabase } from '../storage/database';
import { checkLimit } from './directory';
import { invalidField, notFound } from './errors';
import type { GovernancePrincipal } from './scopes';

export interface RateLimitPair {
  rpm: number | null;
  tpm: number | null;
}

/** A principal with its team taken from the directory and the rate limits of each scope. */
export interface ResolvedPrincipal extends GovernancePrincipal {
  limits: { key: RateLimitPair; user: RateLimitPair; team: RateLimitPair };
}

interface ResolveRow {
  key_user: string | null;
  key_team: string | null;
  key_rpm: number | null;
  key_tpm: number | null;
  user_team: string | null;
  user_rpm: number | null;
  user_tpm: number | null;
  team_rpm: number | null;
  team_tpm: number | null;
}

const noLimits: RateLimitPair = { rpm: null, tpm: null };

export class KeyDirectory {
  private readonly statements;
  /**
   * Resolved principals by key id. Resolving took one SQLite query per request, 3.6 % of gateway
   * CPU at 16 connections in bench/run.ts. Writes to keys, users and teams drop the cache through
   * invalidate().
   */
  private readonly cache = new Map<string, ResolvedPrincipal>();

  constructor(db: SqliteDatabase) {
    this.statements = {
      teamExists: db.prepare<[string], { id: string }>('SELECT id FROM teams WHERE id = ?'),
      teamOfUser: db.prepare<[string], { team_id: string }>('SELECT team_id FROM users WHERE id = ?'),
      keyExists: db.prepare<[string], { id: string }>('SELECT id FROM api_keys WHERE id = ?'),
      keyLimits: db.prepare<[string], { rpm_limit: number | null; tpm_limit: number | null }>('SELECT rpm_limit, tpm_limit FROM api_keys WHERE id = ?'),
      setKeyLimits: db.prepare('UPDATE api_keys SET rpm_limit = ?, tpm_limit = ? WHERE id = ?'),
      resolve: db.prepare<[string], ResolveRow>(`
        SELECT k.user_id AS key_user, k.team_id AS key_team, k.rpm_limit AS key_rpm, k.tpm_limit AS key_tpm,
               u.team_id AS user_team, u.rpm_limit AS user_rpm, u.tpm_limit AS user_tpm,
               t.rpm_limit AS team_rpm, t.tpm_limit AS team_tpm
        FROM api_keys k
        LEFT JOIN users u ON u.id = k.user_id
        LEFT JOIN teams t ON t.id = coalesce(u.team_id, k.team_id)
        WHERE k.id = ?`),
    };
  }

  /**
   * Completes a principal from the directory: the user and team of the key's database row (the
   * user's team wins over the key's own team_id) and the rate limits of key, user and team.
   * A key without a row, such as the config's master key, is returned as `principal` gives it.
   */
  resolve(principal: GovernancePrincipal): ResolvedPrincipal {
    const cached = this.cache.get(principal.keyId);
    if (cached !== undefined) return cached;
    const resolved = this.resolveUncached(principal);
    this.cache.set(principal.keyId, resolved);
    return resolved;
  }

  /** Drops the resolved principals, after a write to keys, users or teams. */
  invalidate(): void {
    this.cache.clear();
  }

  private resolveUncached(principal: GovernancePrincipal): ResolvedPrincipal {
    const row = this.statements.resolve.get(principal.keyId);
    if (!row) return { ...principal, limits: { key: noLimits, user: noLimits, team: noLimits } };
    return {
      keyId: principal.keyId,
      userId: row.key_user,
      teamId: row.user_team ?? row.key_team,
      limits: {
        key: { rpm: row.key_rpm, tpm: row.key_tpm },
        user: { rpm: row.user_rpm, tpm: row.user_tpm },
        team: { rpm: row.team_rpm, tpm: row.team_tpm },
      },
    };
  }

  /** Sets a key's rpm_limit and tpm_limit (LiteLLM's virtual-key fields); null removes a limit. */
  setKeyLimits(keyId: string, limits: { rpmLimit: number | null; tpmLimit: number | null }): void {
    if (!this.statements.keyExists.get(keyId)) throw notFound('Key', keyId, 'List keys to find its id.');
    const rpm = checkLimit(limits.rpmLimit, 'rpm_limit');
    const tpm = checkLimit(limits.tpmLimit, 'tpm_limit');
    this.statements.setKeyLimits.run(rpm, tpm, keyId);
    this.invalidate();
  }

  keyLimits(keyId: string): RateLimitPair {
    const row = this.statements.keyLimits.get(keyId);
    return row ? { rpm: row.rpm_limit, tpm: row.tpm_limit } : noLimits;
  }

  /**
   * Checks the owner given for a new key and returns it completed: the team is the user's team.
   * Throws invalid_value when the user does not exist or the team differs from the user's.
   */
  checkKeyOwner(owner: { userId?: string | null; teamId?: string | null }): { userId: string | null; teamId: string | null } {
    const userId = owner.userId ?? null;
    const teamId = owner.teamId ?? null;
    if (userId === null) {
      if (teamId !== null && !this.statements.teamExists.get(teamId)) {
        throw invalidField('team_id', `Team '${teamId}' does not exist. Create it first, or give the key's user_id instead.`);
      }
      return { userId: null, teamId };
    }
    const user = this.statements.teamOfUser.get(userId);
    if (!user) throw invalidField('user_id', `User '${userId}' does not exist. Create the user first (airlock.governance.users or the users API).`);
    if (teamId !== null && teamId !== user.team_id) {
      throw invalidField('team_id', `User '${userId}' belongs to team '${user.team_id}', not '${teamId}'. Leave team_id out; the key takes the user's team.`);
    }
    return { userId, teamId: user.team_id };
  }
}
