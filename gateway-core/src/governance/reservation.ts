/**
 * The worst-case cost a request reserves against its budgets before it is sent, at the prices
 * of the deployment that attempt uses. The reservation is settled to the real cost later, so it
 * only has to be an upper bound that is not far above what the request can cost.
 */
import type { ModelInfo } from '../models/table';

/** The highest-priced prompt-cache write a request contains. */
export type PromptCachingTier = 'none' | '5m' | '1h';

export type InboundFormat = 'openai-chat' | 'anthropic-messages';

/**
 * Output tokens reserved when neither the request nor the model table gives a limit. Every chat
 * model in the catalog has a limit, so this applies to a deployment whose config sets prices but
 * no max output tokens. 4,096 is the lowest limit in the catalog (gpt-4-turbo, claude-3-haiku).
 * NOTE: a model with a higher limit can write more than this, and then the settled cost exceeds
 * the reservation.
 */
export const FALLBACK_MAX_OUTPUT_TOKENS = 4096;

export interface WorstCaseInput {
  modelInfo: ModelInfo;
  /** Estimated prompt tokens, cached or not. */
  promptTokens: number;
  /** The request's max_tokens or max_completion_tokens, or undefined or null when it sets none. */
  maxOutputTokens?: number | null;
  promptCaching: PromptCachingTier;
}

export interface WorstCaseCost {
  /** USD to reserve: 0 for a free (local) model, null when the model's price is unknown. */
  usd: number | null;
  inputUsd: number | null;
  outputUsd: number | null;
  /** Output tokens the reservation covers. */
  outputTokens: number;
}

/**
 * Computes the cost of a request that bills every prompt token at the highest input rate it
 * could incur and writes its full output limit. The output limit is the request's own, else the
 * model's `maxOutputTokens`, else FALLBACK_MAX_OUTPUT_TOKENS.
 * Throws RangeError for a negative or non-integer token count.
 */
export function worstCaseCost(input: WorstCaseInput): WorstCaseCost {
  const { modelInfo, promptTokens, maxOutputTokens, promptCaching } = input;
  checkTokenCount('promptTokens', promptTokens);
  if (maxOutputTokens !== undefined && maxOutputTokens !== null) checkTokenCount('maxOutputTokens', maxOutputTokens);
  if (promptCaching !== 'none' && promptCaching !== '5m' && promptCaching !== '1h') {
    throw new RangeError(`Invalid promptCaching ${JSON.stringify(promptCaching)}: expected "none", "5m" or "1h".`);
  }

  // NOTE: a request's own limit is reserved as given, even above the model's limit, because a
  // provider may allow more than the table lists (Anthropic's extended-output beta, for example).
  const outputTokens = maxOutputTokens ?? modelInfo.maxOutputTokens ?? FALLBACK_MAX_OUTPUT_TOKENS;

  if (modelInfo.pricing === 'free') return { usd: 0, inputUsd: 0, outputUsd: 0, outputTokens };
  if (modelInfo.pricing === 'unknown') return { usd: null, inputUsd: null, outputUsd: null, outputTokens };

  const inputUsd = (promptTokens * maxInputRate(modelInfo, promptCaching)) / 1_000_000;
  const outputUsd = (outputTokens * (modelInfo.prices.output ?? 0)) / 1_000_000;
  return { usd: inputUsd + outputUsd, inputUsd, outputUsd, outputTokens };
}

/**
 * Returns the highest price per 1M input tokens among the kinds of input the request can be
 * billed for. A missing cache price counts as the plain input price, as in computeCost. Cache
 * reads are included although they are normally the cheapest, because a deployment's override
 * may price them otherwise. A 1-hour request may also carry 5-minute breakpoints.
 */
export function maxInputRate(modelInfo: ModelInfo, promptCaching: PromptCachingTier): number {
  const prices = modelInfo.prices;
  const input = prices.input ?? 0;
  const rates = [input, prices.cachedInput ?? input];
  if (promptCaching === '5m' || promptCaching === '1h') rates.push(prices.cacheWrite5m ?? input);
  if (promptCaching === '1h') rates.push(prices.cacheWrite1h ?? input);
  return Math.max(...rates);
}

/**
 * Detects the prompt-cache write tier a request body requests. In an Anthropic Messages body,
 * any `cache_control` with `ttl: "1h"` means '1h' and any other `cache_control` means '5m'. The
 * whole body is searched, because breakpoints may sit on tools, system blocks, message content
 * or the top level. OpenAI's caching is automatic and has no write surcharge, so 'openai-chat'
 * bodies return 'none'.
 */
export function detectPromptCaching(format: InboundFormat, body: unknown): PromptCachingTier {
  if (format === 'openai-chat') return 'none';
  if (format !== 'anthropic-messages') {
    throw new RangeError(`Invalid format ${JSON.stringify(format)}: expected "openai-chat" or "anthropic-messages".`);
  }

  let tier: PromptCachingTier = 'none';
  // An explicit stack, because a client's JSON may nest deeper than the call stack allows.
  const pending: unknown[] = [body];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value !== 'object' || value === null) continue;

    if (Array.isArray(value)) {
      for (const item of value) pending.push(item);
      continue;
    }

    for (const [key, child] of Object.entries(value)) {
      if (key === 'cache_control' && typeof child === 'object' && child !== null) {
        if ((child as { ttl?: unknown }).ttl === '1h') return '1h';
        tier = '5m';
      } else {
        pending.push(child);
      }
    }
  }
  return tier;
}

function checkTokenCount(field: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Invalid ${field} ${String(value)}: expected a non-negative integer token count.`);
  }
}
