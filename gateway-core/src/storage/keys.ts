import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { SqliteDatabase } from './database';

export type KeyRole = 'admin' | 'user';

export interface ApiKeyRecord {
  id: string;
  name: string;
  role: KeyRole;
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
}

/** Who made a request. The master key from the config has the id "master". */
export interface Principal {
  keyId: string;
  role: KeyRole;
}

interface KeyRow {
  id: string;
  name: string;
  role: KeyRole;
  hash: string;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
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
  private readonly countAdmins;
  private readonly masterHash: Buffer | null;

  constructor(db: SqliteDatabase, masterKey: string | null) {
    this.byHash = db.prepare<[string], KeyRow>('SELECT * FROM api_keys WHERE hash = ?');
    this.insert = db.prepare('INSERT INTO api_keys (id, name, role, hash, prefix, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    this.list = db.prepare<[], KeyRow>('SELECT * FROM api_keys ORDER BY created_at, id');
    this.revoke = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
    this.countAdmins = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM api_keys WHERE role = 'admin'");
    this.masterHash = masterKey === null ? null : hashKey(masterKey);
  }

  /** Create a key and return it with its secret, which is shown once and never stored. */
  create(name: string, role: KeyRole): { record: ApiKeyRecord; key: string } {
    const key = keyPrefix + randomBytes(32).toString('base64url');
    const record: ApiKeyRecord = {
      id: `key_${randomUUID().replaceAll('-', '').slice(0, 16)}`,
      name,
      role,
      prefix: key.slice(0, keyPrefix.length + 4),
      createdAt: Date.now(),
      revokedAt: null,
    };
    this.insert.run(record.id, name, role, hashKey(key).toString('hex'), record.prefix, record.createdAt);
    return { record, key };
  }

  /** Create the first admin key unless the config has a master key or an admin key exists. */
  ensureAdminKey(): string | null {
    if (this.masterHash !== null) return null;
    if (this.countAdmins.get()!.n > 0) return null;
    return this.create('admin', 'admin').key;
  }

  /** Resolve a presented key to its principal; null for an unknown or revoked key. */
  authenticate(presented: string): Principal | null {
    const hash = hashKey(presented);
    if (this.masterHash !== null && timingSafeEqual(hash, this.masterHash)) return { keyId: 'master', role: 'admin' };
    const row = this.byHash.get(hash.toString('hex'));
    if (!row || row.revoked_at !== null) return null;
    // The lookup is by hash, so timing reveals nothing about the key; compare again to be exact.
    if (!timingSafeEqual(Buffer.from(row.hash, 'hex'), hash)) return null;
    return { keyId: row.id, role: row.role };
  }

  all(): ApiKeyRecord[] {
    return this.list.all().map(toRecord);
  }

  /** Revoke a key; returns false when no active key has that id. */
  revokeKey(id: string): boolean {
    return this.revoke.run(Date.now(), id).changes > 0;
  }
}

function toRecord(row: KeyRow): ApiKeyRecord {
  return { id: row.id, name: row.name, role: row.role, prefix: row.prefix, createdAt: row.created_at, revokedAt: row.revoked_at };
}
