import { describe, expect, it } from 'vitest';
import type { CanonicalUsage } from '../src/formats/canonical';
import {
  detectPromptCaching,
  FALLBACK_MAX_OUTPUT_TOKENS,
  maxInputRate,
  worstCaseCost,
  type PromptCachingTier,
} from '../src/governance/reservation';
import { computeCost, resolveModelInfo, type ModelInfo, type ModelPrices } from '../src/models/table';

// Catalog prices per 1M tokens: input 3, cache read 0.3, 5-minute write 3.75, 1-hour write 6,
// output 15; max output 64,000.
const sonnet = resolveModelInfo('claude-sonnet-4-5-20250929', 'cloud');
// Catalog prices: input 2.5, cache read 1.25, output 10, no cache-write prices; max output 16,384.
const gpt4o = resolveModelInfo('gpt-4o', 'cloud');
const localModel = resolveModelInfo('llama3.2:3b', 'local');
const unknownModel = resolveModelInfo('acme-large-9', 'cloud');

function pricedModel(prices: ModelPrices, maxOutputTokens: number | null): ModelInfo {
  return { prices, contextWindow: null, maxOutputTokens, tier: null, mode: 'chat', pricing: 'priced' };
}

describe('worstCaseCost for priced models', () => {
  it('reserves plain input without caching', () => {
    const cost = worstCaseCost({ modelInfo: sonnet, promptTokens: 10_000, maxOutputTokens: 1_000, promptCaching: 'none' });
    expect(cost.outputTokens).toBe(1_000);
    expect(cost.inputUsd).toBeCloseTo(0.03, 12);
    expect(cost.outputUsd).toBeCloseTo(0.015, 12);
    expect(cost.usd).toBeCloseTo(0.045, 12);
  });

  it('reserves the 5-minute write price', () => {
    const cost = worstCaseCost({ modelInfo: sonnet, promptTokens: 10_000, maxOutputTokens: 1_000, promptCaching: '5m' });
    expect(cost.inputUsd).toBeCloseTo(0.0375, 12);
    expect(cost.usd).toBeCloseTo(0.0525, 12);
  });

  it('reserves the 1-hour write price', () => {
    const cost = worstCaseCost({ modelInfo: sonnet, promptTokens: 10_000, maxOutputTokens: 1_000, promptCaching: '1h' });
    expect(cost.inputUsd).toBeCloseTo(0.06, 12);
    expect(cost.usd).toBeCloseTo(0.075, 12);
  });

  it('uses the model limit without max tokens', () => {
    const cost = worstCaseCost({ modelInfo: sonnet, promptTokens: 0, promptCaching: 'none' });
    expect(cost.outputTokens).toBe(64_000);
    expect(cost.outputUsd).toBeCloseTo(0.96, 12);
    expect(cost.usd).toBeCloseTo(0.96, 12);
  });

  it('treats null max tokens as absent', () => {
    const cost = worstCaseCost({ modelInfo: gpt4o, promptTokens: 0, maxOutputTokens: null, promptCaching: 'none' });
    expect(cost.outputTokens).toBe(16_384);
  });

  it('falls back without any output limit', () => {
    const model = pricedModel({ input: 1, output: 2 }, null);
    const cost = worstCaseCost({ modelInfo: model, promptTokens: 1_000_000, promptCaching: 'none' });
    expect(cost.outputTokens).toBe(FALLBACK_MAX_OUTPUT_TOKENS);
    expect(cost.outputTokens).toBe(4096);
    expect(cost.usd).toBeCloseTo(1 + (4096 * 2) / 1_000_000, 12);
  });

  it('keeps a request limit above the model limit', () => {
    const cost = worstCaseCost({ modelInfo: gpt4o, promptTokens: 0, maxOutputTokens: 100_000, promptCaching: 'none' });
    expect(cost.outputTokens).toBe(100_000);
  });

  it('reserves zero output for max tokens 0', () => {
    const cost = worstCaseCost({ modelInfo: gpt4o, promptTokens: 1_000, maxOutputTokens: 0, promptCaching: 'none' });
    expect(cost.outputTokens).toBe(0);
    expect(cost.outputUsd).toBe(0);
  });

  it('uses the input price for missing write prices', () => {
    // gpt-4o has no cache-write prices, so computeCost bills writes at the input price.
    const cost = worstCaseCost({ modelInfo: gpt4o, promptTokens: 1_000_000, maxOutputTokens: 0, promptCaching: '1h' });
    expect(cost.inputUsd).toBeCloseTo(2.5, 12);
  });

  it('adds input and output to the total', () => {
    const cost = worstCaseCost({ modelInfo: sonnet, promptTokens: 12_345, maxOutputTokens: 678, promptCaching: '5m' });
    expect(cost.usd).toBe((cost.inputUsd ?? Number.NaN) + (cost.outputUsd ?? Number.NaN));
  });
});

