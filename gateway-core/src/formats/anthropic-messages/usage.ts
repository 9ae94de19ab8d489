import type { CanonicalUsage } from '../canonical';

/**
 * Anthropic's usage object as a message and a message_start event carry it. A message_delta
 * carries the same fields, all optional, with cumulative values.
 */
export interface AnthropicUsage {
  /** Input tokens that were neither read from nor written to the prompt cache. */
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  /** Split of cache_creation_input_tokens by time to live; absent on older responses. */
  cache_creation?: { ephemeral_5m_input_tokens?: number | null; ephemeral_1h_input_tokens?: number | null } | null;
  output_tokens_details?: { thinking_tokens?: number | null } | null;
}

/**
 * Convert a complete usage object. input_tokens already excludes cache reads and writes, so it
 * is taken as it is. Without the 5m/1h split every cache write counts as a 5-minute write,
 * which is the default time to live.
 */
export function anthropicUsageToCanonical(usage: AnthropicUsage): CanonicalUsage {
  const writes = cacheWrites(usage);
  return {
    inputTokens: count(usage.input_tokens) ?? 0,
    cacheReadTokens: count(usage.cache_read_input_tokens) ?? 0,
    cacheWrite5mTokens: writes?.fiveMinutes ?? 0,
    cacheWrite1hTokens: writes?.oneHour ?? 0,
    outputTokens: count(usage.output_tokens) ?? 0,
    reasoningTokens: count(usage.output_tokens_details?.thinking_tokens),
  };
}

/**
 * Convert the usage of a stream event, keeping only the counts it reports. A message_delta
 * usually reports output_tokens alone; a null count means "not reported", not zero.
 * A message_delta can repeat cache_creation_input_tokens without the 5m/1h split. Given `known`,
 * the counts from earlier events, such a total keeps the known 1-hour writes and counts only the
 * rest as 5-minute writes.
 */
export function anthropicPartialUsage(usage: AnthropicUsage | null | undefined, known?: CanonicalUsage | null): Partial<CanonicalUsage> | null {
  if (!usage) return null;
  const partial: Partial<CanonicalUsage> = {};
  const input = count(usage.input_tokens);
  if (input !== null) partial.inputTokens = input;
  const read = count(usage.cache_read_input_tokens);
  if (read !== null) partial.cacheReadTokens = read;
  let writes = cacheWrites(usage);
  if (writes && known && !hasCacheSplit(usage)) {
    const oneHour = Math.min(known.cacheWrite1hTokens, writes.fiveMinutes);
    writes = { fiveMinutes: writes.fiveMinutes - oneHour, oneHour };
  }
  if (writes) {
    partial.cacheWrite5mTokens = writes.fiveMinutes;
    partial.cacheWrite1hTokens = writes.oneHour;
  }
  const output = count(usage.output_tokens);
  if (output !== null) partial.outputTokens = output;
  const thinking = count(usage.output_tokens_details?.thinking_tokens);
  if (thinking !== null) partial.reasoningTokens = thinking;
  return partial;
}

/** Convert canonical usage back, reporting cache writes as one total plus the 5m/1h split. */
export function canonicalUsageToAnthropic(usage: CanonicalUsage): Record<string, unknown> {
  const result: Record<string, unknown> = {
    input_tokens: usage.inputTokens,
    cache_creation_input_tokens: usage.cacheWrite5mTokens + usage.cacheWrite1hTokens,
    cache_read_input_tokens: usage.cacheReadTokens,
    cache_creation: {
      ephemeral_5m_input_tokens: usage.cacheWrite5mTokens,
      ephemeral_1h_input_tokens: usage.cacheWrite1hTokens,
    },
    output_tokens: usage.outputTokens,
  };
  if (usage.reasoningTokens !== null) result.output_tokens_details = { thinking_tokens: usage.reasoningTokens };
  return result;
}

function hasCacheSplit(usage: AnthropicUsage): boolean {
  return count(usage.cache_creation?.ephemeral_5m_input_tokens) !== null || count(usage.cache_creation?.ephemeral_1h_input_tokens) !== null;
}

function cacheWrites(usage: AnthropicUsage): { fiveMinutes: number; oneHour: number } | null {
  const total = count(usage.cache_creation_input_tokens);
  const split = usage.cache_creation;
  const fiveMinutes = count(split?.ephemeral_5m_input_tokens);
  const oneHour = count(split?.ephemeral_1h_input_tokens);
  if (fiveMinutes !== null || oneHour !== null) return { fiveMinutes: fiveMinutes ?? 0, oneHour: oneHour ?? 0 };
  if (total !== null) return { fiveMinutes: total, oneHour: 0 };
  return null;
}

function count(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
