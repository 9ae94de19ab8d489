import type { CanonicalUsage } from '../formats/canonical';

/**
 * One usage record, the same for every provider. `inputTokens` counts only uncached input:
 * OpenAI's prompt_tokens includes its cached tokens (subtract them), while Anthropic's
 * input_tokens already excludes cache reads and writes (take it as it is).
 */
export interface UsageRecord extends CanonicalUsage {
  /** "reported" when the provider sent the counts, "estimated" when the gateway counted text. */
  source: 'reported' | 'estimated';
}

export function totalInputTokens(usage: CanonicalUsage): number {
  return usage.inputTokens + usage.cacheReadTokens + usage.cacheWrite5mTokens + usage.cacheWrite1hTokens;
}

/** Merge partial stream counts (later values win, as both providers send cumulative counts). */
export function mergeUsage(target: CanonicalUsage, update: Partial<CanonicalUsage> | null | undefined): CanonicalUsage {
  if (!update) return target;
  for (const key of Object.keys(update) as Array<keyof CanonicalUsage>) {
    const value = update[key];
    if (value !== undefined) (target as unknown as Record<string, unknown>)[key] = value;
  }
  return target;
}
