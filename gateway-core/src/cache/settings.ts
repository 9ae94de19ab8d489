/**
 * Response cache settings: `airlock.cache`, and LiteLLM's `litellm_settings.cache` and
 * `cache_params`, which map onto them so an existing LiteLLM config keeps its meaning.
 */
import { z } from 'zod';
import type { CacheNamespaceKind } from './key';
import type { SemanticSettings } from './semantic';
import { DEFAULT_HASHED_NGRAM_THRESHOLD } from './similarity';

/** Maximum time to live, in seconds, for `ttl_seconds` and LiteLLM's `cache_params.ttl`: one year. */
const MAX_TTL_SECONDS = 31_536_000;

export const cacheSettingsSchema = z.strictObject({
  /** Default false: responses are cached only when this is true. */
  enabled: z.boolean().optional(),
  /** Whose requests share entries: key, user, team (default) or org. */
  namespace: z.enum(['key', 'user', 'team', 'org'], { error: 'must be key, user, team or org' }).optional(),
  /** Seconds an entry is served; default 300. */
  ttl_seconds: z.number().positive('must be above 0').max(MAX_TTL_SECONDS, `must be at most one year (${MAX_TTL_SECONDS})`).optional(),
  /** Largest total size of the stored rows (responses, keys, embeddings) in bytes; default 104857600 (100 MiB). */
  max_bytes: z.number().int().min(1024, 'must be at least 1024').optional(),
  /**
   * Default false: a request the guard redacted is never cached. True caches it under the key of
   * its redacted body, and stores the response with placeholders in place of the request's values.
   */
  store_redacted: z.boolean().optional(),
  /** Default false. True caches only requests that send LiteLLM's `cache: {"use-cache": true}`. */
  opt_in: z.boolean().optional(),
  /** The semantic tier, tried after an exact miss; on with the cache unless enabled is false. */
  semantic: z
    .strictObject({
      enabled: z.boolean().optional(),
      /** Cosine similarity a hit needs; default 0.7, measured for the built-in embedder. */
      threshold: z.number().min(0).max(1).optional(),
      /** Requests with more user messages skip the tier; default 1. */
      max_turns: z.number().int().min(1).optional(),
      /** Requests with a higher temperature skip the tier; default 1. */
      max_temperature: z.number().min(0).max(2).optional(),
      /**
       * content_words (default): a hit also needs the same content words in the same order.
       * signature: only numbers, names, paths, quotes, code, listed terms and negation must agree.
       */
      lexical_check: z.enum(['content_words', 'signature'], { error: 'must be content_words or signature' }).optional(),
      /** builtin (offline hashed n-grams, the default), ollama or openai (any OpenAI-compatible /v1/embeddings). */
      embedder: z
        .strictObject({
          kind: z.enum(['builtin', 'ollama', 'openai'], { error: 'must be builtin, ollama or openai' }),
          api_base: z.string().url().optional(),
          model: z.string().min(1).optional(),
          api_key: z.string().min(1).optional(),
        })
        .optional(),
    })
    .optional(),
});

export type CacheSettingsFile = z.infer<typeof cacheSettingsSchema>;

export interface EmbedderSettings {
  kind: 'builtin' | 'ollama' | 'openai';
  apiBase: string | null;
  model: string | null;
  apiKey: string | null;
}

export interface CacheSettings {
  enabled: boolean;
  namespace: CacheNamespaceKind;
  ttlSeconds: number;
  maxBytes: number;
  /** Whether responses to requests the guard redacted are cached, stored with their placeholders. */
  storeRedacted: boolean;
  /** Whether only requests that opt in with `cache: {"use-cache": true}` use the cache. */
  optIn: boolean;
  semantic: SemanticSettings & { embedder: EmbedderSettings };
}

export const DEFAULT_CACHE_SETTINGS: CacheSettings = {
  enabled: false,
  namespace: 'team',
  ttlSeconds: 300,
  maxBytes: 104_857_600,
  storeRedacted: false,
  optIn: false,
  semantic: {
    // On 529 labeled pairs written after the lexical rules were final, the built-in embedder at
    // 0.7 served 45 paraphrases and no wrong answer (bench/cache-holdout.ts, holdout4-pairs.jsonl).
    enabled: true,
    threshold: DEFAULT_HASHED_NGRAM_THRESHOLD,
    maxTurns: 1,
    maxTemperature: 1,
    lexicalCheck: 'content_words',
    embedder: { kind: 'builtin', apiBase: null, model: null, apiKey: null },
  },
};

