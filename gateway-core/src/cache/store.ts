/**
 * The exact tier of the response cache in SQLite: lookup by key, store with a time to live,
 * eviction of the least recently used entries beyond a size cap, and invalidation by namespace
 * or model name.
 */
import type { SqliteDatabase } from '../storage/database';
import type { WireFormat } from '../providers/types';
import type { UsageRecord } from '../usage/record';

export interface CacheEntry {
  key: string;
  namespace: string;
  alias: string;
  format: WireFormat;
  createdAt: number;
  expiresAt: number;
  lastUsedAt: number;
  sizeBytes: number;
  response: Record<string, unknown>;
  usage: UsageRecord | null;
  costUsd: number | null;
  latencyMs: number;
  hits: number;
  /** JSON lexical signature of the last user message, for entries the semantic tier indexed. */
  signature: string | null;
}

/** What the semantic tier keeps of an entry: never the prompt text. */
export interface SemanticFields {
  /** Hash of everything but the last user message; only entries with an equal hash may match. */
  semanticKey: string;
  embedding: Float32Array;
  /** JSON of the last user message's lexical signature. */
  signature: string;
  /** Hash of the semantic key and the folded content words, which candidates must share. */
  contentKey: string;
}

/** A stored entry that may serve a semantic query: its key, embedding and signature. */
export interface SemanticCandidate {
  key: string;
  embedding: Float32Array;
  signature: string;
}

/**
 * Most candidates read for one content key. A key with more entries contains near-duplicate
 * questions, and a candidate left unread costs only a miss.
 */
const MAX_CONTENT_CANDIDATES = 64;

export interface NewCacheEntry {
  key: string;
  namespace: string;
  alias: string;
  format: WireFormat;
  response: Record<string, unknown>;
  usage: UsageRecord | null;
  costUsd: number | null;
  latencyMs: number;
  /** Seconds the entry may be served. */
  ttlSeconds: number;
  /** The configured model_name, when it differs from alias (a wildcard entry's name). */
  modelName?: string;
  semantic?: SemanticFields;
}

export interface CacheStoreOptions {
  /** Largest total size of the stored responses in bytes; least recently used entries go first. */
  maxBytes: number;
  /** Clock in milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** Called with the key of each entry that leaves the store, so the semantic index can drop it. */
  onRemove?: (key: string, semanticKey: string | null) => void;
}

interface EntryRow {
  key: string;
  namespace: string;
  alias: string;
  format: WireFormat;
  created_at: number;
  expires_at: number;
  last_used_at: number;
  size_bytes: number;
  response: string;
  usage: string | null;
  cost_usd: number | null;
  latency_ms: number;
  hits: number;
  semantic_key: string | null;
  embedding: Buffer | null;
  signature: string | null;
  content_key: string | null;
}

export class CacheStore {
  private readonly onRemove: (key: string, semanticKey: string | null) => void;
  private readonly now: () => number;
  private readonly maxBytes: number;
  private readonly statements;
  /** Total size_bytes of the stored rows, kept in memory so a store need not sum the table. */
  private totalBytes: number;

