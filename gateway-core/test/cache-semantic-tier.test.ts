import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashedNgramEmbedder } from '../src/cache/embedders';
import { SemanticTier } from '../src/cache/semantic';
import { buildCacheSettings, cacheSettingsSchema } from '../src/cache/settings';
import { CacheStore } from '../src/cache/store';
import { openDatabase, type SqliteDatabase } from '../src/storage/database';

const settings = { enabled: true, threshold: 0.7, maxTurns: 1, maxTemperature: 1, lexicalCheck: 'content_words' as const };
const signatureSettings = { ...settings, lexicalCheck: 'signature' as const };
let dataDir: string;
let db: SqliteDatabase;
let clock: number;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'airlock-semantic-'));
  db = openDatabase(dataDir);
  clock = 1_800_000_000_000;
});

afterEach(() => {
  db.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function body(content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'gpt-4o', messages: [{ role: 'user', content }], ...extra };
}

async function remember(tier: SemanticTier, store: CacheStore, key: string, content: string): Promise<string> {
  const query = tier.query('openai-chat', 'team:backend', 'gpt-4o', ['gpt-4o#0'], body(content));
  if ('skip' in query) throw new Error(query.skip);
  const described = await tier.describe(query);
  store.put({
    key,
    namespace: 'team:backend',
    alias: 'gpt-4o',
    format: 'openai-chat',
    response: { answer: content },
    usage: null,
    costUsd: 0.001,
    latencyMs: 500,
    ttlSeconds: 60,
    semantic: {
      semanticKey: query.semanticKey,
      embedding: described.vector,
      signature: JSON.stringify(described.signature),
      contentKey: described.contentKey,
    },
  });
  tier.add(query.semanticKey, key, described.vector);
  return query.semanticKey;
}

async function findFor(tier: SemanticTier, store: CacheStore, content: string): Promise<string | null> {
  const query = tier.query('openai-chat', 'team:backend', 'gpt-4o', ['gpt-4o#0'], body(content));
  if ('skip' in query) return null;
  const described = await tier.describe(query);
  const found = tier.find(query, described, {
    signatureOf: (key) => {
      const signature = store.peek(key)?.signature;
      return signature ? JSON.parse(signature) : null;
    },
    contentCandidates: (contentKey) => store.contentCandidates(contentKey),
  });
  return found?.key ?? null;
}

describe('semantic tier', () => {
  it.each([
    ['content_words', settings, 0],
    ['signature', signatureSettings, 1],
  ] as const)('finds a paraphrase after a restart (%s)', async (_check, tierSettings, indexed) => {
    const first = new SemanticTier(tierSettings, new HashedNgramEmbedder());
    await remember(first, new CacheStore(db, { maxBytes: 1_000_000, now: () => clock }), 'k1', 'How do I reverse a list in Python?');
    db.close();
    db = openDatabase(dataDir);

    const second = new SemanticTier(tierSettings, new HashedNgramEmbedder());
    const store = new CacheStore(db, { maxBytes: 1_000_000, now: () => clock, onRemove: (key, semanticKey) => second.remove(key, semanticKey) });
    // The content-words check reads candidates from SQLite, so only the signature check loads vectors.
    expect(second.rebuild(store)).toBe(indexed);
    expect(await findFor(second, store, "What's the way to reverse a list in Python?")).toBe('k1');
  });

  it.each([
    ['content_words', settings],
    ['signature', signatureSettings],
  ] as const)('forgets entries that expire (%s)', async (_check, tierSettings) => {
    let tier: SemanticTier | null = null;
    const store = new CacheStore(db, { maxBytes: 1_000_000, now: () => clock, onRemove: (key, semanticKey) => tier?.remove(key, semanticKey) });
    tier = new SemanticTier(tierSettings, new HashedNgramEmbedder());
    await remember(tier, store, 'k1', 'How do I reverse a list in Python?');
    clock += 61_000;
    expect(store.get('k1')).toBeNull();
    expect(await findFor(tier, store, "What's the way to reverse a list in Python?")).toBeNull();
  });

  it('reads candidates by folded content words', async () => {
    const tier = new SemanticTier(settings, new HashedNgramEmbedder());
    const store = new CacheStore(db, { maxBytes: 1_000_000, now: () => clock });
    await remember(tier, store, 'k1', 'How do I list the properties of an object in JavaScript?');
    await remember(tier, store, 'k2', 'Deep clone an object in JavaScript');
    expect(await findFor(tier, store, 'list property of object in JavaScript')).toBe('k1');
    expect(await findFor(tier, store, 'Shallow clone an object in JavaScript')).toBeNull();
  });

  it('lets the signature check match an unlisted swap', async () => {
    const tier = new SemanticTier(signatureSettings, new HashedNgramEmbedder());
    const store = new CacheStore(db, { maxBytes: 1_000_000, now: () => clock });
    await remember(tier, store, 'k2', 'Deep clone an object in JavaScript');
    expect(await findFor(tier, store, 'Shallow clone an object in JavaScript')).toBe('k2');
  });

  it('keeps other semantic keys apart', async () => {
    const tier = new SemanticTier(settings, new HashedNgramEmbedder());
    const store = new CacheStore(db, { maxBytes: 1_000_000, now: () => clock });
    await remember(tier, store, 'k1', 'How do I reverse a list in Python?');
    const other = tier.query('openai-chat', 'team:frontend', 'gpt-4o', ['gpt-4o#0'], body('reverse a list in Python'));
    if ('skip' in other) throw new Error(other.skip);
    const described = await tier.describe(other);
    expect(store.contentCandidates(described.contentKey)).toEqual([]);
    expect(await findFor(tier, store, 'reverse a list in Python')).toBe('k1');
  });

  it('skips requests it must not match', () => {
    const tier = new SemanticTier(settings, new HashedNgramEmbedder());
    const query = (extra: Record<string, unknown>, messages?: unknown[]) =>
      tier.query('openai-chat', 'team:backend', 'gpt-4o', [], { ...body('Hi'), ...(messages ? { messages } : {}), ...extra });
    expect(query({ temperature: 1.5 })).toEqual({ skip: 'temperature' });
    expect(query({}, [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }])).toEqual({ skip: 'not text only' });
    expect(query({}, [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }])).toEqual({ skip: 'too many turns' });
    expect(query({}, [{ role: 'user', content: 'a' }, { role: 'assistant', content: null, tool_calls: [] }, { role: 'tool', content: 'r' }])).toEqual({
      skip: 'last message is not from the user',
    });
  });
});

describe('semantic settings', () => {
  it('defaults to on, 0.7 and content words', () => {
    const warnings: string[] = [];
    const built = buildCacheSettings({ enabled: true }, undefined, warnings);
    expect(built.semantic.enabled).toBe(true);
    expect(built.semantic.threshold).toBe(0.7);
    expect(built.semantic.lexicalCheck).toBe('content_words');
    expect(warnings).toEqual([]);
  });

  it('warns about the signature check with the built-in embedder', () => {
    const warnings: string[] = [];
    const built = buildCacheSettings({ enabled: true, semantic: { lexical_check: 'signature' } }, undefined, warnings);
    expect(built.semantic.lexicalCheck).toBe('signature');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/lexical_check signature with the built-in embedder/);
  });

  it('rejects an unknown lexical check', () => {
    const parsed = cacheSettingsSchema.safeParse({ semantic: { lexical_check: 'loose' } });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe('must be content_words or signature');
    expect(parsed.error?.issues[0]?.path).toEqual(['semantic', 'lexical_check']);
  });
});

