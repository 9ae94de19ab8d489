/**
 * LiteLLM's per-request cache controls: a `cache` object in the request body, such as
 * `{"cache": {"no-cache": true}}` sent through the OpenAI SDK's `extra_body`. The gateway reads
 * and removes it before any other step reads the body, because no provider API defines this
 * field and a provider may reject a request that carries it.
 */
import { GatewayError } from '../errors';

export interface BodyCacheControls {
  /** `no-cache`: skip the lookup, ask the provider and store the new response. */
  refresh: boolean;
  /** `no-store`: a cached response may be served, but a new one is not stored. */
  noStore: boolean;
  /**
   * `use-cache`: false keeps this request out of the cache, true opts it in where the cache is
   * opt-in only; null when the field is absent.
   */
  useCache: boolean | null;
  /** `ttl`: seconds the new response is served; the request path caps it at the configured time to live. */
  ttlSeconds: number | null;
  /** `s-maxage`: the oldest cached response, in seconds, this request accepts. */
  maxAgeSeconds: number | null;
  /** `namespace`: a name that splits the owner's namespace further; it never widens it. */
  namespace: string | null;
}

const KNOWN_FIELDS = ['no-cache', 'no-store', 'use-cache', 'ttl', 's-maxage', 'namespace'];
const MAX_SECONDS = 31_536_000;
const NAMESPACE_PATTERN = /^[\w.:-]{1,64}$/;

/** Formats a client's value for an error message: numbers as written, others as JSON, cut at 80 characters. */
function shown(value: unknown): string {
  const text = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function invalid(field: string, message: string): GatewayError {
  return new GatewayError('invalid_value', message, { param: `cache.${field}` });
}

function readFlag(controls: Record<string, unknown>, field: string): boolean {
  const value = controls[field];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalid(field, `Invalid cache.${field} ${shown(value)}: expected true or false.`);
  return value;
}

function readSeconds(controls: Record<string, unknown>, field: string): number | null {
  const value = controls[field];
  if (value === undefined || value === null) return null;
  // Fractions are allowed, as in airlock.cache.ttl_seconds.
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_SECONDS) {
    throw invalid(field, `Invalid cache.${field} ${shown(value)}: expected a number of seconds from 0 to ${MAX_SECONDS}, such as 600 or 1.5.`);
  }
  return value;
}

/**
 * Removes the `cache` object from a request body and returns its controls, or null when the body
 * has none. Throws invalid_value, naming the field, for a malformed object or an unknown field.
 */
export function takeBodyCacheControls(body: Record<string, unknown>): BodyCacheControls | null {
  if (!Object.hasOwn(body, 'cache')) return null;
  const controls = body.cache;
  delete body.cache;
  if (typeof controls !== 'object' || controls === null || Array.isArray(controls)) {
    throw new GatewayError('invalid_value', `Invalid cache ${shown(controls)}: expected an object such as {"no-cache": true}.`, { param: 'cache' });
  }
  const fields = controls as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((field) => !KNOWN_FIELDS.includes(field));
  if (unknown.length > 0) {
    throw invalid(unknown[0]!, `Unknown cache field ${shown(unknown[0])}: expected one of ${KNOWN_FIELDS.join(', ')}.`);
  }

  const namespace = fields.namespace;
  if (namespace !== undefined && namespace !== null && (typeof namespace !== 'string' || !NAMESPACE_PATTERN.test(namespace))) {
    throw invalid('namespace', `Invalid cache.namespace ${shown(namespace)}: expected 1 to 64 letters, digits, '.', ':', '_' or '-'.`);
  }
  const useCache = fields['use-cache'];
  if (useCache !== undefined && typeof useCache !== 'boolean') {
    throw invalid('use-cache', `Invalid cache.use-cache ${shown(useCache)}: expected true or false.`);
  }

  return {
    refresh: readFlag(fields, 'no-cache'),
    noStore: readFlag(fields, 'no-store'),
    useCache: typeof useCache === 'boolean' ? useCache : null,
    ttlSeconds: readSeconds(fields, 'ttl'),
    maxAgeSeconds: readSeconds(fields, 's-maxage'),
    namespace: typeof namespace === 'string' ? namespace : null,
  };
}
