/**
 * The response cache in the request path (step 5): whether a request may use the cache, its key,
 * serving a hit (also as a replayed stream) and storing a successful response.
 */
import type { ServerResponse } from 'node:http';
import type { BodyCacheControls } from '../cache/body-controls';
import { cacheNamespace, exactCacheKey, HEADERS_IN_THE_KEY, subNamespace } from '../cache/key';
import { replayAnthropicStream, replayOpenAIStream } from '../cache/replay';
import type { CacheSettings } from '../cache/settings';
import type { LexicalSignature } from '../cache/lexical';
import type { DescribedQuery, SemanticQuery, SemanticSource, SemanticTier } from '../cache/semantic';
import type { CacheEntry, CacheStore } from '../cache/store';
import type { RequestScan } from '../guard/guard';
import type { RedactionMapping } from '../guard/redact';
import { restoreResponseBody } from '../guard/restore';
import type { DestinationClass } from '../models/table';
import type { WireFormat } from '../providers/types';
import type { RequestContext } from './context';
import { setGuardHeaders } from './guard-step';
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
      /** The model name the response is stored and cleared under: the resolved model_name, or for a wildcard entry the requested id. */
      model: string;
      deploymentIds: string[];
      /** The request headers in the key (HEADERS_IN_THE_KEY), lower-cased values. */
      headers: Record<string, string>;
      maxAgeMs: number | null;
      refresh: boolean;
      /** The body the key is computed over and the semantic tier reads: the client's, or its redacted copy. */
      body: Record<string, unknown>;
      /** Placeholder → this request's value when the body is a redacted copy; empty otherwise. */
      mapping: RedactionMapping;
      /** The destination classes of the plan's deployments, which a hit reports to the guard. */
      destinations: DestinationClass[];
      /** False when the request may read the cache but its response must not be stored. */
      store: boolean;
      /** Seconds a stored response is served. */
      ttlSeconds: number;
    };

/** The semantic tier's results for a request, kept to index its response after a miss. */
export interface SemanticState extends DescribedQuery {
  query: SemanticQuery;
}

function headerText(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value.join(',') : (value ?? '')).toLowerCase();
}

const NO_MAPPING: RedactionMapping = new Map();

/**
 * Decides whether a request reads and writes the cache. Never cached: requests that send
 * `Cache-Control: no-cache` or `no-store` or `x-airlock-cache: off`, requests with a block or
 * route_local finding at any destination, and requests the guard redacts unless
 * `store_redacted` allows them (see guardedCacheBody). `x-airlock-cache: refresh` skips the
 * lookup but stores the new answer; `Cache-Control: max-age=N` serves only entries at most N
 * seconds old. LiteLLM's body controls (`bodyControls`) map onto the same switches.
 */
export function decideCache(
  cache: ResponseCache,
  ctx: RequestContext,
  surface: ChatSurface,
  request: ParsedChatRequest,
  plan: RoutePlan,
  scan: RequestScan | null,
  headers: Record<string, string | string[] | undefined>,
  bodyControls: BodyCacheControls | null = null,
): CacheDecision {
  const control = headerText(headers['cache-control']);
  const own = headerText(headers['x-airlock-cache']);
  if (own === 'off') return { kind: 'skip', reason: 'x-airlock-cache: off' };
  // An unknown value skips the cache, so a typo in "off" never serves a cached answer.
  if (own !== '' && own !== 'on' && own !== 'refresh') return { kind: 'skip', reason: `unknown x-airlock-cache value (use off or refresh)` };
  if (/\bno-store\b/.test(control)) return { kind: 'skip', reason: 'cache-control: no-store' };
  if (/\bno-cache\b/.test(control)) return { kind: 'skip', reason: 'cache-control: no-cache' };
  if (bodyControls?.useCache === false) return { kind: 'skip', reason: 'cache: use-cache false' };
  if (cache.settings.optIn && bodyControls?.useCache !== true) return { kind: 'skip', reason: 'opt-in only (send cache: {"use-cache": true})' };
  const guarded = scan === null ? { body: request.body, mapping: NO_MAPPING } : guardedCacheBody(cache.settings, request, plan, scan);
  if ('skip' in guarded) return { kind: 'skip', reason: guarded.skip };
  if (ctx.principal === null) return { kind: 'skip', reason: 'no principal' };

  const headerMaxAge = /\bmax-age=(\d+)\b/.exec(control);
  const maxAges = [headerMaxAge ? Number(headerMaxAge[1]) : null, bodyControls?.maxAgeSeconds ?? null].filter((age) => age !== null);
  const ownerNamespace = cacheNamespace(cache.settings.namespace, ctx.principal);
  // A namespace from the body only narrows the owner's, so it can never reach another team's entries.
  const namespace = bodyControls?.namespace ? subNamespace(ownerNamespace, bodyControls.namespace) : ownerNamespace;
  // A request may shorten the configured time to live but never extend it.
  const ttlSeconds = Math.min(bodyControls?.ttlSeconds ?? cache.settings.ttlSeconds, cache.settings.ttlSeconds);
  // A wildcard entry's deployments share one id but send the requested model id, so both count.
  const deploymentIds = plan.primary.map((deployment) => `${deployment.id}=${deployment.model}`);
  const keyHeaders = Object.fromEntries(
    HEADERS_IN_THE_KEY.map((name) => [name, headerText(headers[name])] as const).filter(([, value]) => value !== ''),
  );
  const key = exactCacheKey({ namespace, format: surface.format, alias: plan.alias, deploymentIds, body: guarded.body, headers: keyHeaders });
  return {
    kind: 'use',
    key,
    namespace,
    alias: plan.alias,
    // auto stores under the model it routed to, and a wildcard entry under the id requested.
    model: plan.alias.includes('*') ? request.alias : plan.alias,
    deploymentIds,
    headers: keyHeaders,
    maxAgeMs: maxAges.length > 0 ? Math.min(...maxAges) * 1000 : null,
    refresh: own === 'refresh' || bodyControls?.refresh === true,
    body: guarded.body,
    mapping: guarded.mapping,
    destinations: [...new Set(plan.primary.map((deployment) => deployment.destination))],
    store: bodyControls?.noStore !== true && ttlSeconds > 0,
    ttlSeconds,
  };
}