  constructor(
    private readonly db: SqliteDatabase,
    options: CacheStoreOptions,
  ) {
    if (!Number.isInteger(options.maxBytes) || options.maxBytes < 1) {
      throw new RangeError(`invalid cache size cap ${options.maxBytes}: expected a whole number of bytes of at least 1`);
    }
    this.now = options.now ?? Date.now;
    this.maxBytes = options.maxBytes;
    this.onRemove = options.onRemove ?? (() => {});
    this.statements = {
      get: db.prepare<[string], EntryRow>('SELECT * FROM cache_entries WHERE key = ?'),
      touch: db.prepare('UPDATE cache_entries SET last_used_at = ?, hits = hits + 1 WHERE key = ?'),
      upsert: db.prepare(`INSERT INTO cache_entries (key, namespace, alias, format, created_at, expires_at, last_used_at, size_bytes,
          response, usage, cost_usd, latency_ms, hits, semantic_key, embedding, signature, content_key, model_name)
        VALUES (@key, @namespace, @alias, @format, @now, @expires_at, @now, @size_bytes, @response, @usage, @cost_usd, @latency_ms, 0,
          @semantic_key, @embedding, @signature, @content_key, @model_name)
        ON CONFLICT (key) DO UPDATE SET created_at = @now, expires_at = @expires_at, last_used_at = @now, size_bytes = @size_bytes,
          response = @response, usage = @usage, cost_usd = @cost_usd, latency_ms = @latency_ms, hits = 0,
          semantic_key = @semantic_key, embedding = @embedding, signature = @signature, content_key = @content_key,
          model_name = @model_name`),
      contentRows: db.prepare<[string, number, number], { key: string; embedding: Buffer; signature: string }>(
        'SELECT key, embedding, signature FROM cache_entries WHERE content_key = ? AND expires_at > ? LIMIT ?',
      ),
      semanticRows: db.prepare<[number], { key: string; semantic_key: string; embedding: Buffer; signature: string }>(
        'SELECT key, semantic_key, embedding, signature FROM cache_entries WHERE semantic_key IS NOT NULL AND expires_at > ?',
      ),
      semanticOf: db.prepare<[string], { semantic_key: string | null }>('SELECT semantic_key FROM cache_entries WHERE key = ?'),
      sizeOf: db.prepare<[string], { size_bytes: number }>('SELECT size_bytes FROM cache_entries WHERE key = ?'),
      remove: db.prepare('DELETE FROM cache_entries WHERE key = ?'),
      expired: db.prepare<[number], { key: string; size_bytes: number }>('SELECT key, size_bytes FROM cache_entries WHERE expires_at <= ?'),
      oldest: db.prepare<[number], { key: string; size_bytes: number }>('SELECT key, size_bytes FROM cache_entries ORDER BY last_used_at LIMIT ?'),
      total: db.prepare<[], { total: number | null; count: number }>('SELECT sum(size_bytes) AS total, count(*) AS count FROM cache_entries'),
    };
    this.totalBytes = this.statements.total.get()?.total ?? 0;
  }

  /** Returns the live entry for `key` without counting a hit, or null. */
  peek(key: string): CacheEntry | null {
    const row = this.statements.get.get(key);
    return row && row.expires_at > this.now() ? fromRow(row) : null;
  }

  /** Returns the live entry for `key` and counts the hit, or null when there is none or it expired. */
  get(key: string): CacheEntry | null {
    const row = this.statements.get.get(key);
    if (!row) return null;
    const now = this.now();
    if (row.expires_at <= now) {
      this.delete(key, row.size_bytes);
      return null;
    }
    this.statements.touch.run(now, key);
    return { ...fromRow(row), lastUsedAt: now, hits: row.hits + 1 };
  }

  /**
   * Stores an entry, replacing one with the same key, then removes expired entries and, while the
   * total passes the cap, the least recently used ones. An entry larger than the cap is not stored.
   * Returns whether it was stored.
   */
  put(entry: NewCacheEntry): boolean {
    if (!(entry.ttlSeconds > 0)) throw new RangeError(`invalid cache ttl ${entry.ttlSeconds}: expected seconds above 0`);
    const response = JSON.stringify(entry.response);
    const usage = entry.usage === null ? null : JSON.stringify(entry.usage);
    // Everything the row stores that grows with the entry, so the cap bounds the file, not only the
    // responses: an embedding of 384 floats alone is 1.5 KiB.
    const semantic = entry.semantic;
    const semanticBytes =
      semantic === undefined
        ? 0
        : semantic.embedding.byteLength + Buffer.byteLength(semantic.signature) + semantic.semanticKey.length + semantic.contentKey.length;
    const sizeBytes =
      Buffer.byteLength(response) +
      (usage === null ? 0 : Buffer.byteLength(usage)) +
      entry.key.length +
      Buffer.byteLength(entry.namespace) +
      Buffer.byteLength(entry.alias) +
      Buffer.byteLength(entry.modelName ?? '') +
      semanticBytes;
    if (sizeBytes > this.maxBytes) return false;

    const now = this.now();
    this.db.transaction(() => {
      const previous = this.statements.sizeOf.get(entry.key)?.size_bytes ?? 0;
      this.statements.upsert.run({
        key: entry.key,
        namespace: entry.namespace,
        alias: entry.alias,
        format: entry.format,
        now,
        expires_at: now + Math.round(entry.ttlSeconds * 1000),
        size_bytes: sizeBytes,
        response,
        usage,
        cost_usd: entry.costUsd,
        latency_ms: entry.latencyMs,
        semantic_key: entry.semantic?.semanticKey ?? null,
        embedding: entry.semantic ? Buffer.from(entry.semantic.embedding.buffer, entry.semantic.embedding.byteOffset, entry.semantic.embedding.byteLength) : null,
        signature: entry.semantic?.signature ?? null,
        content_key: entry.semantic?.contentKey ?? null,
        model_name: entry.modelName ?? entry.alias,
      });
      this.totalBytes += sizeBytes - previous;
      this.evict(now);
    })();
    return true;
  }

