import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { auditRecord, decodedRouteReason, reply, startOpenAIUpstream, type OpenAIUpstream } from './helpers/routing';
import { startOllamaStub, type OllamaStub } from './stubs/ollama';

/*
 * Each load-balancing strategy through a real gateway, checked against its definition in
 * routing/strategies.ts. Every describe block starts its own gateway, because routing_strategy
 * applies to the whole router. Requests are sent one after another unless a test states otherwise,
 * so the health numbers each choice reads are known.
 */

const key = 'os.environ/STUB_OPENAI_KEY';
const env = { STUB_OPENAI_KEY: 'sk-stub-openai-key' };
const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Hi' }];

interface Pool {
  gw: TestGateway;
  client: OpenAI;
}

async function startPool(routingStrategy: string, modelList: Array<Record<string, unknown>>): Promise<Pool> {
  const gw = await startTestGateway({ model_list: modelList, router_settings: { routing_strategy: routingStrategy } }, env);
  return { gw, client: new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 }) };
}

/** Send one request and return the response text and the decoded route reason. */
async function ask(pool: Pool, model = 'pool'): Promise<{ text: string; reason: string | null; headers: Headers }> {
  const { data, response } = await pool.client.chat.completions.create({ model, messages }).withResponse();
  return { text: data.choices[0]!.message.content ?? '', reason: decodedRouteReason(response.headers), headers: response.headers };
}

describe('latency-based', () => {
  let slow: OpenAIUpstream;
  let fast: OpenAIUpstream;
  let pool: Pool;

  beforeAll(async () => {
    slow = await startOpenAIUpstream('slow');
    fast = await startOpenAIUpstream('fast');
    slow.setDefault(reply('from slow', { delayMs: 150 }));
    pool = await startPool('latency-based-routing', [
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: slow.url } },
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: fast.url } },
    ]);
  });

  afterAll(async () => {
    await pool.gw.stop();
    await Promise.all([slow.close(), fast.close()]);
  });

  it('measures each deployment once, then prefers the faster one', async () => {
    // Warm-up: a deployment without a measurement goes first, in config order.
    const first = await ask(pool);
    expect(first.text).toBe('from slow');
    expect(first.reason).toBe('latency-based: pool#0 not measured yet vs not measured yet');
    const second = await ask(pool);
    expect(second.text).toBe('from fast');
    expect(second.reason).toMatch(/^latency-based: pool#1 not measured yet vs \d+ ms$/);

    for (let i = 0; i < 10; i++) {
      const { text, reason } = await ask(pool);
      expect(text).toBe('from fast');
      const [, fastMs, slowMs] = /^latency-based: pool#1 avg (\d+) ms vs (\d+) ms$/.exec(reason ?? '') ?? [];
      expect(Number(fastMs)).toBeLessThan(Number(slowMs));
    }
    expect(slow.requests).toHaveLength(1);
    expect(fast.requests).toHaveLength(11);
  });

  it('prefers the faster one for streams too', async () => {
    const { data, response } = await pool.client.chat.completions.create({ model: 'pool', messages, stream: true }).withResponse();
    let text = '';
    for await (const chunk of data) text += chunk.choices[0]?.delta?.content ?? '';

    expect(text).toBe('from fast');
    expect(decodedRouteReason(response.headers)).toMatch(/^latency-based: pool#1 avg \d+ ms vs \d+ ms$/);
  });
});

describe('usage-based', () => {
  let small: OpenAIUpstream;
  let large: OpenAIUpstream;
  let pool: Pool;

  beforeAll(async () => {
    small = await startOpenAIUpstream('small');
    large = await startOpenAIUpstream('large');
    pool = await startPool('usage-based-routing-v2', [
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: small.url, rpm: 2 } },
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: large.url, rpm: 6 } },
    ]);
  });

  afterAll(async () => {
    await pool.gw.stop();
    await Promise.all([small.close(), large.close()]);
  });

  it('balances by rpm utilization within limits', async () => {
    // Utilization is (requests in the last minute + 1) / rpm; a tie goes to fewer requests.
    // small (rpm 2) is at 1/2 before its first request, large (rpm 6) reaches that after two.
    const served: string[] = [];
    for (let i = 0; i < 8; i++) served.push((await ask(pool)).text.replace('from ', ''));

    expect(served).toEqual(['large', 'large', 'small', 'large', 'large', 'large', 'small', 'large']);
    expect(small.requests).toHaveLength(2);
    expect(large.requests).toHaveLength(6);
  });

  it('answers 429 once every deployment is at its rpm limit', async () => {
    // Both deployments used their whole rpm in the test above, so nothing may take this request.
    const before = small.requests.length + large.requests.length;
    const error = (await pool.client.chat.completions.create({ model: 'pool', messages }).catch((e: unknown) => e)) as InstanceType<
      typeof OpenAI.APIError
    >;

    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(429);
    expect(error.code).toBe('rate_limit_exceeded');
    expect(error.headers?.get('retry-after')).toBe('1');
    expect(error.message).toMatch(/Every deployment of 'pool' is at its rpm\/tpm limit/);
    expect(small.requests.length + large.requests.length).toBe(before);
    const record = await auditRecord(pool.gw, error.headers?.get('x-airlock-request-id') ?? null);
    expect(record.attempts.map((a) => a.errorKind)).toEqual(['rate_limited', 'rate_limited']);
  });

  it('keeps the percent sign of a utilization decodable in the header', async () => {
    const other = await startPool('usage-based', [
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: small.url, rpm: 4 } },
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: large.url, rpm: 2 } },
    ]);
    try {
      const { reason, headers } = await ask(other);

      expect(headers.get('x-airlock-route-reason')).toBe('usage-based: pool#0 at 25%25 of its rpm/tpm limit vs at 50%25 of its rpm/tpm limit');
      expect(reason).toBe('usage-based: pool#0 at 25% of its rpm/tpm limit vs at 50% of its rpm/tpm limit');
      const record = await auditRecord(other.gw, headers.get('x-airlock-request-id'));
      expect(record.routeReason).toBe(reason);
    } finally {
      await other.gw.stop();
    }
  });
});