/**
 * Returns the body a request with guard findings is cached under, or why it is not cached.
 *
 * A block or route_local finding at any destination skips the cache. A request that only has
 * allowed findings is cached as it is. A redacted request is cached only when
 * `store_redacted` is on and all deployments of the plan share one destination class that
 * redacts, because only then does every deployment receive the same redacted body. Its key is
 * computed over that body: placeholders are numbered per type in order of appearance, so two
 * requests that differ only in the redacted values share the key.
 */
function guardedCacheBody(
  settings: CacheSettings,
  request: ParsedChatRequest,
  plan: RoutePlan,
  scan: RequestScan,
): { body: Record<string, unknown>; mapping: RedactionMapping } | { skip: string } {
  const decisions = [scan.decision('cloud'), scan.decision('local')];
  if (decisions.some((decision) => decision.blocking.length + decision.routeLocal.length > 0)) return { skip: 'guard (a finding that policy blocks or keeps on local models)' };
  if (decisions.every((decision) => decision.redacting.length === 0)) return { body: request.body, mapping: NO_MAPPING };
  if (!settings.storeRedacted) return { skip: 'guard redaction (set airlock.cache.store_redacted: true to cache redacted requests)' };

  const classes = new Set(plan.primary.map((deployment) => deployment.destination));
  const [destination] = classes;
  if (classes.size !== 1 || destination === undefined) {
    return { skip: 'guard redaction, and the model has both cloud and local deployments' };
  }
  const redacted = scan.redactedBody(destination);
  // The values go to this model unredacted, as policy allows for its class, so an answer could
  // carry them and is not stored.
  if (redacted === null) return { skip: `guard findings that the model's ${destination} deployments receive unredacted` };
  return { body: redacted.body, mapping: redacted.mapping };
}

/** Shortest time between two logged embedder failures; the ones between are counted. */
const EMBEDDER_FAILURE_LOG_INTERVAL_MS = 60_000;
const embedderFailures = new WeakMap<ResponseCache, { loggedAt: number; unlogged: number }>();

/**
 * Logs an embedder failure, at most once a minute per cache with the count of failures since the
 * last line, because a down embedder fails every request.
 */
function reportEmbedderFailure(cache: ResponseCache, ctx: RequestContext, error: unknown): void {
  const now = Date.now();
  const state = embedderFailures.get(cache);
  if (state !== undefined && now - state.loggedAt < EMBEDDER_FAILURE_LOG_INTERVAL_MS) {
    state.unlogged++;
    return;
  }
  const unlogged = state?.unlogged ?? 0;
  embedderFailures.set(cache, { loggedAt: now, unlogged: 0 });
  ctx.log.warn({ err: error, failuresNotLogged: unlogged }, 'the cache embedder failed; treating the request as a cache miss');
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
  const query = tier.query(format, decision.namespace, decision.alias, decision.deploymentIds, body, decision.headers);
  if ('skip' in query) return { hit: null, state: null, skip: query.skip };
  let described: DescribedQuery;
  try {
    described = await tier.describe(query);
  } catch (error) {
    reportEmbedderFailure(cache, ctx, error);
    return { hit: null, state: null, skip: 'embedder failed' };
  }
  const state: SemanticState = { query, ...described };
  if (decision.refresh) return { hit: null, state, skip: null };
  const source: SemanticSource = {
    signatureOf: (key) => {
      const entry = cache.store.peek(key);
      return entry?.signature ? (JSON.parse(entry.signature) as LexicalSignature) : null;
    },
    contentCandidates: (contentKey) => cache.store.contentCandidates(contentKey),
  };
  const found = tier.find(query, described, source);
  if (found === null) return { hit: null, state, skip: null };
  const entry = cache.store.get(found.key);
  if (entry === null) return { hit: null, state, skip: null };
  if (decision.maxAgeMs !== null && Date.now() - entry.createdAt > decision.maxAgeMs) return { hit: null, state, skip: null };
  return { hit: { entry, score: found.score }, state, skip: null };
}

