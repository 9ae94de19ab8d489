/**
 * The write side of the response cache: whether a successful response is stored, the form it is
 * stored in (placeholders for redacted values, usage filled in), and the x-airlock-cache reason
 * when it is not stored.
 */
import type { ServerResponse } from 'node:http';
import { canonicalUsageToOpenAI } from '../formats/openai-chat/usage';
import { redactResponseBody } from '../guard/restore';
import { setCacheHeader, type CacheDecision, type ResponseCache, type SemanticState } from './cache-step';
import type { RequestContext } from './context';
import type { ChatSurface } from './surface';

/**
 * Returns why a response the provider is about to return will not be stored, or null when it
 * will be. Known once the attempts ran, before the response is written.
 */
export function notStoredReason(ctx: RequestContext, decision: CacheDecision & { kind: 'use' }): string | null {
  if (!decision.store) return decision.ttlSeconds > 0 ? 'cache: no-store' : 'cache: ttl 0';
  if (ctx.fallbackFrom !== null) return 'answered by a fallback model';
  if (ctx.budgetDowngradedFrom !== null) return "answered by a budget's downgrade model";
  return null;
}

/** Adds to x-airlock-cache: miss why the response will not be stored, when it will not. */
export function setMissHeader(res: ServerResponse, ctx: RequestContext, cached: CacheDecision | null): void {
  if (cached?.kind !== 'use') return;
  const reason = notStoredReason(ctx, cached);
  if (reason !== null) setCacheHeader(res, `miss; not stored: ${reason}`);
}

/** The stored form of a response, or the reason it is not stored. */
export type PreparedAnswer = { reason: string } | { response: Record<string, unknown> };

/**
 * Returns the form a successful response is stored in, or why it is not stored. `containsFinding`
 * reports whether the guard finds anything in a text: a redacted request's response is not stored
 * when the guard still finds a value in its stored form.
 */
export function prepareAnswer(
  cache: ResponseCache,
  ctx: RequestContext,
  surface: ChatSurface,
  cached: CacheDecision & { kind: 'use' },
  body: Record<string, unknown>,
  containsFinding: (text: string) => boolean,
): PreparedAnswer {
  // The key names the requested model and its deployments, so a response from a fallback or a
  // budget's downgrade model would later be served as that model's response.
  const reason = notStoredReason(ctx, cached);
  if (reason !== null) return { reason };
  // `body` is what the client received, with this request's values restored. The stored copy
  // gets its placeholders back by replacing each value. Keeping the pre-restore form instead
  // would need a second stream encoder, because a stream is restored event by event before it
  // is encoded and the cache receives only the encoded text the client got. Replacing also
  // catches a value that reached the response without a placeholder.
  const response = cached.mapping.size === 0 ? body : redactResponseBody(structuredClone(body), cached.mapping);
  const text = JSON.stringify(response);
  if (cached.mapping.size > 0 && containsFinding(text)) return { reason: 'the guard finds a value in the answer' };
  if (Buffer.byteLength(text) > cache.settings.maxBytes) return { reason: 'the answer is larger than max_bytes' };
  // A stream whose client did not ask for usage assembles into a body without it, and every
  // later hit, streamed or not, should report the tokens the answer took.
  if (surface.format === 'openai-chat' && response.usage === undefined && ctx.usage !== null) {
    response.usage = canonicalUsageToOpenAI(ctx.usage);
  }
  return { response };
}

/**
 * Prepares a non-streamed response for the cache before it is written, so that x-airlock-cache
 * can report why it will not be stored, and returns the step that stores it once written.
 */
export function planStore(
  cache: ResponseCache,
  ctx: RequestContext,
  surface: ChatSurface,
  cached: CacheDecision | null,
  body: Record<string, unknown>,
  semantic: SemanticState | null,
  containsFinding: (text: string) => boolean,
  res: ServerResponse,
): () => void {
  if (cached?.kind !== 'use') return () => {};
  const prepared = prepareAnswer(cache, ctx, surface, cached, body, containsFinding);
  if ('reason' in prepared) {
    setCacheHeader(res, `miss; not stored: ${prepared.reason}`);
    return () => {};
  }
  return () => writeAnswer(cache, ctx, surface, cached, prepared.response, semantic);
}

/** Stores a successful response, such as an assembled stream. A failed write is logged and never fails the request. */
export function storeAnswer(
  cache: ResponseCache,
  ctx: RequestContext,
  surface: ChatSurface,
  cached: CacheDecision & { kind: 'use' },
  body: Record<string, unknown>,
  semantic: SemanticState | null,
  containsFinding: (text: string) => boolean,
): void {
  const prepared = prepareAnswer(cache, ctx, surface, cached, body, containsFinding);
  if ('reason' in prepared) {
    ctx.log.debug({ reason: prepared.reason }, 'streamed response not cached');
    return;
  }
  writeAnswer(cache, ctx, surface, cached, prepared.response, semantic);
}

function writeAnswer(
  cache: ResponseCache,
  ctx: RequestContext,
  surface: ChatSurface,
  cached: CacheDecision & { kind: 'use' },
  response: Record<string, unknown>,
  semantic: SemanticState | null,
): void {
  try {
    const semanticFields =
      semantic === null
        ? undefined
        : { semanticKey: semantic.query.semanticKey, embedding: semantic.vector, signature: JSON.stringify(semantic.signature), contentKey: semantic.contentKey };
    const stored = cache.store.put({
      ...(semanticFields === undefined ? {} : { semantic: semanticFields }),
      key: cached.key,
      namespace: cached.namespace,
      alias: cached.model,
      modelName: cached.alias,
      format: surface.format,
      response,
      usage: ctx.usage,
      costUsd: ctx.costUsd,
      latencyMs: ctx.elapsedMs(),
      ttlSeconds: cached.ttlSeconds,
    });
    if (stored && semantic !== null) cache.semantic?.add(semantic.query.semanticKey, cached.key, semantic.vector);
  } catch (error) {
    ctx.log.error({ err: error }, 'failed to store the response in the response cache');
  }
}
