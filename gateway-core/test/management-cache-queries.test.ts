import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { completion, OpenAIStub, sendJson } from './stubs/openai';

/*
 * Query parameters of GET and DELETE /airlock/api/cache on a real gateway: each malformed
 * request gets a 400 that names the parameter and the fix, and removes nothing.
 */

let cloud: OpenAIStub;
let gw: TestGateway;

interface ApiError {
  error: { message: string; type: string; param: string | null; code: string | null };
}

async function admin(method: string, path: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${gw.url}/airlock/api${path}`, { method, headers: { authorization: `Bearer ${gw.adminKey}` } });
  return { status: response.status, body: await response.json() };
}

async function rejected(method: string, path: string): Promise<ApiError['error']> {
  const { status, body } = await admin(method, path);
  expect(status).toBe(400);
  return (body as ApiError).error;
}

async function storeAnswer(content: string): Promise<void> {
  cloud.next((request, res) => sendJson(res, 200, completion(String(request.body.model), `Answer to ${content}`)));
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
  await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] });
}

async function entries(): Promise<number> {
  return (await admin('GET', '/cache')).body.entries as number;
}

beforeAll(async () => {
  cloud = await new OpenAIStub().start();
  gw = await startTestGateway({
    model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }],
    airlock: { cache: { enabled: true } },
  });
  await storeAnswer('What is a monad?');
});

afterAll(async () => {
  await gw.stop();
  await cloud.stop();
});

describe('DELETE /airlock/api/cache', () => {
  it.each([
    ['namespace', '/cache?namespace=', "Query parameter 'namespace' is empty; give a value such as namespace=team:backend, or leave the parameter out."],
    ['model', '/cache?model=', "Query parameter 'model' is empty; give a value such as model=gpt-4o, or leave the parameter out."],
    ['all', '/cache?all=', "Query parameter 'all' is empty; give a value such as all=true, or leave the parameter out."],
  ])('rejects an empty %s', async (param, path, message) => {
    const error = await rejected('DELETE', path);
    expect(error.param).toBe(param);
    expect(error.message).toBe(message);
    expect(await entries()).toBe(1);
  });

  it('rejects a repeated namespace', async () => {
    const error = await rejected('DELETE', '/cache?namespace=team:a&namespace=team:b');
    expect(error.param).toBe('namespace');
    expect(error.message).toBe("Query parameter 'namespace' is given 2 times; give it once.");
  });

  it.each([
    ['namespace', '/cache?all=true&namespace=team:backend'],
    ['model', '/cache?all=true&model=gpt-4o'],
    ['model before all', '/cache?model=gpt-4o&all=true'],
  ])('rejects all=true with %s', async (_name, path) => {
    const error = await rejected('DELETE', path);
    expect(error.type).toBe('invalid_request_error');
    expect(error.param).toBe('all');
    expect(error.message).toContain('all=true cannot be combined with namespace or model');
    expect(await entries()).toBe(1);
  });

  it('names the value of a wrong all', async () => {
    const error = await rejected('DELETE', '/cache?all=yes');
    expect(error.param).toBe('all');
    expect(error.message).toBe('Query parameter \'all\' is "yes"; pass all=true to remove every entry, or leave it out.');
  });

  it('removes every entry with all=true alone', async () => {
    await storeAnswer('What is a functor?');
    expect(await entries()).toBe(2);
    const { status, body } = await admin('DELETE', '/cache?all=true');
    expect(status).toBe(200);
    expect(body.removed).toBe(2);
    expect(await entries()).toBe(0);
  });
});

describe('GET /airlock/api/cache', () => {
  it('rejects an unknown parameter', async () => {
    const error = await rejected('GET', '/cache?foo=1');
    expect(error.param).toBe('foo');
    expect(error.message).toBe("Unknown query parameter 'foo'; use since and until, each an ISO 8601 time or milliseconds since the epoch.");
  });

  it('rejects since after until', async () => {
    const error = await rejected('GET', '/cache?since=2026-05-02T00:00:00Z&until=2026-05-01T00:00:00Z');
    expect(error.param).toBe('since');
    expect(error.message).toBe(
      "Query parameter 'since' (2026-05-02T00:00:00.000Z) must be before 'until' (2026-05-01T00:00:00.000Z); swap them or move since earlier.",
    );
  });

  it('rejects since equal to until', async () => {
    const error = await rejected('GET', '/cache?since=1700000000000&until=1700000000000');
    expect(error.param).toBe('since');
    expect(error.message).toContain('must be before');
  });

  it('compares since with now when until is absent', async () => {
    const future = Date.now() + 86_400_000;
    const error = await rejected('GET', `/cache?since=${future}`);
    expect(error.param).toBe('since');
    expect(error.message).toMatch(/must be before 'until' \(now, \d{4}-\d\d-\d\dT/);
  });

  it('rejects since beyond the range of dates', async () => {
    const error = await rejected('GET', '/cache?since=99999999999999999999');
    expect(error.message).toContain("Query parameter 'since' (100000000000000000000) must be before");
  });

  it('accepts since before until', async () => {
    const { status, body } = await admin('GET', '/cache?since=2026-05-01T00:00:00Z&until=2026-05-02T00:00:00Z');
    expect(status).toBe(200);
    expect(body.hits).toBe(0);
  });
});
