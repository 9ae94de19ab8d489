import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { messageBody, startAnthropicStub, type AnthropicStub } from './stubs/anthropic';
import { completion, OpenAIStub, sendJson } from './stubs/openai';

/*
 * LiteLLM's per-request cache controls, a `cache` object in the body, through a real gateway on
 * both surfaces: each control's effect, the field never reaching the provider, and clear errors
 * for malformed values.
 */

let cloud: OpenAIStub;
let anthropic: AnthropicStub;
let gw: TestGateway;
let otherKey: string;
let answers = 0;

function numbered(): void {
  cloud.next((request, res) => sendJson(res, 200, completion(String(request.body.model), `Answer ${++answers}`)));
}

function client(key = gw.userKey): OpenAI {
  return new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
}

/** Sends one question with an optional `cache` object, as the OpenAI SDK's extra_body would. */
function ask(content: string, cache?: Record<string, unknown>, key?: string) {
  const body = { model: 'gpt-4o', messages: [{ role: 'user' as const, content }], ...(cache === undefined ? {} : { cache }) };
  return client(key).chat.completions.create(body as never).withResponse() as Promise<{ data: OpenAI.ChatCompletion; response: Response }>;
}

function contentOf(data: OpenAI.ChatCompletion): string | null {
  return data.choices[0]!.message.content;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  cloud = await new OpenAIStub().start();
  anthropic = await startAnthropicStub();
  anthropic.setHandler(() => ({ kind: 'message', body: messageBody([{ type: 'text', text: `Anthropic answer ${++answers}` }]) }));
  gw = await startTestGateway({
    model_list: [
      { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } },
      { model_name: 'claude-sonnet', litellm_params: { model: 'anthropic/claude-sonnet-4-5', api_base: anthropic.url, api_key: 'sk-stub' } },
    ],
    // Semantic hits are off here so that each check is about the exact tier's controls.
    airlock: { cache: { enabled: true, namespace: 'key', semantic: { enabled: false } } },
  });
  const created = await fetch(`${gw.url}/airlock/api/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'other' }),
  });
  otherKey = ((await created.json()) as { key: string }).key;
});

afterAll(async () => {
  await gw.stop();
  await cloud.stop();
  await anthropic.close();
});

describe('cache object in the request body', () => {
  it('never reaches the provider', async () => {
    numbered();
    await ask('What is a monad?', { ttl: 60 });
    expect(cloud.last.body).not.toHaveProperty('cache');
    expect(cloud.last.rawBody).not.toContain('"cache"');
  });

  it('no-cache asks again and stores the new answer', async () => {
    numbered();
    const first = await ask('Explain CORS preflight requests');
    numbered();
    const fresh = await ask('Explain CORS preflight requests', { 'no-cache': true });
    expect(fresh.response.headers.get('x-airlock-cache')).toBe('miss');
    expect(contentOf(fresh.data)).not.toBe(contentOf(first.data));

    const later = await ask('Explain CORS preflight requests');
    expect(later.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(contentOf(later.data)).toBe(contentOf(fresh.data));
  });

  it('no-store serves a hit but stores nothing new', async () => {
    numbered();
    const unstored = await ask('What does git bisect do?', { 'no-store': true });
    expect(unstored.response.headers.get('x-airlock-cache')).toBe('miss; not stored: cache: no-store');
    numbered();
    const second = await ask('What does git bisect do?');
    expect(second.response.headers.get('x-airlock-cache')).toBe('miss');
    expect(contentOf(second.data)).not.toBe(contentOf(unstored.data));

    const served = await ask('What does git bisect do?', { 'no-store': true });
    expect(served.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(contentOf(served.data)).toBe(contentOf(second.data));
  });

  it('use-cache false skips the cache', async () => {
    numbered();
    await ask('Why is my Docker image so large?');
    numbered();
    const skipped = await ask('Why is my Docker image so large?', { 'use-cache': false });
    expect(skipped.response.headers.get('x-airlock-cache')).toBe('skip; reason=cache: use-cache false');
    expect(contentOf(skipped.data)).toBe(`Answer ${answers}`);
  });

  it('ttl and s-maxage bound the age', async () => {
    numbered();
    const stored = await ask('How do I list open ports on Linux?', { ttl: 1 });
    numbered();
    const kept = await ask('How do I tail a log in real time?', { ttl: 60 });
    await pause(1100);

    numbered();
    const expired = await ask('How do I list open ports on Linux?');
    expect(expired.response.headers.get('x-airlock-cache')).toBe('miss');
    expect(contentOf(expired.data)).not.toBe(contentOf(stored.data));

    numbered();
    const tooOld = await ask('How do I tail a log in real time?', { 's-maxage': 1 });
    expect(tooOld.response.headers.get('x-airlock-cache')).toBe('miss');
    const recentEnough = await ask('How do I list open ports on Linux?', { 's-maxage': 60 });
    expect(recentEnough.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(contentOf(recentEnough.data)).toBe(contentOf(expired.data));
    expect(contentOf(kept.data)).not.toBe(contentOf(tooOld.data));
  });

  it('namespace narrows but never widens', async () => {
    numbered();
    const scoped = await ask('Summarize the release notes', { namespace: 'release-7' });
    numbered();
    const unscoped = await ask('Summarize the release notes');
    expect(unscoped.response.headers.get('x-airlock-cache')).toBe('miss');

    const again = await ask('Summarize the release notes', { namespace: 'release-7' });
    expect(again.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(contentOf(again.data)).toBe(contentOf(scoped.data));

    numbered();
    const otherOwner = await ask('Summarize the release notes', { namespace: 'release-7' }, otherKey);
    expect(otherOwner.response.headers.get('x-airlock-cache')).toBe('miss');
  });

  it('works on the Anthropic surface', async () => {
    const messages = new Anthropic({ baseURL: gw.url, apiKey: gw.userKey, maxRetries: 0 });
    const body = { model: 'claude-sonnet', max_tokens: 64, messages: [{ role: 'user' as const, content: 'What is eventual consistency?' }] };
    const first = await messages.messages.create(body);
    const fresh = await messages.messages.create({ ...body, cache: { 'no-cache': true } } as never).withResponse();
    expect(fresh.response.headers.get('x-airlock-cache')).toBe('miss');
    expect(anthropic.requests.at(-1)?.body).not.toHaveProperty('cache');
    expect(JSON.stringify((fresh.data as Anthropic.Message).content)).not.toBe(JSON.stringify(first.content));
  });
});

describe('malformed cache object', () => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['not an object', true, 'cache', /Invalid cache true: expected an object/],
    ['ttl as text', { ttl: '60' }, 'cache.ttl', /Invalid cache\.ttl "60": expected a number of seconds/],
    ['negative s-maxage', { 's-maxage': -1 }, 'cache.s-maxage', /Invalid cache\.s-maxage -1/],
    ['flag as text', { 'no-cache': 'yes' }, 'cache.no-cache', /Invalid cache\.no-cache "yes": expected true or false/],
    ['unknown field', { 'max-age': 5 }, 'cache.max-age', /Unknown cache field "max-age": expected one of no-cache, no-store/],
    ['namespace with spaces', { namespace: 'team a' }, 'cache.namespace', /Invalid cache\.namespace "team a"/],
  ];

  it.each(cases)('rejects %s on the OpenAI surface', async (_name, cache, param, message) => {
    const before = cloud.requests.length;
    const error = await ask('Hello', cache as Record<string, unknown>).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const apiError = error as InstanceType<typeof OpenAI.BadRequestError>;
    expect(apiError.status).toBe(400);
    expect(apiError.type).toBe('invalid_request_error');
    expect(apiError.param).toBe(param);
    expect(apiError.message).toMatch(message);
    expect(cloud.requests.length).toBe(before);
  });

  it('rejects in the Anthropic error shape', async () => {
    const response = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': gw.userKey, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }], cache: { ttl: 'soon' } }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/Invalid cache\.ttl "soon"/);
  });

  it('keeps serving after a rejection', async () => {
    numbered();
    const { response } = await ask('Is the gateway still up?');
    expect(response.status).toBe(200);
  });
});

describe('cache object with the cache off', () => {
  it('is removed before the provider', async () => {
    const plain = await startTestGateway({
      model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }],
    });
    try {
      numbered();
      const openai = new OpenAI({ baseURL: `${plain.url}/v1`, apiKey: plain.userKey, maxRetries: 0 });
      const { response } = await openai.chat.completions
        .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], cache: { 'no-store': true } } as never)
        .withResponse();
      expect(response.status).toBe(200);
      expect(cloud.last.body).not.toHaveProperty('cache');
    } finally {
      await plain.stop();
    }
  });
});

describe('opt-in cache', () => {
  let optIn: TestGateway;

  beforeAll(async () => {
    optIn = await startTestGateway({
      model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }],
      litellm_settings: { cache: true, cache_params: { type: 'local', mode: 'default_off' } },
    });
  });

  afterAll(async () => {
    await optIn.stop();
  });

  it('caches only requests that opt in', async () => {
    const openai = new OpenAI({ baseURL: `${optIn.url}/v1`, apiKey: optIn.userKey, maxRetries: 0 });
    const question = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'What is a race condition?' }] };
    numbered();
    const plain = await openai.chat.completions.create(question).withResponse();
    expect(plain.response.headers.get('x-airlock-cache')).toBe('skip; reason=opt-in only (send cache: {"use-cache": true})');

    numbered();
    const first = await openai.chat.completions.create({ ...question, cache: { 'use-cache': true } } as never).withResponse();
    expect(first.response.headers.get('x-airlock-cache')).toBe('miss');
    const second = await openai.chat.completions.create({ ...question, cache: { 'use-cache': true } } as never).withResponse();
    expect(second.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(contentOf(second.data as OpenAI.ChatCompletion)).toBe(contentOf(first.data as OpenAI.ChatCompletion));

    const status = await fetch(`${optIn.url}/airlock/api/cache`, { headers: { authorization: `Bearer ${optIn.adminKey}` } });
    expect(((await status.json()) as { opt_in: boolean }).opt_in).toBe(true);
  });
});

describe('cache ttl from the body', () => {
  it('never outlives the configured ttl', async () => {
    const short = await startTestGateway({
      model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }],
      airlock: { cache: { enabled: true, ttl_seconds: 1, semantic: { enabled: false } } },
    });
    try {
      const openai = new OpenAI({ baseURL: `${short.url}/v1`, apiKey: short.userKey, maxRetries: 0 });
      const question = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'Keep this for a year' }], cache: { ttl: 31_536_000 } };
      numbered();
      await openai.chat.completions.create(question as never);
      await pause(1100);
      numbered();
      const later = await openai.chat.completions.create(question as never).withResponse();
      expect(later.response.headers.get('x-airlock-cache')).toBe('miss');
    } finally {
      await short.stop();
    }
  });
});

