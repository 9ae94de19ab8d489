import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CacheStore, type NewCacheEntry } from '../src/cache/store';
import { openDatabase, type SqliteDatabase } from '../src/storage/database';

let dataDir: string;
let db: SqliteDatabase;
let clock: number;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'airlock-cache-'));
  db = openDatabase(dataDir);
  clock = 1_800_000_000_000;
});

afterEach(() => {
  db.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function entry(key: string, text: string, overrides: Partial<NewCacheEntry> = {}): NewCacheEntry {
  return {
    key,
    namespace: 'team:backend',
    alias: 'gpt-4o',
    format: 'openai-chat',
    response: { choices: [{ message: { role: 'assistant', content: text } }] },
    usage: null,
    costUsd: 0.002,
    latencyMs: 850,
    ttlSeconds: 60,
    ...overrides,
  };
}

function store(maxBytes = 1_000_000): CacheStore {
  return new CacheStore(db, { maxBytes, now: () => clock });
}

describe('cache store', () => {
  it('returns a stored entry and counts hits', () => {
    const cache = store();
    expect(cache.put(entry('k1', 'hello'))).toBe(true);
    const first = cache.get('k1');
    expect(first?.response).toEqual({ choices: [{ message: { role: 'assistant', content: 'hello' } }] });
    expect(first?.costUsd).toBe(0.002);
    expect(first?.hits).toBe(1);
    expect(cache.get('k1')?.hits).toBe(2);
    expect(cache.get('missing')).toBeNull();
  });

  it('expires entries after their ttl', () => {
    const cache = store();
    cache.put(entry('k1', 'hello', { ttlSeconds: 30 }));
    clock += 29_999;
    expect(cache.get('k1')).not.toBeNull();
    clock += 1;
    expect(cache.get('k1')).toBeNull();
    expect(cache.size().entries).toBe(0);
  });

  it('evicts least recently used beyond the cap', () => {
    const probe = store();
    probe.put(entry('p', 'v'.repeat(100)));
    const one = probe.size().bytes;
    probe.invalidate({});
    const cache = store(one * 3);
    cache.put(entry('a', 'x'.repeat(100)));
    clock += 1;
    cache.put(entry('b', 'y'.repeat(100)));
    clock += 1;
    cache.put(entry('c', 'z'.repeat(100)));
    clock += 1;
    expect(cache.get('a')).not.toBeNull();
    clock += 1;
    cache.put(entry('d', 'w'.repeat(100)));
    expect(cache.get('b')).toBeNull();
    expect(cache.get('a')).not.toBeNull();
    expect(cache.get('c')).not.toBeNull();
    expect(cache.get('d')).not.toBeNull();
    expect(cache.size().bytes).toBeLessThanOrEqual(one * 3);
  });

  it('counts keys and semantic fields in the size', () => {
    const cache = store();
    const plain = entry('plain-key', 'hello');
    cache.put(plain);
    const responseBytes = Buffer.byteLength(JSON.stringify(plain.response));
    expect(cache.size().bytes).toBe(responseBytes + 'plain-key'.length + 'team:backend'.length + 'gpt-4o'.length);

    const embedding = new Float32Array(384);
    const semantic = { semanticKey: 's'.repeat(64), embedding, signature: '{"numbers":[]}', contentKey: 'c'.repeat(64) };
    cache.put(entry('semantic-key', 'hello', { semantic }));
    const semanticBytes = embedding.byteLength + semantic.signature.length + 64 + 64;
    expect(cache.size().bytes).toBe(2 * responseBytes + 'plain-key'.length + 'semantic-key'.length + 2 * ('team:backend'.length + 'gpt-4o'.length) + semanticBytes);
  });

  it('refuses an entry larger than the cap', () => {
    const cache = store(50);
    expect(cache.put(entry('big', 'x'.repeat(100)))).toBe(false);
    expect(cache.size().entries).toBe(0);
  });

  it('replaces an entry with the same key', () => {
    const cache = store();
    cache.put(entry('k1', 'old'));
    cache.put(entry('k1', 'new'));
    expect(cache.size().entries).toBe(1);
    expect(cache.get('k1')?.response).toEqual({ choices: [{ message: { role: 'assistant', content: 'new' } }] });
  });

  it('invalidates by namespace and model', () => {
    const cache = store();
    cache.put(entry('a', '1'));
    cache.put(entry('b', '2', { namespace: 'team:marketing' }));
    cache.put(entry('c', '3', { alias: 'claude-sonnet' }));
    expect(cache.invalidate({ namespace: 'team:marketing' })).toBe(1);
    expect(cache.invalidate({ alias: 'claude-sonnet' })).toBe(1);
    expect(cache.get('a')).not.toBeNull();
    expect(cache.size().entries).toBe(1);
  });

  it('keeps entries across a restart', () => {
    store().put(entry('k1', 'hello'));
    db.close();
    db = openDatabase(dataDir);
    expect(store().get('k1')?.response).toEqual({ choices: [{ message: { role: 'assistant', content: 'hello' } }] });
  });

  it('rejects invalid settings', () => {
    expect(() => new CacheStore(db, { maxBytes: 0 })).toThrow(/size cap/);
    expect(() => store().put(entry('k', 'x', { ttlSeconds: 0 }))).toThrow(/ttl/);
  });
});
