/**
 * The semantic tier of the response cache, tried after an exact miss. Only the last user message
 * is embedded. Everything else (namespace, model, system prompt, earlier turns, tools and
 * parameters, embedder name and version) goes into the semantic key, an exact hash that selects
 * the index namespace, so two requests that differ there can never match. A candidate is served
 * when its cosine similarity reaches the threshold and its lexical signature equals the query's.
 *
 * Under the default content-words check a hit must have the query's content words, so the
 * candidates are read from SQLite by content key and no vector is kept in memory. Under the
 * signature check any entry of the semantic key may match, so the vectors are searched in an
 * in-memory index rebuilt from SQLite at start.
 */
import { createHash } from 'node:crypto';
import type { WireFormat } from '../providers/types';
import { type Embedder, HashedNgramEmbedder } from './embedders';
import { exactCacheKey } from './key';
import { foldedContent, withOneFormOfSynonyms } from './content-words';
import { compareSignatures, extractSignature, type LexicalCheck, type LexicalSignature } from './lexical';
import { cosineSimilarity } from './similarity';
import type { CacheStore, SemanticCandidate } from './store';
import { VectorIndex } from './vector-index';

export interface SemanticSettings {
  enabled: boolean;
  /** Cosine similarity a hit needs, 0 to 1. */
  threshold: number;
  /** Requests with more user messages than this skip the tier. */
  maxTurns: number;
  /** Requests with a higher temperature skip the tier. */
  maxTemperature: number;
  lexicalCheck: LexicalCheck;
}

/**
 * Version of the lexical signature, part of the semantic key, so entries stored with an older
 * signature are never compared with a query's newer one.
 */
const SIGNATURE_VERSION = 3;

/** Candidates above the threshold that get the lexical check, best first. */
const CANDIDATES = 16;

/**
 * Returns the text an embedder gets for a query. The built-in embedder compares wording, so it
 * gets each synonym the lexical check treats as one word in that one form. A model embedder gets
 * the text as written.
 */
export function embeddingInput(embedder: Embedder, text: string): string {
  return embedder instanceof HashedNgramEmbedder ? withOneFormOfSynonyms(text) : text;
}

/** Read access to stored entries: the SQLite cache store, or a stand-in in tests. */
export interface SemanticSource {
  /** The stored signature of an entry, or null when it has none or left the store. */
  signatureOf(key: string): LexicalSignature | null;
  /** Live entries with this content key. */
  contentCandidates(contentKey: string): SemanticCandidate[];
}

/** The embedding, signature and content key of a query text, kept to index the response after a miss. */
export interface DescribedQuery {
  vector: Float32Array;
  signature: LexicalSignature;
  /** Hash of the semantic key and the folded content words. */
  contentKey: string;
}

/** The part of a request the tier reads: the last user message and the key of everything else. */
export interface SemanticQuery {
  text: string;
  semanticKey: string;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns the text of a content value when it is text only, or null when it contains anything else. */
function textOnly(content: unknown): string | null {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return null;
  const texts: string[] = [];
  for (const part of content) {
    if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string') return null;
    texts.push(part.text);
  }
  return texts.join('\n');
}

/** Returns whether any message carries a tool result or a tool call, which the tier skips. */
function hasToolTurns(messages: JsonObject[]): boolean {
  return messages.some((message) => {
    if (message.role === 'tool' || message.tool_calls !== undefined) return true;
    return Array.isArray(message.content) && message.content.some((part) => isObject(part) && (part.type === 'tool_result' || part.type === 'tool_use'));
  });
}

export class SemanticTier {
  /** Created with the first vector's length, because a server's embedder reports no size up front. */
  private index: VectorIndex | null = null;

  constructor(
    readonly settings: SemanticSettings,
    private readonly embedder: Embedder & { embedOne?(text: string): Float32Array },
  ) {}

  private indexFor(vector: Float32Array): VectorIndex | null {
    this.index ??= new VectorIndex(vector.length);
    return this.index.dimension === vector.length ? this.index : null;
  }

  private get searchesVectors(): boolean {
    return this.settings.lexicalCheck === 'signature';
  }