describe('worstCaseCost for free and unknown models', () => {
  it('reserves nothing for a local model', () => {
    expect(localModel.pricing).toBe('free');
    const cost = worstCaseCost({ modelInfo: localModel, promptTokens: 50_000, maxOutputTokens: 2_000, promptCaching: '1h' });
    expect(cost).toEqual({ usd: 0, inputUsd: 0, outputUsd: 0, outputTokens: 2_000 });
  });

  it('returns null for an unknown price', () => {
    expect(unknownModel.pricing).toBe('unknown');
    const cost = worstCaseCost({ modelInfo: unknownModel, promptTokens: 50_000, promptCaching: 'none' });
    expect(cost.usd).toBeNull();
    expect(cost.inputUsd).toBeNull();
    expect(cost.outputUsd).toBeNull();
    expect(cost.outputTokens).toBe(FALLBACK_MAX_OUTPUT_TOKENS);
  });
});

describe('worstCaseCost input checks', () => {
  it('rejects bad prompt token counts', () => {
    for (const promptTokens of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => worstCaseCost({ modelInfo: sonnet, promptTokens, promptCaching: 'none' })).toThrow(/Invalid promptTokens/);
    }
  });

  it('rejects bad max output tokens', () => {
    expect(() => worstCaseCost({ modelInfo: sonnet, promptTokens: 1, maxOutputTokens: -5, promptCaching: 'none' })).toThrow(/Invalid maxOutputTokens -5/);
    expect(() => worstCaseCost({ modelInfo: sonnet, promptTokens: 1, maxOutputTokens: 2.5, promptCaching: 'none' })).toThrow(/non-negative integer/);
  });

  it('rejects an unknown caching tier', () => {
    const promptCaching = '24h' as PromptCachingTier;
    expect(() => worstCaseCost({ modelInfo: sonnet, promptTokens: 1, promptCaching })).toThrow(/Invalid promptCaching "24h"/);
  });
});

describe('maxInputRate', () => {
  it('picks the highest rate per tier', () => {
    expect(maxInputRate(sonnet, 'none')).toBe(3);
    expect(maxInputRate(sonnet, '5m')).toBe(3.75);
    expect(maxInputRate(sonnet, '1h')).toBe(6);
  });

  it('covers an override with expensive cache reads', () => {
    const odd = pricedModel({ input: 1, cachedInput: 2, cacheWrite5m: 1.5, output: 1 }, 100);
    expect(maxInputRate(odd, 'none')).toBe(2);
    expect(maxInputRate(odd, '5m')).toBe(2);
  });
});