/** LiteLLM cache types that map to the local SQLite cache; others are reported and ignored. */
const LOCAL_TYPES = new Set(['local', 'redis', 'disk']);

/** LiteLLM's semantic cache types, which map to the local cache with its semantic tier. */
const SEMANTIC_TYPES = new Set(['redis-semantic', 'valkey-semantic', 'qdrant-semantic']);

/** Keys of `litellm_settings.cache_params` this gateway reads; the others are reported as unused. */
const READ_CACHE_PARAMS = new Set(['type', 'ttl', 'mode', 'similarity_threshold']);

/** The LiteLLM keys `buildCacheSettings` reads from `litellm_settings.cache_params`. */
interface LiteLLMCacheParams {
  type?: unknown;
  ttl?: unknown;
  mode?: unknown;
  similarity_threshold?: unknown;
}

function isValidTtl(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= MAX_TTL_SECONDS;
}

/** Formats a config value for a warning: strings keep their quotes, so "600" reads as text. */
function formatConfigValue(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/**
 * Builds the settings from `airlock.cache` and LiteLLM's keys; `airlock.cache` wins where both
 * set a value. Appends a warning for each LiteLLM cache key it cannot read and, when the cache
 * is on, for a LiteLLM cache type that is served differently here.
 */
export function buildCacheSettings(
  file: CacheSettingsFile | undefined,
  litellm: { cache?: unknown; cache_params?: unknown } | undefined,
  warnings: string[],
): CacheSettings {
  const settings: CacheSettings = { ...DEFAULT_CACHE_SETTINGS, semantic: { ...DEFAULT_CACHE_SETTINGS.semantic } };
  if (litellm?.cache === true) settings.enabled = true;
  const rawParams = litellm?.cache_params;
  const isMapping = typeof rawParams === 'object' && rawParams !== null && !Array.isArray(rawParams);
  const params: LiteLLMCacheParams = isMapping ? rawParams : {};
  if (rawParams !== undefined && !isMapping) {
    warnings.push(`litellm_settings.cache_params is ${formatConfigValue(rawParams)}: expected a mapping such as {type: local, ttl: 600}, so it is ignored`);
  }
  if (params.mode === 'default_off') settings.optIn = true;
  else if (params.mode !== undefined && params.mode !== 'default_on') {
    warnings.push(`litellm_settings.cache_params.mode ${JSON.stringify(params.mode)} is not supported; use default_on or default_off`);
  }
  if (isValidTtl(params.ttl)) settings.ttlSeconds = params.ttl;

  if (file?.enabled !== undefined) settings.enabled = file.enabled;
  if (file?.namespace !== undefined) settings.namespace = file.namespace;
  if (file?.ttl_seconds !== undefined) settings.ttlSeconds = file.ttl_seconds;
  if (file?.max_bytes !== undefined) settings.maxBytes = file.max_bytes;
  if (file?.store_redacted !== undefined) settings.storeRedacted = file.store_redacted;
  if (file?.opt_in !== undefined) settings.optIn = file.opt_in;
  // These warnings state the outcome, so they wait until airlock.cache has been applied.
  if (litellm?.cache !== undefined && typeof litellm.cache !== 'boolean') warnings.push(cacheFlagWarning(litellm.cache, settings.enabled));
  if (params.ttl !== undefined && !isValidTtl(params.ttl)) {
    const quoteHint = typeof params.ttl === 'string' ? ' written without quotes' : '';
    warnings.push(
      `litellm_settings.cache_params.ttl is ${formatConfigValue(params.ttl)}: expected a positive number of seconds${quoteHint}, at most ${MAX_TTL_SECONDS} (one year), such as 600; it is ignored, so entries are served for ${settings.ttlSeconds} seconds`,
    );
  }
  if (settings.enabled) warnings.push(...cacheTypeWarnings(params));
  const unused = Object.keys(params).filter((key) => !READ_CACHE_PARAMS.has(key));
  if (unused.length > 0) {
    warnings.push(`litellm_settings.cache_params ${unused.join(', ')} ${unused.length === 1 ? 'is' : 'are'} not used: this gateway keeps its cache in local SQLite`);
  }
  if (litellm?.cache === true && file?.enabled === false) {
    warnings.push('litellm_settings.cache is true, but airlock.cache.enabled false turns the cache off');
  }
  const semantic = file?.semantic;
  if (semantic !== undefined) {
    if (semantic.enabled !== undefined) settings.semantic.enabled = semantic.enabled;
    if (semantic.threshold !== undefined) settings.semantic.threshold = semantic.threshold;
    if (semantic.threshold !== undefined && semantic.threshold < 0.5) {
      warnings.push(`airlock.cache.semantic.threshold ${semantic.threshold} is low: most unrelated questions will pass it, leaving only the lexical check`);
    }
    if (semantic.max_turns !== undefined) settings.semantic.maxTurns = semantic.max_turns;
    if (semantic.max_temperature !== undefined) settings.semantic.maxTemperature = semantic.max_temperature;
    if (semantic.lexical_check !== undefined) settings.semantic.lexicalCheck = semantic.lexical_check;
    if (semantic.lexical_check === 'signature' && (semantic.embedder?.kind ?? 'builtin') === 'builtin') {
      warnings.push(
        'airlock.cache.semantic.lexical_check signature with the built-in embedder served a wrong answer for 29 to 66 percent of its hits on three hold-out sets of labeled pairs; use content_words',
      );
    }
    const embedder = semantic.embedder;
    if (embedder !== undefined) {
      if (embedder.kind !== 'builtin' && (embedder.api_base === undefined || embedder.model === undefined)) {
        throw new Error(`airlock.cache.semantic.embedder: kind ${embedder.kind} needs api_base and model, such as http://127.0.0.1:11434 and nomic-embed-text`);
      }
      settings.semantic.embedder = { kind: embedder.kind, apiBase: embedder.api_base ?? null, model: embedder.model ?? null, apiKey: embedder.api_key ?? null };
      if (embedder.kind !== 'builtin' && semantic.threshold === undefined) {
        warnings.push(
          `airlock.cache.semantic.threshold is not set for a server embedder; ${DEFAULT_HASHED_NGRAM_THRESHOLD} was measured for the built-in embedder only, so measure one for this model`,
        );
      }
    }
  }
  return settings;
}

/** Warns about a `litellm_settings.cache` that is not a boolean, such as the string "true". */
function cacheFlagWarning(value: unknown, enabled: boolean): string {
  if (enabled) {
    return `litellm_settings.cache is ${formatConfigValue(value)}, not a boolean, so it is ignored; the cache is on because airlock.cache.enabled is true. Write cache: true or cache: false without quotes`;
  }
  return `litellm_settings.cache is ${formatConfigValue(value)}, not the boolean true, so the cache stays off; write cache: true without quotes to turn it on`;
}

/** Reports how a LiteLLM cache type is served by the local cache; call only when the cache is on. */
function cacheTypeWarnings(params: LiteLLMCacheParams): string[] {
  const { type, similarity_threshold: similarityThreshold } = params;
  if (typeof type !== 'string') return [];
  if (SEMANTIC_TYPES.has(type)) {
    // The semantic tier is on by default; this only reports how the type was mapped.
    const threshold = similarityThreshold === undefined ? '' : `; its similarity_threshold ${JSON.stringify(similarityThreshold)} is not used, because it was set for another embedder`;
    return [`litellm_settings.cache_params.type '${type}' is served by the local SQLite cache and its semantic tier${threshold}`];
  }
  if (!LOCAL_TYPES.has(type)) return [`litellm_settings.cache_params.type '${type}' is not supported; responses are cached in the local SQLite cache instead`];
  if (type === 'redis' || type === 'disk') return [`litellm_settings.cache_params.type '${type}' is served by the local SQLite cache of this workstation`];
  return [];
}