  /** Removes every entry of a namespace, of a model name, or both; returns how many went. */
  invalidate(filter: { namespace?: string; alias?: string }): number {
    const where: string[] = [];
    const params: Record<string, string> = {};
    if (filter.namespace !== undefined) {
      // Sub-namespaces (sub:<name>@<owner>) go with their owner's namespace.
      where.push("(namespace = @namespace OR (namespace LIKE 'sub:%' AND substr(namespace, instr(namespace, '@') + 1) = @namespace))");
      params.namespace = filter.namespace;
    }
    if (filter.alias !== undefined) {
      // A wildcard model_name such as claude-* clears the entries of every id it served, and no
      // entries of another name that starts the same way.
      where.push('(alias = @alias OR model_name = @alias)');
      params.alias = filter.alias;
    }
    const condition = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const leaving = this.db.prepare(`SELECT key, semantic_key FROM cache_entries ${condition}`).all(params) as Array<{ key: string; semantic_key: string | null }>;
    const removed = this.db.prepare(`DELETE FROM cache_entries ${condition}`).run(params).changes;
    for (const row of leaving) this.onRemove(row.key, row.semantic_key);
    this.totalBytes = this.statements.total.get()?.total ?? 0;
    return removed;
  }

  /** Returns the number of entries and their total size in bytes. */
  size(): { entries: number; bytes: number } {
    const row = this.statements.total.get();
    return { entries: row?.count ?? 0, bytes: row?.total ?? 0 };
  }

  private evict(now: number): void {
    for (const row of this.statements.expired.all(now)) this.delete(row.key, row.size_bytes);
    while (this.totalBytes > this.maxBytes) {
      const victims = this.statements.oldest.all(16);
      if (victims.length === 0) break;
      for (const victim of victims) {
        if (this.totalBytes <= this.maxBytes) break;
        this.delete(victim.key, victim.size_bytes);
      }
    }
  }

  /** Returns the live entries that have semantic fields, for rebuilding the index at start. */
  semanticEntries(): Array<{ key: string; semanticKey: string; embedding: Float32Array; signature: string }> {
    return this.statements.semanticRows.all(this.now()).map((row) => ({
      key: row.key,
      semanticKey: row.semantic_key,
      embedding: toFloat32(row.embedding),
      signature: row.signature,
    }));
  }

  /** Returns the live entries with this content key, for the default lexical check. */
  contentCandidates(contentKey: string): SemanticCandidate[] {
    return this.statements.contentRows.all(contentKey, this.now(), MAX_CONTENT_CANDIDATES).map((row) => ({
      key: row.key,
      embedding: toFloat32(row.embedding),
      signature: row.signature,
    }));
  }

  private delete(key: string, sizeBytes: number): void {
    const semanticKey = this.statements.semanticOf.get(key)?.semantic_key ?? null;
    if (this.statements.remove.run(key).changes > 0) {
      this.totalBytes -= sizeBytes;
      this.onRemove(key, semanticKey);
    }
  }
}

function toFloat32(bytes: Buffer): Float32Array {
  // Copied, because the Buffer may share a pool whose offset is not 4-byte aligned.
  return new Float32Array(new Uint8Array(bytes).buffer);
}

function fromRow(row: EntryRow): CacheEntry {
  return {
    key: row.key,
    namespace: row.namespace,
    alias: row.alias,
    format: row.format,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    sizeBytes: row.size_bytes,
    response: JSON.parse(row.response) as Record<string, unknown>,
    usage: row.usage === null ? null : (JSON.parse(row.usage) as UsageRecord),
    costUsd: row.cost_usd,
    latencyMs: row.latency_ms,
    hits: row.hits,
    signature: row.signature,
  };
}