// Deterministic generator (mulberry32), so a failing case can be replayed.
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('worstCaseCost bounds real usage', () => {
  it('is at least computeCost for random usages', () => {
    const random = randomSource(20_261_201);
    const int = (max: number) => Math.floor(random() * (max + 1));
    const maybePrice = () => (random() < 0.25 ? undefined : Math.round(random() * 40_000) / 1000);
    const models: ModelInfo[] = [sonnet, gpt4o, resolveModelInfo('claude-3-haiku-20240307', 'cloud'), resolveModelInfo('o3', 'cloud')];
    for (let i = 0; i < 40; i++) {
      const prices: ModelPrices = { input: maybePrice() ?? 1, cachedInput: maybePrice(), cacheWrite5m: maybePrice(), cacheWrite1h: maybePrice(), output: maybePrice() ?? 5 };
      models.push(pricedModel(prices, random() < 0.2 ? null : 1 + int(200_000)));
    }
    const tiers: PromptCachingTier[] = ['none', '5m', '1h'];

    for (let i = 0; i < 5_000; i++) {
      const modelInfo = models[int(models.length - 1)]!;
      const promptCaching = tiers[int(2)]!;
      const promptTokens = int(random() < 0.5 ? 2_000 : 1_000_000);
      const maxOutputTokens = random() < 0.5 ? undefined : int(128_000);
      const reserved = worstCaseCost({ modelInfo, promptTokens, maxOutputTokens, promptCaching });

      // Split the prompt into the kinds of input this caching tier allows, and draw output up to
      // the reserved token count.
      const used = int(promptTokens);
      const cacheRead = int(used);
      const cacheWrite5m = promptCaching === 'none' ? 0 : int(used - cacheRead);
      const cacheWrite1h = promptCaching === '1h' ? int(used - cacheRead - cacheWrite5m) : 0;
      const usage: CanonicalUsage = {
        inputTokens: used - cacheRead - cacheWrite5m - cacheWrite1h,
        cacheReadTokens: cacheRead,
        cacheWrite5mTokens: cacheWrite5m,
        cacheWrite1hTokens: cacheWrite1h,
        outputTokens: int(reserved.outputTokens),
        reasoningTokens: null,
      };
      const actual = computeCost(modelInfo, usage);

      const label = JSON.stringify({ i, prices: modelInfo.prices, promptCaching, promptTokens, maxOutputTokens, usage });
      expect(actual, label).not.toBeNull();
      expect(reserved.usd, label).not.toBeNull();
      expect(actual!, label).toBeLessThanOrEqual(reserved.usd!);
    }
  });

  it('equals computeCost when every token is at the top rate', () => {
    const cost = worstCaseCost({ modelInfo: sonnet, promptTokens: 40_000, maxOutputTokens: 2_000, promptCaching: '1h' });
    const usage: CanonicalUsage = { inputTokens: 0, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 40_000, outputTokens: 2_000, reasoningTokens: null };
    expect(cost.usd).toBeCloseTo(computeCost(sonnet, usage)!, 12);
  });
});

describe('detectPromptCaching', () => {
  it('returns none for OpenAI bodies', () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] }] };
    expect(detectPromptCaching('openai-chat', body)).toBe('none');
  });

  it('returns none without cache_control', () => {
    const body = { model: 'claude-sonnet-4-5', max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'hi' }] };
    expect(detectPromptCaching('anthropic-messages', body)).toBe('none');
  });

  it('finds a 5-minute breakpoint in system blocks', () => {
    const body = { system: [{ type: 'text', text: 'Long manual', cache_control: { type: 'ephemeral' } }], messages: [] };
    expect(detectPromptCaching('anthropic-messages', body)).toBe('5m');
  });

  it('treats an explicit 5m ttl as 5m', () => {
    const body = { messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral', ttl: '5m' } }] }] };
    expect(detectPromptCaching('anthropic-messages', body)).toBe('5m');
  });

  it('finds a 1-hour breakpoint on tools', () => {
    const body = {
      tools: [{ name: 'search', input_schema: { type: 'object' }, cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral' } }] }],
    };
    expect(detectPromptCaching('anthropic-messages', body)).toBe('1h');
  });

  it('prefers 1h over an earlier 5m', () => {
    const body = {
      system: [{ type: 'text', text: 'a', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'b', cache_control: { type: 'ephemeral', ttl: '1h' } }] }],
    };
    expect(detectPromptCaching('anthropic-messages', body)).toBe('1h');
  });

  it('finds a top-level cache_control', () => {
    expect(detectPromptCaching('anthropic-messages', { cache_control: { type: 'ephemeral' }, messages: [] })).toBe('5m');
  });

  it('ignores cache_control inside text', () => {
    const body = { messages: [{ role: 'user', content: 'what does "cache_control": {"ttl": "1h"} do?' }] };
    expect(detectPromptCaching('anthropic-messages', body)).toBe('none');
  });

  it('ignores a null cache_control', () => {
    expect(detectPromptCaching('anthropic-messages', { messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: null }] }] })).toBe('none');
  });

  it('handles bodies that are not objects', () => {
    expect(detectPromptCaching('anthropic-messages', null)).toBe('none');
    expect(detectPromptCaching('anthropic-messages', 'text')).toBe('none');
  });

  it('survives deeply nested JSON', () => {
    let nested: unknown = { cache_control: { type: 'ephemeral', ttl: '1h' } };
    for (let i = 0; i < 100_000; i++) nested = [nested];
    expect(detectPromptCaching('anthropic-messages', { messages: nested })).toBe('1h');
  });

  it('rejects an unknown format', () => {
    expect(() => detectPromptCaching('embeddings' as 'openai-chat', {})).toThrow(/Invalid format "embeddings"/);
  });
});