describe('cost-based', () => {
  let dear: OpenAIUpstream;
  let cheap: OpenAIUpstream;
  let ollama: OllamaStub;
  let pool: Pool;

  beforeAll(async () => {
    dear = await startOpenAIUpstream('dear');
    cheap = await startOpenAIUpstream('cheap');
    ollama = await startOllamaStub();
    pool = await startPool('cost-based-routing', [
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: dear.url } },
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o-mini', api_key: key, api_base: cheap.url } },
      { model_name: 'mixed', litellm_params: { model: 'openai/gpt-4o-mini', api_key: key, api_base: cheap.url } },
      { model_name: 'mixed', litellm_params: { model: 'ollama/llama3.2', api_base: ollama.url } },
      {
        model_name: 'house',
        litellm_params: { model: 'openai/house-large', api_key: key, api_base: dear.url, input_cost_per_token: 0.000004, output_cost_per_token: 0.000012 },
      },
      {
        model_name: 'house',
        litellm_params: { model: 'openai/house-small', api_key: key, api_base: cheap.url, input_cost_per_token: 0.000001, output_cost_per_token: 0.000003 },
      },
    ]);
  });

  afterAll(async () => {
    await pool.gw.stop();
    await Promise.all([dear.close(), cheap.close(), ollama.close()]);
  });

  it('prefers the cheaper deployment', async () => {
    for (let i = 0; i < 5; i++) {
      const { text, reason } = await ask(pool);
      expect(text).toBe('from cheap');
      expect(reason).toBe('cost-based: pool#1 $0.75 per 1M tokens vs $12.5 per 1M tokens');
    }
    expect(dear.requests).toHaveLength(0);
  });

  it('prefers a local model over any price', async () => {
    const { text, reason, headers } = await ask(pool, 'mixed');

    expect(text).toBe('Hello from the stub.');
    expect(headers.get('x-airlock-model')).toBe('llama3.2');
    expect(reason).toBe('cost-based: mixed#3 free (local) vs $0.75 per 1M tokens');
  });

  it('reads prices set in litellm_params', async () => {
    const { headers, reason } = await ask(pool, 'house');

    expect(headers.get('x-airlock-model')).toBe('house-small');
    expect(reason).toBe('cost-based: house#5 $4 per 1M tokens vs $16 per 1M tokens');
  });
});

describe('least-busy', () => {
  let first: OpenAIUpstream;
  let second: OpenAIUpstream;
  let pool: Pool;

  beforeAll(async () => {
    first = await startOpenAIUpstream('first');
    second = await startOpenAIUpstream('second');
    pool = await startPool('least-busy', [
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: first.url } },
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: second.url } },
    ]);
  });

  afterAll(async () => {
    await pool.gw.stop();
    await Promise.all([first.close(), second.close()]);
  });

  it('prefers the idle deployment while the other holds a slow request', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    first.next(async (request, res) => {
      await gate;
      await reply('from first, slowly')(request, res);
    });

    const slowRequest = ask(pool);
    for (let waited = 0; waited < 2000 && first.requests.length === 0; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(first.requests).toHaveLength(1);

    for (let i = 0; i < 4; i++) {
      const { text, reason } = await ask(pool);
      expect(text).toBe('from second');
      expect(reason).toBe('least-busy: pool#1 0 in flight vs 1 in flight');
    }

    release();
    expect((await slowRequest).text).toBe('from first, slowly');
    // Both idle again: the tie goes to fewer requests in the last minute.
    const after = await ask(pool);
    expect(after.text).toBe('from first');
    expect(after.reason).toBe('least-busy: pool#0 0 in flight vs 0 in flight');
  });
});

describe('simple-shuffle', () => {
  let heavy: OpenAIUpstream;
  let light: OpenAIUpstream;
  let pool: Pool;

  beforeAll(async () => {
    heavy = await startOpenAIUpstream('heavy');
    light = await startOpenAIUpstream('light');
    pool = await startPool('simple-shuffle', [
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: heavy.url, weight: 3 } },
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: light.url, weight: 1 } },
    ]);
  });

  afterAll(async () => {
    await pool.gw.stop();
    await Promise.all([heavy.close(), light.close()]);
  });

  it('splits requests roughly by weight', async () => {
    const total = 400;
    const concurrency = 8;
    let sent = 0;
    const reasons = new Set<string>();
    const worker = async (): Promise<void> => {
      while (sent < total) {
        sent++;
        const { reason } = await ask(pool);
        if (reason !== null) reasons.add(reason);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));

    expect(heavy.requests.length + light.requests.length).toBe(total);
    // Expected share 3/4; with 400 draws its standard deviation is about 0.022, so these bounds are over 4 deviations wide.
    const share = heavy.requests.length / total;
    expect(share).toBeGreaterThan(0.65);
    expect(share).toBeLessThan(0.85);
    expect(reasons).toEqual(new Set(['simple-shuffle: pool#0 drawn with weight 3 of 4', 'simple-shuffle: pool#1 drawn with weight 1 of 4']));
  });
});
