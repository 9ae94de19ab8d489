import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { refusedUrl } from './helpers/routing';
import { completion, OpenAIStub, sendJson } from './stubs/openai';

/*
 * The semantic tier through a real gateway with its default settings: on with the cache, the
 * content-words check, namespaces, and what happens when the embedder is an OpenAI-compatible
 * server that scores every pair as identical, or is down.
 */

let cloud: OpenAIStub;
let answers = 0;

function numbered(): void {
  cloud.next((request, res) => sendJson(res, 200, completion(String(request.body.model), `Answer ${++answers}`)));
}

function modelList(): unknown[] {
  return [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }];
}

async function createKey(gateway: TestGateway, name: string): Promise<string> {
  const response = await fetch(`${gateway.url}/airlock/api/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gateway.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { key: string }).key;
}

function ask(gateway: TestGateway, key: string, content: string) {
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0 });
  return client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] }).withResponse();
}

beforeAll(async () => {
  cloud = await new OpenAIStub().start();
});

afterAll(async () => {
  await cloud.stop();
});

describe('semantic tier with default settings', () => {
  let gw: TestGateway;
  let otherKey: string;

  beforeAll(async () => {
    gw = await startTestGateway({ model_list: modelList(), airlock: { cache: { enabled: true, namespace: 'key' } } });
    otherKey = await createKey(gw, 'other');
  });

  afterAll(async () => {
    await gw.stop();
  });

  it('is on once the cache is on', async () => {
    numbered();
    const first = await ask(gw, gw.userKey, 'How do I undo the last commit in git?');
    const before = cloud.requests.length;
    const second = await ask(gw, gw.userKey, 'undo the last commit in git');
    expect(second.response.headers.get('x-airlock-cache')).toBe('hit-semantic');
    expect(Number(second.response.headers.get('x-airlock-cache-score'))).toBeGreaterThanOrEqual(0.7);
    expect(second.data.choices[0]!.message.content).toBe(first.data.choices[0]!.message.content);
    expect(cloud.requests.length).toBe(before);
  });

  it('misses a swapped word no list names', async () => {
    numbered();
    await ask(gw, gw.userKey, 'Deep clone an object in JavaScript');
    numbered();
    const before = cloud.requests.length;
    const other = await ask(gw, gw.userKey, 'Shallow clone an object in JavaScript');
    expect(other.response.headers.get('x-airlock-cache')).toBe('miss');
    expect(other.data.choices[0]!.message.content).toBe(`Answer ${answers}`);
    expect(cloud.requests.length).toBe(before + 1);
  });

  it('keeps namespaces apart', async () => {
    numbered();
    await ask(gw, gw.userKey, 'How do I rename a branch in git?');
    numbered();
    const other = await ask(gw, otherKey, 'rename a branch in git');
    expect(other.response.headers.get('x-airlock-cache')).toBe('miss');
    const own = await ask(gw, gw.userKey, 'rename a branch in git');
    expect(own.response.headers.get('x-airlock-cache')).toBe('hit-semantic');
  });
});

describe('semantic tier with a server embedder', () => {
  let gw: TestGateway;
  let embedder: OpenAIStub;

  beforeAll(async () => {
    // The stub's /v1/embeddings returns one vector for every input, so every pair scores 1.0 and
    // only the lexical check decides.
    embedder = await new OpenAIStub().start();
    gw = await startTestGateway({
      model_list: modelList(),
      airlock: { cache: { enabled: true, semantic: { threshold: 0.9, embedder: { kind: 'openai', api_base: embedder.url, model: 'embed-stub', api_key: 'sk-embed' } } } },
    });
  });

  afterAll(async () => {
    await gw.stop();
    await embedder.stop();
  });

  it('serves a paraphrase and refuses a swap at score 1.0', async () => {
    numbered();
    await ask(gw, gw.userKey, 'How do I make all properties optional in a TypeScript type?');
    const paraphrase = await ask(gw, gw.userKey, 'make all properties optional in a TypeScript type');
    expect(paraphrase.response.headers.get('x-airlock-cache')).toBe('hit-semantic');
    expect(paraphrase.response.headers.get('x-airlock-cache-score')).toBe('1.0000');

    numbered();
    const swap = await ask(gw, gw.userKey, 'How do I make all properties required in a TypeScript type?');
    expect(swap.response.headers.get('x-airlock-cache')).toBe('miss');
    expect(embedder.requests.every((request) => request.path === '/v1/embeddings')).toBe(true);
    expect(embedder.last.headers.authorization).toBe('Bearer sk-embed');
  });
});

describe('semantic tier with an embedder that is down', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({
      model_list: modelList(),
      airlock: { cache: { enabled: true, semantic: { threshold: 0.9, embedder: { kind: 'openai', api_base: await refusedUrl('/v1'), model: 'embed-stub' } } } },
    });
  });

  afterAll(async () => {
    await gw.stop();
  });

  it('answers from the provider and keeps the exact tier', async () => {
    // A slow first answer, so the hit's time saved is measurable.
    cloud.next(async (request, res) => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      sendJson(res, 200, completion(String(request.body.model), `Answer ${++answers}`));
    });
    const before = cloud.requests.length;
    const first = await ask(gw, gw.userKey, 'Why does my Docker build cache miss every time?');
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get('x-airlock-cache')).toBe('miss');
    expect(first.data.choices[0]!.message.content).toBe(`Answer ${answers}`);
    expect(cloud.requests.length).toBe(before + 1);

    const repeat = await ask(gw, gw.userKey, 'Why does my Docker build cache miss every time?');
    expect(repeat.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(cloud.requests.length).toBe(before + 1);

    const response = await fetch(`${gw.url}/airlock/api/cache`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    const stats = (await response.json()) as { hits_exact: number; misses: number; saved_usd: number; saved_ms: number };
    expect(stats.hits_exact).toBe(1);
    expect(stats.misses).toBe(1);
    expect(stats.saved_usd).toBeGreaterThan(0);
    expect(stats.saved_ms).toBeGreaterThan(100);
  });
});
