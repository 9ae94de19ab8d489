import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { completion, OpenAIStub, sendJson } from './stubs/openai';

/*
 * The `ttl` and `s-maxage` fields of the request body's `cache` object take fractional seconds,
 * as airlock.cache.ttl_seconds does, through a real gateway and an OpenAI stub on loopback.
 */

let cloud: OpenAIStub;
let gw: TestGateway;
let answers = 0;

function numbered(): void {
  cloud.next((request, res) => sendJson(res, 200, completion(String(request.body.model), `Answer ${++answers}`)));
}

function ask(content: string, cache?: Record<string, unknown>) {
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
  const body = { model: 'gpt-4o', messages: [{ role: 'user' as const, content }], ...(cache === undefined ? {} : { cache }) };
  return client.chat.completions.create(body as never).withResponse() as Promise<{ data: OpenAI.ChatCompletion; response: Response }>;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  cloud = await new OpenAIStub().start();
  gw = await startTestGateway({
    model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }],
    // Semantic hits are off so that each check is about the exact tier's age limits.
    airlock: { cache: { enabled: true, namespace: 'key', semantic: { enabled: false } } },
  });
});

afterAll(async () => {
  await gw.stop();
  await cloud.stop();
});

describe('fractional seconds in the cache object', () => {
  it('stores with a fractional ttl', async () => {
    numbered();
    const stored = await ask('How do I list open ports on Linux?', { ttl: 0.6 });
    expect(stored.response.status).toBe(200);
    expect(stored.response.headers.get('x-airlock-cache')).toBe('miss');

    const served = await ask('How do I list open ports on Linux?');
    expect(served.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(served.data.choices[0]!.message.content).toBe(stored.data.choices[0]!.message.content);

    await pause(800);
    numbered();
    const expired = await ask('How do I list open ports on Linux?');
    expect(expired.response.headers.get('x-airlock-cache')).toBe('miss');
  });

  it('bounds the age with a fractional s-maxage', async () => {
    numbered();
    await ask('How do I tail a log in real time?', { ttl: 60 });
    const fresh = await ask('How do I tail a log in real time?', { 's-maxage': 0.5 });
    expect(fresh.response.status).toBe(200);
    expect(fresh.response.headers.get('x-airlock-cache')).toBe('hit-exact');

    await pause(700);
    numbered();
    const tooOld = await ask('How do I tail a log in real time?', { 's-maxage': 0.5 });
    expect(tooOld.response.headers.get('x-airlock-cache')).toBe('miss');
  });

  it.each([
    ['ttl above one year', { ttl: 31_536_000.5 }, 'cache.ttl', 'Invalid cache.ttl 31536000.5: expected a number of seconds from 0 to 31536000, such as 600 or 1.5.'],
    ['negative s-maxage', { 's-maxage': -0.5 }, 'cache.s-maxage', 'Invalid cache.s-maxage -0.5: expected a number of seconds from 0 to 31536000'],
    ['ttl as text', { ttl: '1.5' }, 'cache.ttl', 'Invalid cache.ttl "1.5": expected a number of seconds'],
  ])('rejects %s', async (_name, cache, param, message) => {
    const before = cloud.requests.length;
    const error = await ask('Hello', cache).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const apiError = error as InstanceType<typeof OpenAI.BadRequestError>;
    expect(apiError.param).toBe(param);
    expect(apiError.message).toContain(message);
    expect(cloud.requests.length).toBe(before);
  });
});
