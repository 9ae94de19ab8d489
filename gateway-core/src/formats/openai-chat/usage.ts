import type { CanonicalUsage } from '../canonical';

/** OpenAI's usage object as the Chat Completions and Embeddings APIs send it. */
export interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  completion_tokens_details?: { reasoning_tokens?: number | null } | null;
}

/** prompt_tokens includes the cached tokens, so uncached input is the difference. */
export function openAIUsageToCanonical(usage: OpenAIUsage): CanonicalUsage {
  const prompt = usage.prompt_tokens ?? 0;
  const cached = Math.min(usage.prompt_tokens_details?.cached_tokens ?? 0, prompt);
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  return {
    inputTokens: prompt - cached,
    cacheReadTokens: cached,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    outputTokens: usage.completion_tokens ?? 0,
    reasoningTokens: typeof reasoning === 'number' ? reasoning : null,
  };
}

/** The reverse: every kind of input, cache reads and writes included, counts in prompt_tokens. */
export function canonicalUsageToOpenAI(usage: CanonicalUsage): Required<Pick<OpenAIUsage, 'prompt_tokens' | 'completion_tokens' | 'total_tokens'>> &
  OpenAIUsage {
  const prompt = usage.inputTokens + usage.cacheReadTokens + usage.cacheWrite5mTokens + usage.cacheWrite1hTokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: usage.outputTokens,
    total_tokens: prompt + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cacheReadTokens },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
  };
}
