import catalog from './catalog.json' with { type: 'json' };
import type { CanonicalUsage } from '../formats/canonical';

/** Prices in USD per 1M tokens. A missing price is unknown, never zero. */
export interface ModelPrices {
  input?: number;
  cachedInput?: number;
  cacheWrite5m?: number;
  cacheWrite1h?: number;
  output?: number;
}

export type DestinationClass = 'local' | 'cloud';

export interface ModelInfo {
  prices: ModelPrices;
  contextWindow: number | null;
  maxOutputTokens: number | null;
  /** 1 (cheapest) to 4 (strongest); null when not known. */
  tier: number | null;
  mode: 'chat' | 'embedding';
  /** Whether the price is known, zero because the model runs locally, or unknown. */
  pricing: 'priced' | 'free' | 'unknown';
}

interface CatalogEntry {
  provider: string;
  input?: number;
  cached_input?: number;
  cache_write_5m?: number;
  cache_write_1h?: number;
  output?: number;
  context_window?: number;
  max_output_tokens?: number;
  tier?: number;
  mode?: string;
}

const entries = catalog.models as Record<string, CatalogEntry>;
const aliases = catalog.aliases as Record<string, string>;

/** Find a catalog entry by provider model id, also after removing a date suffix (gpt-4o-2024-08-06). */
export function findCatalogEntry(providerModel: string): CatalogEntry | undefined {
  const direct = entries[providerModel] ?? entries[aliases[providerModel] ?? ''];
  if (direct) return direct;
  const undated = providerModel.replace(/-(\d{4}-\d{2}-\d{2}|\d{8})$/, '');
  return entries[undated] ?? entries[aliases[undated] ?? ''];
}

/** Overrides a deployment sets in its config; LiteLLM's per-token keys are converted on load. */
export interface ModelOverrides {
  prices?: ModelPrices;
  contextWindow?: number;
  maxOutputTokens?: number;
  tier?: number;
  mode?: 'chat' | 'embedding';
}

export function resolveModelInfo(
  providerModel: string,
  destination: DestinationClass,
  overrides: ModelOverrides = {},
): ModelInfo {
  const entry = findCatalogEntry(providerModel);
  const prices: ModelPrices = entry
    ? {
        input: entry.input,
        cachedInput: entry.cached_input,
        cacheWrite5m: entry.cache_write_5m,
        cacheWrite1h: entry.cache_write_1h,
        output: entry.output,
      }
    : {};
  Object.assign(prices, withoutUndefined(overrides.prices ?? {}));
  const hasPrice = prices.input !== undefined && prices.output !== undefined;
  const pricing: ModelInfo['pricing'] = hasPrice ? 'priced' : destination === 'local' ? 'free' : 'unknown';
  const mode = overrides.mode ?? (entry?.mode === 'embedding' ? 'embedding' : 'chat');
  return {
    prices: pricing === 'free' ? { input: 0, cachedInput: 0, cacheWrite5m: 0, cacheWrite1h: 0, output: 0 } : prices,
    contextWindow: overrides.contextWindow ?? entry?.context_window ?? null,
    maxOutputTokens: overrides.maxOutputTokens ?? entry?.max_output_tokens ?? null,
    tier: overrides.tier ?? entry?.tier ?? null,
    mode,
    pricing,
  };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Cost in USD of one usage record, or null when the model's price is unknown.
 * A cache price the table lacks falls back to the input price, which overstates rather than
 * hides spend.
 */
export function computeCost(info: ModelInfo, usage: CanonicalUsage): number | null {
  if (info.pricing === 'free') return 0;
  if (info.pricing === 'unknown') return null;
  const p = info.prices;
  const input = p.input ?? 0;
  const total =
    usage.inputTokens * input +
    usage.cacheReadTokens * (p.cachedInput ?? input) +
    usage.cacheWrite5mTokens * (p.cacheWrite5m ?? input) +
    usage.cacheWrite1hTokens * (p.cacheWrite1h ?? input) +
    usage.outputTokens * (p.output ?? 0);
  return total / 1_000_000;
}