/** Returns the model that wrote a stored answer, as the provider named it, or the entry's model name. */
export function storedModelOf(entry: CacheEntry): string {
  const model = entry.response.model;
  return typeof model === 'string' && /^[\x20-\x7e]+$/.test(model) ? model : entry.alias;
}

/** Sets x-airlock-cache: hit-exact, miss, or skip with its reason. */
export function setCacheHeader(res: ServerResponse, status: string): void {
  res.setHeader('x-airlock-cache', status);
}

/**
 * Runs step 5 for a request: serves an exact hit, else a semantic hit, else sets the miss or skip
 * header. Returns whether a hit was served, and after a miss the semantic state for storing the
 * response. `recordHit` records a served entry's savings.
 */
export async function answerFromCache(
  cache: ResponseCache,
  ctx: RequestContext,
  surface: ChatSurface,
  request: ParsedChatRequest,
  decision: CacheDecision,
  res: ServerResponse,
  recordHit: (entry: CacheEntry) => void,
): Promise<{ served: boolean; semantic: SemanticState | null }> {
  if (decision.kind === 'skip') {
    ctx.cacheStatus = 'skip';
    setCacheHeader(res, `skip; reason=${decision.reason}`);
    return { served: false, semantic: null };
  }
  const entry = lookup(cache, decision);
  if (entry !== null) {
    recordHit(entry);
    serveHit(ctx, surface, request, decision, entry, res);
    return { served: true, semantic: null };
  }
  // The redacted body, when there is one, so that no redacted value is embedded or stored in the
  // lexical signature.
  const semantic = await semanticLookup(cache, decision, ctx, surface.format, decision.body);
  if (semantic.hit !== null) {
    recordHit(semantic.hit.entry);
    serveHit(ctx, surface, request, decision, semantic.hit.entry, res, semantic.hit.score);
    return { served: true, semantic: null };
  }
  ctx.cacheStatus = 'miss';
  setCacheHeader(res, 'miss');
  return { served: false, semantic: semantic.state };
}

/**
 * Writes a hit: the stored body, or for a streaming request the body replayed as a stream. A
 * stored body keeps the placeholders of the request that stored it, so this request's own values
 * are restored into a copy first. A request with guard findings gets the guard headers, and its
 * guard events name the plan's destination classes.
 */
export function serveHit(
  ctx: RequestContext,
  surface: ChatSurface,
  request: ParsedChatRequest,
  decision: CacheDecision & { kind: 'use' },
  entry: CacheEntry,
  res: ServerResponse,
  semanticScore: number | null = null,
): void {
  const status = semanticScore === null ? 'hit-exact' : 'hit-semantic';
  ctx.cacheStatus = status;
  const model = storedModelOf(entry);
  ctx.cacheHitOf = { costUsd: entry.costUsd, latencyMs: entry.latencyMs, model };
  res.setHeader('x-airlock-model', model);
  ctx.usage = entry.usage;
  ctx.costUsd = 0;
  ctx.flags.add('cache_hit');
  setCacheHeader(res, status);
  if (semanticScore !== null) res.setHeader('x-airlock-cache-score', semanticScore.toFixed(4));
  res.setHeader('x-airlock-cache-age', String(Math.max(0, Math.floor((Date.now() - entry.createdAt) / 1000))));
  if (ctx.guardScan !== null) {
    for (const destination of decision.destinations) ctx.guardDestinations.add(destination);
    setGuardHeaders(res, ctx);
  }
  const response = decision.mapping.size === 0 ? entry.response : restoreResponseBody(structuredClone(entry.response), decision.mapping);
  ctx.markFirstToken();
  ctx.httpStatus = 200;
  if (!request.stream) {
    const text = JSON.stringify(response);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  const includeUsage = (request.body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  const text = surface.format === 'openai-chat' ? replayOpenAIStream(response, includeUsage) : replayAnthropicStream(response);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  res.end(text);
}