  /**
   * Loads the stored entries into the vector index when the signature check needs one; call once
   * at start. Returns how many were loaded. Entries of another size are skipped.
   */
  rebuild(store: CacheStore): number {
    if (!this.searchesVectors) return 0;
    let loaded = 0;
    for (const entry of store.semanticEntries()) {
      const index = this.indexFor(entry.embedding);
      if (index === null) continue;
      index.add(entry.semanticKey, entry.key, entry.embedding);
      loaded++;
    }
    return loaded;
  }

  /** Drops an entry that left the store. */
  remove(key: string, semanticKey: string | null): void {
    if (semanticKey !== null) this.index?.remove(semanticKey, key);
  }

  /**
   * Returns the query for a request, or the reason it skips the tier: images or tool turns, more
   * user turns than allowed, a temperature above the maximum, or no user message last.
   */
  query(
    format: WireFormat,
    namespace: string,
    alias: string,
    deploymentIds: readonly string[],
    body: JsonObject,
    headers: Readonly<Record<string, string>> = {},
  ): SemanticQuery | { skip: string } {
    const messages = Array.isArray(body.messages) ? (body.messages as unknown[]).filter(isObject) : [];
    const last = messages[messages.length - 1];
    if (last === undefined || last.role !== 'user') return { skip: 'last message is not from the user' };
    const text = textOnly(last.content);
    if (text === null || text.trim() === '') return { skip: 'not text only' };
    if (hasToolTurns(messages)) return { skip: 'tool turns' };
    if (messages.filter((message) => message.role === 'user').length > this.settings.maxTurns) return { skip: 'too many turns' };
    const temperature = typeof body.temperature === 'number' ? body.temperature : 1;
    if (temperature > this.settings.maxTemperature) return { skip: 'temperature' };

    const rest = { ...body, messages: [...messages.slice(0, -1), { ...last, content: '' }] };
    const semanticKey = exactCacheKey({
      namespace: `${namespace}|${this.embedder.name}|${this.embedder.version}|lexical-${SIGNATURE_VERSION}`,
      format,
      alias,
      deploymentIds,
      body: rest,
      headers,
    });
    return { text, semanticKey };
  }

  /** Returns the embedding, signature and content key of a query text. */
  async describe(query: SemanticQuery): Promise<DescribedQuery> {
    const input = embeddingInput(this.embedder, query.text);
    const vector = this.embedder.embedOne ? this.embedder.embedOne(input) : (await this.embedder.embed([input]))[0]!;
    const signature = extractSignature(query.text);
    const folded = foldedContent(signature.content ?? []);
    const contentKey = createHash('sha256').update(query.semanticKey).update('\n').update(folded).digest('hex');
    return { vector, signature, contentKey };
  }

  /**
   * Returns the best stored key whose similarity reaches the threshold and whose signature equals
   * the query's, with its score; null when none does.
   */
  find(query: SemanticQuery, described: DescribedQuery, source: SemanticSource): { key: string; score: number } | null {
    if (!this.searchesVectors) return this.findByContent(described, source);
    const index = this.indexFor(described.vector);
    if (index === null) return null;
    const candidates = index.search(query.semanticKey, described.vector, CANDIDATES, this.settings.threshold);
    for (const candidate of candidates) {
      const signature = source.signatureOf(candidate.id);
      if (signature === null) continue;
      if (compareSignatures(described.signature, signature, 'signature').equal) return { key: candidate.id, score: candidate.score };
    }
    return null;
  }

  private findByContent(described: DescribedQuery, source: SemanticSource): { key: string; score: number } | null {
    const scored: Array<{ key: string; score: number; signature: string }> = [];
    for (const candidate of source.contentCandidates(described.contentKey)) {
      // An entry embedded by a model with another vector size cannot be compared.
      if (candidate.embedding.length !== described.vector.length) continue;
      const score = cosineSimilarity(described.vector, candidate.embedding);
      if (score >= this.settings.threshold) scored.push({ key: candidate.key, score, signature: candidate.signature });
    }
    scored.sort((left, right) => right.score - left.score);
    for (const candidate of scored) {
      const signature = JSON.parse(candidate.signature) as LexicalSignature;
      if (compareSignatures(described.signature, signature, 'content_words').equal) return { key: candidate.key, score: candidate.score };
    }
    return null;
  }

  /** Indexes a stored entry when the signature check searches vectors. */
  add(semanticKey: string, key: string, vector: Float32Array): void {
    if (this.searchesVectors) this.indexFor(vector)?.add(semanticKey, key, vector);
  }
}
