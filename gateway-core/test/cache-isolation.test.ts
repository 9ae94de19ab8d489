import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { refusedUrl } from './helpers/routing';
import { messageBody, startAnthropicStub, type AnthropicStub } from './stubs/anthropic';
import { completion, OpenAIStub, sendJson, sendStream, textChunks } from './stubs/openai';

/*
 * What keeps one cached answer from reaching a request it does not belong to, through a real
 * gateway: the model id a wildcard entry sends, request headers that change the answer,
 * sub-namespaces, and redacted values in any letter case. Also the headers and usage a hit or an
 * unstored miss reports.
 */

let cloud: OpenAIStub;
let anthropic: AnthropicStub;
let gw: TestGateway;
let answers = 0;

function numbered(): void {
  cloud.next((request, res) => sendJson(res, 200, completion(String(request.body.model), `Answer ${++answers}`)));
}

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${gw.url}/airlock/api${path}`, {
    method,
    headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

function openai(key = gw.userKey): OpenAI {
  return new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
}

function databaseText(dataDir: string): string {
  return readdirSync(dataDir)
    .filter((name) => name.startsWith('airlock.db'))
    .map((name) => readFileSync(join(dataDir, name)).toString('latin1'))
    .join('\n');
}

beforeAll(async () => {
  cloud = await new OpenAIStub().start();
  anthropic = await startAnthropicStub();
  anthropic.setHandler((request) => ({ kind: 'message', body: messageBody([{ type: 'text', text: `Anthropic answer ${++answers}` }], { model: String((request.body as { model?: unknown }).model) }) }));
  gw = await startTestGateway({
    model_list: [
      { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } },
      { model_name: 'claude-*', litellm_params: { model: 'anthropic/claude-*', api_base: anthropic.url, api_key: 'sk-stub' } },
      { model_name: 'claude-named', litellm_params: { model: 'anthropic/claude-sonnet-4-5', api_base: anthropic.url, api_key: 'sk-stub' } },
      { model_name: 'gpt-down', litellm_params: { model: 'openai/gpt-4o', api_base: await refusedUrl('/v1'), api_key: 'sk-stub' } },
    ],
    router_settings: { fallbacks: [{ 'gpt-down': ['gpt-4o'] }] },
    airlock: {
      cache: { enabled: true, store_redacted: true, semantic: { enabled: false } },
      guard: { rules: [{ name: 'project_codename', words: ['Nightjar'] }] },
      governance: { teams: [{ id: 'backend' }, { id: 'backend/alpha' }] },
    },
  });
});

afterAll(async () => {
  await gw.stop();
  await cloud.stop();
  await anthropic.close();
});

describe('cache keys', () => {
  it('keeps each model id of a wildcard entry apart', async () => {
    const messages = new Anthropic({ baseURL: gw.url, apiKey: gw.userKey, maxRetries: 0 });
    const ask = (model: string) => messages.messages.create({ model, max_tokens: 50, messages: [{ role: 'user', content: 'Which model are you?' }] }).withResponse();
    const opus = await ask('claude-opus-4-1');
    const haiku = await ask('claude-3-5-haiku-20241022');
    expect(haiku.response.headers.get('x-airlock-cache')).toBe('miss');
    expect(haiku.data.model).toBe('claude-3-5-haiku-20241022');
    const opusAgain = await ask('claude-opus-4-1');
    expect(opusAgain.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(opusAgain.response.headers.get('x-airlock-model')).toBe('claude-opus-4-1');
    expect(opusAgain.data.content).toEqual(opus.data.content);

    const cleared = await admin('DELETE', '/cache?model=claude-opus-4-1');
    expect(cleared.json.removed).toBe(1);
    expect((await ask('claude-3-5-haiku-20241022')).response.headers.get('x-airlock-cache')).toBe('hit-exact');
    // A configured name that merely starts like the wildcard keeps its answers.
    await ask('claude-named');
    const wildcard = await admin('DELETE', '/cache?model=claude-*');
    expect(wildcard.json.removed).toBe(1);
    expect((await ask('claude-3-5-haiku-20241022')).response.headers.get('x-airlock-cache')).toBe('miss');
    expect((await ask('claude-named')).response.headers.get('x-airlock-cache')).toBe('hit-exact');
  });

  it('includes the anthropic-beta header', async () => {
    const messages = new Anthropic({ baseURL: gw.url, apiKey: gw.userKey, maxRetries: 0 });
    const body = { model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user' as const, content: 'Summarise this long file.' }] };
    await messages.messages.create(body);
    const beta = await messages.messages.create(body, { headers: { 'anthropic-beta': 'context-1m-2025-08-07' } }).withResponse();
    expect(beta.response.headers.get('x-airlock-cache')).toBe('miss');
    expect(anthropic.requests.at(-1)?.headers['anthropic-beta']).toBe('context-1m-2025-08-07');
    const betaAgain = await messages.messages.create(body, { headers: { 'anthropic-beta': 'context-1m-2025-08-07' } }).withResponse();
    expect(betaAgain.response.headers.get('x-airlock-cache')).toBe('hit-exact');
  });
});

describe('sub-namespaces', () => {
  it('never match a team whose id contains a slash', async () => {
    expect((await admin('POST', '/users', { id: 'alice', team_id: 'backend' })).status).toBe(201);
    expect((await admin('POST', '/users', { id: 'eve', team_id: 'backend/alpha' })).status).toBe(201);
    const alice = (await admin('POST', '/keys', { name: 'alice-key', user: 'alice' })).json.key as string;
    const eve = (await admin('POST', '/keys', { name: 'eve-key', user: 'eve' })).json.key as string;
    const question = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'What is the release plan?' }] };

    numbered();
    await openai(alice).chat.completions.create({ ...question, cache: { namespace: 'alpha' } } as never);
    numbered();
    const fromEve = await openai(eve).chat.completions.create(question).withResponse();
    expect(fromEve.response.headers.get('x-airlock-cache')).toBe('miss');
    const aliceAgain = await openai(alice).chat.completions.create({ ...question, cache: { namespace: 'alpha' } } as never).withResponse();
    expect(aliceAgain.response.headers.get('x-airlock-cache')).toBe('hit-exact');

    // Clearing the owner's namespace clears its sub-namespaces too, and no other owner's entries.
    const cleared = await admin('DELETE', '/cache?namespace=team:backend');
    expect(cleared.json.removed).toBe(1);
    const eveAgain = await openai(eve).chat.completions.create(question).withResponse();
    expect(eveAgain.response.headers.get('x-airlock-cache')).toBe('hit-exact');
  });
});

describe('redacted answers', () => {
  it('store a code name in no letter case', async () => {
    cloud.next((request, res) => sendJson(res, 200, completion(String(request.body.model), 'Nightjars sing. NIGHTJAR ships; nightjar_db holds [PROJECT_CODENAME_1].')));
    const first = await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Tell me about Nightjar' }] }).withResponse();
    expect(first.response.headers.get('x-airlock-guard')).toBe('redact');
    const again = await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Tell me about Nightjar' }] }).withResponse();
    expect(again.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(again.data.choices[0]!.message.content).toContain('Nightjar ships; Nightjar_db holds Nightjar.');
    expect(databaseText(gw.dataDir).toLowerCase()).not.toContain('nightjar');
  });

  it('are not stored when the guard still finds a value', async () => {
    cloud.next((request, res) => sendJson(res, 200, completion(String(request.body.model), 'Write to ops.lead@acme-corp.net about [PROJECT_CODENAME_1].')));
    const first = await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Who owns Nightjar?' }] }).withResponse();
    expect(first.response.headers.get('x-airlock-cache')).toBe('miss; not stored: the guard finds a value in the answer');
    numbered();
    const again = await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Who owns Nightjar?' }] }).withResponse();
    expect(again.response.headers.get('x-airlock-cache')).toBe('miss');
    expect(databaseText(gw.dataDir)).not.toContain('ops.lead@acme-corp.net');
  });
});

describe('hit and miss reporting', () => {
  it('keeps usage of an answer streamed without it', async () => {
    cloud.next((request, res) => sendStream(res, textChunks(String(request.body.model), ['Streamed ', 'answer.'], request.body.stream_options)));
    const stream = await openai().chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Stream without usage' }] });
    for await (const chunk of stream) expect(chunk.usage ?? null).toBeNull();

    const hit = await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Stream without usage' }] }).withResponse();
    expect(hit.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(hit.data.usage?.completion_tokens).toBeGreaterThan(0);
    const replay = await openai().chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Stream without usage' }],
    });
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    for await (const chunk of replay) usage = chunk.usage ?? usage;
    expect(usage?.total_tokens).toBeGreaterThan(0);
  });

  it('says why a miss is not stored', async () => {
    numbered();
    const noStore = await openai()
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Do not keep this' }], cache: { 'no-store': true } } as never)
      .withResponse();
    expect(noStore.response.headers.get('x-airlock-cache')).toBe('miss; not stored: cache: no-store');

    numbered();
    const fallback = await openai().chat.completions.create({ model: 'gpt-down', messages: [{ role: 'user', content: 'Falls back' }] }).withResponse();
    expect(fallback.response.headers.get('x-airlock-fallback-from')).toBe('gpt-down');
    expect(fallback.response.headers.get('x-airlock-cache')).toBe('miss; not stored: answered by a fallback model');
  });
});

describe('spend of cache hits', () => {
  it('is grouped under the model that wrote the answer', async () => {
    numbered();
    await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Spend by model probe' }] });
    const hit = await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Spend by model probe' }] }).withResponse();
    expect(hit.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    const spend = await admin('GET', '/spend?by=model');
    const rows = spend.json.data as Array<{ group: string | null; cache_hits: number }>;
    expect(rows.find((row) => row.group === 'gpt-4o')?.cache_hits).toBeGreaterThanOrEqual(1);
    expect(rows.filter((row) => row.group === null && row.cache_hits > 0)).toEqual([]);
  });
});

describe('embedder failures', () => {
  it('are logged once a minute', async () => {
    const down = await startTestGateway({
      model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }],
      airlock: { cache: { enabled: true, semantic: { threshold: 0.9, embedder: { kind: 'openai', api_base: await refusedUrl('/v1'), model: 'embed' } } } },
    });
    try {
      const client = new OpenAI({ baseURL: `${down.url}/v1`, apiKey: down.userKey, maxRetries: 0 });
      for (const question of ['first question', 'second question', 'third question']) {
        numbered();
        const { response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: question }] }).withResponse();
        expect(response.status).toBe(200);
      }
      const failures = down.logs.filter((line) => line.includes('the cache embedder failed'));
      expect(failures).toHaveLength(1);
    } finally {
      await down.stop();
    }
  });
});
