/**
 * The exact response cache in the request path (step 5): whether a request may use the cache,
 * its key, serving a hit (also as a replayed stream) and storing a successful response.
 */
import type { ServerResponse } from 'node:http';
import { cacheNamespace, exactCacheKey } from '../cache/key';
import { replayAnthropicStream, replayOpenAIStream } from '../cache/replay';
import type { CacheSettings } from '../cache/settings';
import type { LexicalSignature } from '../cache/lexical';
import type { SemanticQuery, SemanticTier } from '../cache/semantic';
import type { CacheEntry, CacheStore } from '../cache/store';
import type { WireFormat } from '../providers/types';
import type { RequestScan } from '../guard/guard';
import type { RequestContext } from './context';
import type { RoutePlan } from './router';
import type { ChatSurface, ParsedChatRequest } from './surface';

export interface ResponseCache {
  settings: CacheSettings;
  store: CacheStore;
  /** The semantic tier, or null when it is off. */
  semantic: SemanticTier | null;
}

export type CacheDecision =
  | { kind: 'skip'; reason: string }
  | {
      kind: 'use';
      key: string;
      namespace: string;
      alias: string;
      deploymentIds: string[];
      maxAgeMs: number | null;
      refresh: boolean;
    };

/** The semantic tier's results for a request, kept to index its response after a miss. */
export interface SemanticState {
  query: SemanticQuery;
  vector: Float32Array;
  signature: LexicalSignature;
}

function headerText(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value.join(',') : (value ?? '')).toLowerCase();
}

/**
 * Decides whether a request reads and writes the cache. Never cached: requests that send
 * `Cache-Control: no-cache` or `no-store` or `x-airlock-cache: off`, and requests the guard acts
 * on at any destination, because their responses carry values that belong to that request only.
 * `x-airlock-cache: refresh` skips the lookup but stores the new answer; `Cache-Control:
 * max-age=N` serves only entries at most N seconds old.
 */
export function decideCache(
  cache: ResponseCache,
  ctx: RequestContext,
  surface: ChatSurface,
  request: ParsedChatRequest,
  plan: RoutePlan,
  scan: RequestScan | null,
  headers: Record<string, string | string[] | undefined>,
): CacheDecision {
  const control = headerText(headers['cache-control']);
  const own = headerText(headers['x-airlock-cache']);
  if (own === 'off') return { kind: 'skip', reason: 'x-airlock-cache: off' };
  // An unknown value skips the cache, so a typo in "off" never serves a cached answer.
  if (own !== '' && own !== 'on' && own !== 'refresh') return { kind: 'skip', reason: `unknown x-airlock-cache value (use off or refresh)` };
  if (/\bno-store\b/.test(control)) return { kind: 'skip', reason: 'cache-control: no-store' };
  if (/\bno-cache\b/.test(control)) return { kind: 'skip', reason: 'cache-control: no-cache' };
  if (scan !== null) {
    for (const destination of ['cloud', 'local'] as const) {
      const decision = scan.decision(destination);
      if (decision.redacting.length + decision.blocking.length + decision.routeLocal.length > 0) return { kind: 'skip', reason: 'guard' };
    }
  }
  if (ctx.principal === null) return { kind: 'skip', reason: 'no principal' };

  const maxAge = /\bmax-age=(\d+)\b/.exec(control);
  const namespace = cacheNamespace(cache.settings.namespace, ctx.principal);
  const deploymentIds = plan.primary.map((deployment) => deployment.id);
  const key = exactCacheKey({ namespace, format: surface.format, alias: plan.alias, deploymentIds, body: request.body });
  return { kind: 'use', key, namespace, alias: plan.alias, deploymentIds, maxAgeMs: maxAge ? Number(maxAge[1]) * 1000 : null, refresh: own === 'refresh' };
}

/** Returns the entry for a request that may read the cache, or null on a miss. */
export function lookup(cache: ResponseCache, decision: CacheDecision): CacheEntry | null {
  if (decision.kind !== 'use' || decision.refresh) return null;
  const entry = cache.store.get(decision.key);
  if (entry === null) return null;
  if (decision.maxAgeMs !== null && Date.now() - entry.createdAt > decision.maxAgeMs) return null;
  return entry;
}

/**
 * Looks a request up in the semantic tier after an exact miss. Returns the hit with its score,
 * and the computed state for indexing the answer later. An embedder failure is logged and counts
 * as a miss, so the request still goes to the provider.
 */
export async function semanticLookup(
  cache: ResponseCache,
  decision: CacheDecision & { kind: 'use' },
  ctx: RequestContext,
  format: WireFormat,
  body: Record<string, unknown>,
): Promise<{ hit: { entry: CacheEntry; score: number } | null; state: SemanticState | null; skip: string | null }> {
  const tier = cache.semantic;
  if (tier === null) return { hit: null, state: null, skip: null };
  const query = tier.query(format, decision.namespace, decision.alias, decision.deploymentIds, body);
  if ('skip' in query) return { hit: null, state: null, skip: query.skip };
  let described: { vector: Float32Array; signature: LexicalSignature };
  try {
    described = await tier.describe(query.text);
  } catch (error) {
    ctx.log.warn({ err: error }, 'the cache embedder failed; treating the request as a cache miss');
    return { hit: null, state: null, skip: 'embedder failed' };
  }
  const state: SemanticState = { query, vector: described.vector, signature: described.signature };
  if (decision.refresh) return { hit: null, state, skip: null };
  const found = tier.find(query, described, (key) => {
    const entry = cache.store.peek(key);
    return entry?.signature ? (JSON.parse(entry.signature) as LexicalSignature) : null;
  });
  if (found === null) return { hit: null, state, skip: null };
  const entry = cache.store.get(found.key);
  if (entry === null) return { hit: null, state, skip: null };
  if (decision.maxAgeMs !== null && Date.now() - entry.createdAt > decision.maxAgeMs) return { hit: null, state, skip: null };
  return { hit: { entry, score: found.score }, state, skip: null };
}

/** Sets x-airlock-cache: hit-exact, miss, or skip with its reason. */
export function setCacheHeader(res: ServerResponse, status: string): void {
  res.setHeader('x-airlock-cache', status);
}

/** Writes a hit: the stored body, or for a streaming request the body replayed as a stream. */
export function serveHit(
  ctx: RequestContext,
  surface: ChatSurface,
  request: ParsedChatRequest,
  entry: CacheEntry,
  res: ServerResponse,
  semanticScore: number | null = null,
): void {
  const status = semanticScore === null ? 'hit-exact' : 'hit-semantic';
  ctx.cacheStatus = status;
  ctx.usage = entry.usage;
  ctx.costUsd = 0;
  ctx.flags.add('cache_hit');
  setCacheHeader(res, status);
  if (semanticScore !== null) res.setHeader('x-airlock-cache-score', semanticScore.toFixed(4));
  res.setHeader('x-airlock-cache-age', String(Math.max(0, Math.floor((Date.now() - entry.createdAt) / 1000))));
  ctx.markFirstToken();
  ctx.httpStatus = 200;
  if (!request.stream) {
    const text = JSON.stringify(entry.response);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  const includeUsage = (request.body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  const text = surface.format === 'openai-chat' ? replayOpenAIStream(entry.response, includeUsage) : replayAnthropicStream(entry.response);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  res.end(text);
}
