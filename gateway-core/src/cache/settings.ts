/**
 * Response cache settings: `airlock.cache`, and LiteLLM's `litellm_settings.cache` and
 * `cache_params`, which map onto them so an existing LiteLLM config keeps its meaning.
 */
import { z } from 'zod';
import type { CacheNamespaceKind } from './key';

export const cacheSettingsSchema = z.strictObject({
  /** Default false: responses are cached only when this is true. */
  enabled: z.boolean().optional(),
  /** Whose requests share entries: key, user, team (default) or org. */
  namespace: z.enum(['key', 'user', 'team', 'org'], { error: 'must be key, user, team or org' }).optional(),
  /** Seconds an entry is served; default 300. */
  ttl_seconds: z.number().positive('must be above 0').max(31_536_000, 'must be at most one year (31536000)').optional(),
  /** Largest total size of stored responses in bytes; default 104857600 (100 MiB). */
  max_bytes: z.number().int().min(1024, 'must be at least 1024').optional(),
});

export type CacheSettingsFile = z.infer<typeof cacheSettingsSchema>;

export interface CacheSettings {
  enabled: boolean;
  namespace: CacheNamespaceKind;
  ttlSeconds: number;
  maxBytes: number;
}

export const DEFAULT_CACHE_SETTINGS: CacheSettings = { enabled: false, namespace: 'team', ttlSeconds: 300, maxBytes: 104_857_600 };

/** LiteLLM cache types that map to the local SQLite cache; others are reported and ignored. */
const LOCAL_TYPES = new Set(['local', 'redis', 'disk']);

/**
 * Builds the settings from `airlock.cache` and LiteLLM's keys; `airlock.cache` wins where both
 * set a value. Appends a warning for a LiteLLM cache type that has no counterpart here.
 */
export function buildCacheSettings(
  file: CacheSettingsFile | undefined,
  litellm: { cache?: unknown; cache_params?: unknown } | undefined,
  warnings: string[],
): CacheSettings {
  const settings: CacheSettings = { ...DEFAULT_CACHE_SETTINGS };
  if (litellm?.cache === true) settings.enabled = true;
  const params = litellm?.cache_params;
  if (typeof params === 'object' && params !== null) {
    const { type, ttl } = params as { type?: unknown; ttl?: unknown };
    if (typeof type === 'string' && !LOCAL_TYPES.has(type)) {
      warnings.push(`litellm_settings.cache_params.type '${type}' is not supported; responses are cached in the local SQLite cache instead`);
    } else if (type === 'redis' || type === 'disk') {
      warnings.push(`litellm_settings.cache_params.type '${type}' is served by the local SQLite cache of this workstation`);
    }
    if (typeof ttl === 'number' && ttl > 0) settings.ttlSeconds = ttl;
  }
  if (file?.enabled !== undefined) settings.enabled = file.enabled;
  if (file?.namespace !== undefined) settings.namespace = file.namespace;
  if (file?.ttl_seconds !== undefined) settings.ttlSeconds = file.ttl_seconds;
  if (file?.max_bytes !== undefined) settings.maxBytes = file.max_bytes;
  return settings;
}
