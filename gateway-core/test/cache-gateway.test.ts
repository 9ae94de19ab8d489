import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { refusedUrl } from './helpers/routing';
import { messageBody, startAnthropicStub, type AnthropicStub } from './stubs/anthropic';
import { completion, OpenAIStub, sendJson, sendStream, textChunks } from './stubs/openai';

/*
 * The exact response cache through a real gateway: hits on both surfaces, a stored answer
 * replayed as a stream, and the requests that must never share or store an answer.
 */

let cloud: OpenAIStub;
let anthropic: AnthropicStub;
let gw: TestGateway;
let backendKey: string;
let marketingKey: string;
let answers = 0;

async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${gw.url}/airlock/api${path}`, {
    method,
    headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.json();
}

beforeAll(async () => {
  cloud = await new OpenAIStub().start();
  anthropic = await startAnthropicStub();
  anthropic.setHandler(() => ({ kind: 'message', body: messageBody([{ type: 'text', text: `Anthropic answer ${++answers}` }]) }));
  gw = await startTestGateway({
    model_list: [
      { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } },
      { model_name: 'claude-sonnet', litellm_params: { model: 'anthropic/claude-sonnet-4-5', api_base: anthropic.url, api_key: 'sk-stub' } },
      { model_name: 'gpt-down', litellm_params: { model: 'openai/gpt-4o', api_base: await refusedUrl('/v1'), api_key: 'sk-stub' } },
    ],
    router_settings: { fallbacks: [{ 'gpt-down': ['gpt-4o'] }] },
    litellm_settings: { cache: true, cache_params: { type: 'local', ttl: 600 } },
    airlock: {
      cache: { semantic: { enabled: true } },
      governance: {
        teams: [{ id: 'backend' }, { id: 'marketing' }],
        users: [
          { id: 'alice', team_id: 'backend' },
          { id: 'bob', team_id: 'marketing' },
        ],
      },
    },
  });
  const create = async (user: string): Promise<string> => (await admin('POST', '/keys', { name: `${user}-key`, user })).key as string;
  backendKey = await create('alice');
  marketingKey = await create('bob');
});

afterAll(async () => {
  await gw.stop();
  await cloud.stop();
  await anthropic.close();
});

function client(key = backendKey): OpenAI {
  return new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
}

function numbered(): void {
  cloud.next((request, res) => sendJson(res, 200, completion(String(request.body.model), `Answer ${++answers}`)));
}

const question = { model: 'gpt-4o', messages: [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'How do I write a Login test?' }] };

describe('exact response cache', () => {
  it('answers a repeated request from the cache', async () => {
    numbered();
    const before = cloud.requests.length;
    const first = await client().chat.completions.create(question).withResponse();
    const second = await client().chat.completions.create(question).withResponse();
    expect(first.response.headers.get('x-airlock-cache')).toBe('miss');
    expect(second.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(second.data).toEqual(first.data);
    expect(cloud.requests.length).toBe(before + 1);

    const record = await admin('GET', `/requests/${second.response.headers.get('x-airlock-request-id')}`);
    expect(record.cacheStatus).toBe('hit-exact');
    expect(record.costUsd).toBe(0);
    expect(record.attempts).toEqual([]);
  });

  it('replays a stored answer as a stream', async () => {
    const stored = await client().chat.completions.create(question);
    const stream = client().chat.completions.stream({ ...question, stream: true, stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe(stored.choices[0]!.message.content);
    expect(final.usage?.total_tokens).toBe(17);
  });

  it('stores a streamed answer once it completed', async () => {
    const request = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'Stream me the steps.' }] };
    cloud.next((incoming, res) => {
      const chunks = textChunks('gpt-4o', ['Step one, ', 'step two.'], incoming.body.stream_options);
      return sendStream(res, chunks);
    });
    const streamed = await client().chat.completions.stream({ ...request, stream: true }).finalChatCompletion();
    expect(streamed.choices[0]!.message.content).toBe('Step one, step two.');
    const before = cloud.requests.length;
    const { data, response } = await client().chat.completions.create(request).withResponse();
    expect(response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(data.choices[0]!.message.content).toBe('Step one, step two.');
    expect(cloud.requests.length).toBe(before);
  });

  it('does not store a stream cut short', async () => {
    const request = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'A stream that breaks.' }] };
    cloud.next((incoming, res) => sendStream(res, textChunks('gpt-4o', ['partial ', 'answer', ' here'], incoming.body.stream_options), { cutAfter: 3 }));
    await client()
      .chat.completions.stream({ ...request, stream: true })
      .finalChatCompletion()
      .catch(() => undefined);
    numbered();
    const { response } = await client().chat.completions.create(request).withResponse();
    expect(response.headers.get('x-airlock-cache')).toBe('miss');
  });

  it('keeps teams apart', async () => {
    numbered();
    const { response } = await client(marketingKey).chat.completions.create(question).withResponse();
    expect(response.headers.get('x-airlock-cache')).toBe('miss');
  });

  it('misses when anything that changes the answer differs', async () => {
    const variants = [
      { ...question, messages: [question.messages[0]!, { role: 'user' as const, content: 'How do I write a Logout test?' }] },
      { ...question, messages: [{ role: 'system' as const, content: 'Be thorough.' }, question.messages[1]!] },
      { ...question, temperature: 0.9 },
      { ...question, tools: [{ type: 'function' as const, function: { name: 'run_tests', parameters: { type: 'object' } } }] },
    ];
    for (const variant of variants) {
      numbered();
      const { response } = await client().chat.completions.create(variant).withResponse();
      expect(response.headers.get('x-airlock-cache')).toBe('miss');
    }
  });

  it('skips on no-cache, no-store and the off header', async () => {
    for (const headers of [{ 'cache-control': 'no-cache' }, { 'cache-control': 'no-store' }, { 'x-airlock-cache': 'off' }, { 'x-airlock-cache': 'of' }]) {
      numbered();
      const { response } = await client().chat.completions.create(question, { headers }).withResponse();
      expect(response.headers.get('x-airlock-cache')).toMatch(/^skip; reason=/);
    }
  });

  it('refreshes on request', async () => {
    numbered();
    const refreshed = await client().chat.completions.create(question, { headers: { 'x-airlock-cache': 'refresh' } }).withResponse();
    expect(refreshed.response.headers.get('x-airlock-cache')).toBe('miss');
    const next = await client().chat.completions.create(question).withResponse();
    expect(next.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(next.data.choices[0]!.message.content).toBe(refreshed.data.choices[0]!.message.content);
  });

  it('does not store an answer from a fallback model', async () => {
    const request = { model: 'gpt-down', messages: [{ role: 'user' as const, content: 'Which model answers this?' }] };
    numbered();
    const first = await client().chat.completions.create(request).withResponse();
    expect(first.response.headers.get('x-airlock-fallback-from')).toBe('gpt-down');
    numbered();
    const second = await client().chat.completions.create(request).withResponse();
    expect(second.response.headers.get('x-airlock-cache')).toBe('miss; not stored: answered by a fallback model');
  });

  it('never stores an error', async () => {
    const request = { ...question, messages: [{ role: 'user' as const, content: 'A question that fails first.' }] };
    cloud.next((_request, res) => sendJson(res, 400, { error: { message: 'bad request', type: 'invalid_request_error', param: null, code: null } }));
    await client().chat.completions.create(request).catch(() => undefined);
    numbered();
    const { response } = await client().chat.completions.create(request).withResponse();
    expect(response.headers.get('x-airlock-cache')).toBe('miss');
  });

  it('skips requests the guard redacts', async () => {
    numbered();
    const request = { ...question, messages: [{ role: 'user' as const, content: 'Mail linh.nguyen@acme-corp.net the report.' }] };
    const { response } = await client().chat.completions.create(request).withResponse();
    expect(response.headers.get('x-airlock-cache')).toBe('skip; reason=guard redaction (set airlock.cache.store_redacted: true to cache redacted requests)');
  });

  it('answers the Anthropic surface from the cache', async () => {
    const messages = new Anthropic({ baseURL: gw.url, apiKey: backendKey, maxRetries: 0 });
    const request = { model: 'claude-sonnet', max_tokens: 50, messages: [{ role: 'user' as const, content: 'Explain the Login flow.' }] };
    const first = await messages.messages.create(request);
    const before = anthropic.requests.length;
    const replayed = await messages.messages.stream(request).finalMessage();
    expect(anthropic.requests.length).toBe(before);
    expect(replayed.content).toEqual(first.content);
  });

  it('reports and clears the cache', async () => {
    const stats = await admin('GET', '/cache');
    expect(stats.enabled).toBe(true);
    expect(stats.ttl_seconds).toBe(600);
    expect(stats.hits).toBeGreaterThanOrEqual(3);
    expect(stats.entries).toBeGreaterThanOrEqual(3);
    expect(stats.hits_exact).toBe(stats.hits - stats.hits_semantic);
    expect(stats.saved_usd).toBeGreaterThan(0);
    expect(stats.saved_ms).toBeGreaterThanOrEqual(0);
    const exactRows = stats.by_model_and_day.filter((row: { alias: string; status: string }) => row.alias === 'gpt-4o' && row.status === 'hit-exact');
    expect(exactRows.length).toBeGreaterThanOrEqual(1);
    expect(exactRows[0].saved_usd).toBeGreaterThan(0);
    const savings = await admin('GET', '/spend?by=team');
    const backend = savings.data.find((row: { group: string }) => row.group === 'backend');
    expect(backend.cache_hits).toBeGreaterThanOrEqual(3);

    const typo = await admin('DELETE', '/cache?namepsace=team:backend');
    expect(typo.error.param).toBe('namepsace');
    const unfiltered = await admin('DELETE', '/cache');
    expect(unfiltered.error.message).toContain('all=true');
    expect((await admin('GET', '/cache')).entries).toBe(stats.entries);
    const cleared = await admin('DELETE', '/cache?model=gpt-4o');
    expect(cleared.removed).toBeGreaterThanOrEqual(1);
    // Savings live in the audit log, so clearing the entries that earned them keeps them.
    expect((await admin('GET', '/cache')).saved_usd).toBe(stats.saved_usd);
    numbered();
    const { response } = await client().chat.completions.create(question).withResponse();
    expect(response.headers.get('x-airlock-cache')).toBe('miss');
  });
});

describe('semantic response cache', () => {
  const ask = (content: string, extra: Record<string, unknown> = {}) =>
    client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }], ...extra }).withResponse();

  it('answers a paraphrase from the cache', async () => {
    numbered();
    const first = await ask('How do I reverse a list in Python?');
    const before = cloud.requests.length;
    const second = await ask("What's the way to reverse a list in Python?");
    expect(second.response.headers.get('x-airlock-cache')).toBe('hit-semantic');
    expect(Number(second.response.headers.get('x-airlock-cache-score'))).toBeGreaterThanOrEqual(0.7);
    expect(second.data.choices[0]!.message.content).toBe(first.data.choices[0]!.message.content);
    expect(cloud.requests.length).toBe(before);
  });

  it('never answers Logout with Login', async () => {
    numbered();
    await ask('Write a unit test for the Login handler in auth.ts');
    numbered();
    const other = await ask('Write a unit test for the Logout handler in auth.ts');
    expect(other.response.headers.get('x-airlock-cache')).toBe('miss');
  });

  it('misses across system prompts, tools and models', async () => {
    numbered();
    await ask('How do I sort a dictionary by value in Python?');
    const variants: Array<Record<string, unknown>> = [
      { messages: [{ role: 'system', content: 'Answer in French.' }, { role: 'user', content: 'How can I sort a dictionary by value in Python?' }] },
      { tools: [{ type: 'function', function: { name: 'run', parameters: { type: 'object' } } }] },
      { model: 'claude-sonnet' },
    ];
    for (const variant of variants) {
      if (variant.model === undefined) numbered();
      const { response } = await client()
        .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'How can I sort a dictionary by value in Python?' }], ...variant } as never)
        .withResponse();
      expect(response.headers.get('x-airlock-cache')).toBe('miss');
    }
  });

  it('misses across teams', async () => {
    numbered();
    await ask('How do I remove duplicates from an array in JavaScript?');
    numbered();
    const other = await client(marketingKey)
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Remove duplicate values from a JavaScript array' }] })
      .withResponse();
    expect(other.response.headers.get('x-airlock-cache')).toBe('miss');
  });
});

describe('cache off by default', () => {
  it('sends every request upstream', async () => {
    const plain = await startTestGateway({
      model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }],
    });
    try {
      const openai = new OpenAI({ baseURL: `${plain.url}/v1`, apiKey: plain.userKey, maxRetries: 0 });
      numbered();
      numbered();
      const before = cloud.requests.length;
      const { response } = await openai.chat.completions.create(question).withResponse();
      await openai.chat.completions.create(question);
      expect(cloud.requests.length).toBe(before + 2);
      expect(response.headers.get('x-airlock-cache')).toBeNull();
    } finally {
      await plain.stop();
    }
  });
});
