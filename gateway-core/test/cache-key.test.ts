import { describe, expect, it } from 'vitest';
import { cacheNamespace, canonicalJson, exactCacheKey, type ExactKeyInput } from '../src/cache/key';

function input(body: Record<string, unknown>, overrides: Partial<ExactKeyInput> = {}): ExactKeyInput {
  return { namespace: 'team:backend', format: 'openai-chat', alias: 'gpt-4o', deploymentIds: ['gpt-4o#0'], body, ...overrides };
}

const base = {
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: 'You review code.' },
    { role: 'user', content: 'Write a test for the Login handler.' },
  ],
  temperature: 0,
};

describe('exact cache key', () => {
  it('ignores key order and transport fields', () => {
    const reordered = { temperature: 0, messages: base.messages, model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, user: 'alice', metadata: { a: 1 } };
    expect(exactCacheKey(input(reordered))).toBe(exactCacheKey(input(base)));
  });

  it('changes with every field that can change the answer', () => {
    const key = exactCacheKey(input(base));
    const variants: Array<Record<string, unknown>> = [
      { ...base, messages: [base.messages[0], { role: 'user', content: 'Write a test for the Logout handler.' }] },
      { ...base, messages: [{ role: 'system', content: 'You review SQL.' }, base.messages[1]] },
      { ...base, temperature: 0.7 },
      { ...base, tools: [{ type: 'function', function: { name: 'run_tests' } }] },
      { ...base, tool_choice: 'required' },
      { ...base, response_format: { type: 'json_object' } },
      { ...base, reasoning_effort: 'high' },
      // A parameter no one has classified yet is part of the key.
      { ...base, some_future_parameter: 1 },
    ];
    for (const variant of variants) expect(exactCacheKey(input(variant))).not.toBe(key);
  });

  it('separates namespaces, formats, aliases and deployment sets', () => {
    const key = exactCacheKey(input(base));
    expect(exactCacheKey(input(base, { namespace: 'team:marketing' }))).not.toBe(key);
    expect(exactCacheKey(input(base, { format: 'anthropic-messages' }))).not.toBe(key);
    expect(exactCacheKey(input(base, { alias: 'gpt-4o-mini' }))).not.toBe(key);
    expect(exactCacheKey(input(base, { deploymentIds: ['gpt-4o#0', 'gpt-4o#1'] }))).not.toBe(key);
    expect(exactCacheKey(input(base, { deploymentIds: ['gpt-4o#0'] }))).toBe(key);
  });

  it('keeps array order', () => {
    expect(canonicalJson({ b: [2, 1], a: { d: 1, c: null } })).toBe('{"a":{"c":null,"d":1},"b":[2,1]}');
  });

  it('handles deep nesting', () => {
    let value: unknown = 'leaf';
    for (let depth = 0; depth < 50_000; depth++) value = [value];
    expect(canonicalJson(value).length).toBe(100_006);
  });
});

describe('cache namespace', () => {
  it('falls back to narrower owners', () => {
    expect(cacheNamespace('team', { keyId: 'k1', userId: 'alice', teamId: 'backend' })).toBe('team:backend');
    expect(cacheNamespace('team', { keyId: 'k1', userId: 'alice', teamId: null })).toBe('user:alice');
    expect(cacheNamespace('user', { keyId: 'k1', userId: null, teamId: 'backend' })).toBe('key:k1');
    expect(cacheNamespace('key', { keyId: 'k1', userId: 'alice', teamId: 'backend' })).toBe('key:k1');
    expect(cacheNamespace('org', { keyId: 'k1', userId: null, teamId: null })).toBe('org');
  });
});
