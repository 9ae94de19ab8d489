import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql as initial } from './migrations/0001-initial';
import { sql as routeReason } from './migrations/0002-route-reason';
import { sql as keyOwner } from './migrations/0003-key-owner';
import { sql as guardEvents } from './migrations/0004-guard-events';
import { sql as governance } from './migrations/0005-governance';
import { sql as cache } from './migrations/0006-cache';
import { sql as cacheSemantic } from './migrations/0007-cache-semantic';
import { sql as cacheContentKey } from './migrations/0008-cache-content-key';
import { sql as cacheSavings } from './migrations/0009-cache-savings';
import { sql as cacheModelName } from './migrations/0010-cache-model-name';

export type SqliteDatabase = Database.Database;

/** Numbered, append-only migrations; PRAGMA user_version records how many have run. */
const migrations: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  { version: 1, name: 'initial', sql: initial },
  { version: 2, name: 'route-reason', sql: routeReason },
  { version: 3, name: 'key-owner', sql: keyOwner },
  { version: 4, name: 'guard-events', sql: guardEvents },
  { version: 5, name: 'governance', sql: governance },
  { version: 6, name: 'cache', sql: cache },
  { version: 7, name: 'cache-semantic', sql: cacheSemantic },
  { version: 8, name: 'cache-content-key', sql: cacheContentKey },
  { version: 9, name: 'cache-savings', sql: cacheSavings },
  { version: 10, name: 'cache-model-name', sql: cacheModelName },
];

export const databaseFileName = 'airlock.db';

/**
 * Open (creating if needed) the workstation database. WAL with synchronous=NORMAL: a process
 * crash loses no committed transaction; a power loss may lose the last moments. SQLite's
 * automatic checkpoint (every 1000 pages) keeps the WAL file small.
 */
export function openDatabase(dataDir: string): SqliteDatabase {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(join(dataDir, databaseFileName));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

export function migrate(db: SqliteDatabase): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations[migrations.length - 1]!.version;
  if (current > latest) {
    throw new Error(`the database schema is version ${current}, newer than this Airlock (${latest}); upgrade Airlock`);
  }
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}
