import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors';
import type { SqliteDatabase } from './database';

export type KeyRole = 'admin' | 'user';

export interface ApiKeyRecord {
  id: string;
  name: string;
  role: KeyRole;
  userId: string | null;
  teamId: string | null;
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
}

/** Who made a request. The master key from the config has the id "master". */
export interface Principal {
  keyId: string;
  role: KeyRole;
  userId: string | null;
  teamId: string | null;
}

export interface KeyOwner {
  userId?: string | null;
  teamId?: string | null;
}

interface KeyRow {
  id: string;
  name: string;
  role: KeyRole;
  hash: string;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
  user_id: string | null;
  team_id: string | null;
}

const keyPrefix = 'sk-airlock-';

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Virtual keys, stored as SHA-256 hashes. */
export class KeyStore {
  private readonly byHash;
  private readonly insert;
  private readonly list;
  private readonly revoke;
  private readonly countActiveAdmins;
  private readonly roleOf;
  private readonly masterHash: Buffer | null;
  /**
   * Principals of keys seen recently, by hash. Every key change goes through this store, which
   * clears the entry on revocation, so the cache never serves a revoked key. Unknown keys are
   * not cached, so random guesses cannot grow it.
   */
  private readonly cache = new Map<string, Principal>();
  private static readonly cacheLimit = 10_000;

  constructor(db: SqliteDatabase, masterKey: string | null) {
    this.byHash = db.prepare<[string], KeyRow>('SELECT * FROM api_keys WHERE hash = ?');
    this.insert = db.prepare('INSERT INTO api_keys (id, name, role, hash, prefix, created_at, user_id, team_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.list = db.prepare<[], KeyRow>('SELECT * FROM api_keys ORDER BY created_at, id');
    this.revoke = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
    this.countActiveAdmins = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL");
    this.roleOf = db.prepare<[string], { role: KeyRole }>('SELECT role FROM api_keys WHERE id = ? AND revoked_at IS NULL');
    this.masterHash = masterKey === null ? null : hashKey(masterKey);
  }

  /** Create a key and return it with its secret, which is shown once and never stored. */
  create(name: string, role: KeyRole, owner: KeyOwner = {}): { record: ApiKeyRecord; key: string } {
    const key = keyPrefix + randomBytes(32).toString('base64url');
    const record: ApiKeyRecord = {
      id: `key_${randomUUID().replaceAll('-', '').slice(0, 16)}`,
      name,
      role,
      userId: owner.userId ?? null,
      teamId: owner.teamId ?? null,
      prefix: key.slice(0, keyPrefix.length + 4),
      createdAt: Date.now(),
      revokedAt: null,
    };
    this.insert.run(record.id, name, role, hashKey(key).toString('hex'), record.prefix, record.createdAt, record.userId, record.teamId);
    return { record, key };
  }

  /** Create an admin key unless the config has a master key or an active admin key exists. */
  ensureAdminKey(): string | null {
    if (this.masterHash !== null) return null;
    if (this.countActiveAdmins.get()!.n > 0) return null;
    return this.create('admin', 'admin').key;
  }

  /** Resolve a presented key to its principal; null for an unknown or revoked key. */
  authenticate(presented: string): Principal | null {
    const hash = hashKey(presented);
    if (this.masterHash !== null && timingSafeEqual(hash, this.masterHash)) return { keyId: 'master', role: 'admin', userId: null, teamId: null };
    const hex = hash.toString('hex');
    const cached = this.cache.get(hex);
    if (cached) return cached;
    const row = this.byHash.get(hex);
    if (!row || row.revoked_at !== null) return null;
    // The lookup is by hash, so timing reveals nothing about the key; compare again to be exact.
    if (!timingSafeEqual(Buffer.from(row.hash, 'hex'), hash)) return null;
    const principal: Principal = { keyId: row.id, role: row.role, userId: row.user_id, teamId: row.team_id };
    if (this.cache.size >= KeyStore.cacheLimit) this.cache.clear();
    this.cache.set(hex, principal);
    return principal;
  }

  all(): ApiKeyRecord[] {
    return this.list.all().map(toRecord);
  }

  /**
   * Revoke a key; returns false when no active key has that id. The last active admin key cannot
   * be revoked unless the config has a master key, because nothing could manage keys after it.
   */
  revokeKey(id: string): boolean {
    const row = this.roleOf.get(id);
    if (!row) return false;
    if (row.role === 'admin' && this.masterHash === null && this.countActiveAdmins.get()!.n <= 1) {
      throw new GatewayError(
        'invalid_value',
        'This is the last active admin key, so it cannot be revoked. Create another admin key first (role "admin"), or set general_settings.master_key in the config.',
        { param: 'id' },
      );
    }
    const revoked = this.revoke.run(Date.now(), id).changes > 0;
    for (const [hex, principal] of this.cache) if (principal.keyId === id) this.cache.delete(hex);
    return revoked;
  }
}

function toRecord(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    userId: row.user_id,
    teamId: row.team_id,
    prefix: row.prefix,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}
