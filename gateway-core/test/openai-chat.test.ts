import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { OpenAIStub, completion, errorBody, sendJson, sendStream, textChunks, usage } from './stubs/openai';

let stub: OpenAIStub;
let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  stub = await new OpenAIStub().start();
  gw = await startTestGateway(
    {
      model_list: [
        { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_key: 'os.environ/STUB_OPENAI_KEY', api_base: stub.url } },
        {
          model_name: 'mystery',
          litellm_params: { model: 'openai/mystery-model', api_key: 'os.environ/STUB_OPENAI_KEY', api_base: stub.url, timeout: 1 },
        },
      ],
    },
    { STUB_OPENAI_KEY: 'sk-provider-secret-1234567890' },
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop();
  await stub.stop();
});

async function auditOf(requestId: string | null): Promise<Record<string, any>> {
  const res = await fetch(`${gw.url}/airlock/api/requests/${requestId}`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

describe('chat completions passthrough to OpenAI', () => {
  it('returns the upstream completion and records usage and cost', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Hello');
    expect(data.usage?.prompt_tokens).toBe(12);
    expect(stub.last.headers.authorization).toBe('Bearer sk-provider-secret-1234567890');
    const record = await auditOf(response.headers.get('x-airlock-request-id'));
    expect(record.httpStatus).toBe(200);
    expect(record.provider).toBe('openai');
    expect(record.providerModel).toBe('gpt-4o');
    expect(record.usage).toMatchObject({ inputTokens: 12, cacheReadTokens: 0, outputTokens: 5, source: 'reported' });
    // gpt-4o: $2.50 per 1M input, $10 per 1M output.
    expect(record.costUsd).toBeCloseTo((12 * 2.5 + 5 * 10) / 1e6, 12);
    expect(record.attempts).toHaveLength(1);
    expect(record.client).toBe('openai-node');
  });

  it('passes the body through JSON-equal apart from the model', async () => {
    const body = {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
      seed: 7,
      n: 2,
      logit_bias: { '50256': -100 },
      future_field: { nested: [1, 2] },
      response_format: { type: 'json_object' },
      stop: ['END'],
      max_tokens: 20,
    };
    await client.chat.completions.create(body as never);
    expect(Object.keys(stub.last.body)).toEqual(Object.keys(body));
    expect(stub.last.body).toEqual({ ...body, model: 'gpt-4o' });
  });

  it('subtracts cached tokens from uncached input', async () => {
    stub.next((req, res) =>
      sendJson(res, 200, {
        ...completion('gpt-4o', 'ok'),
        usage: { prompt_tokens: 1000, completion_tokens: 10, total_tokens: 1010, prompt_tokens_details: { cached_tokens: 600 } },
      }),
    );
    const { response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    const record = await auditOf(response.headers.get('x-airlock-request-id'));
    expect(record.usage).toMatchObject({ inputTokens: 400, cacheReadTokens: 600, outputTokens: 10 });
    expect(record.costUsd).toBeCloseTo((400 * 2.5 + 600 * 1.25 + 10 * 10) / 1e6, 12);
    expect(record.rawUsage.prompt_tokens_details.cached_tokens).toBe(600);
  });
});

describe('streaming passthrough', () => {
  it('streams text and hides the usage chunk the client did not ask for', async () => {
    let raw = '';
    stub.next((req, res) => sendStream(res, textChunks('gpt-4o', ['Hel', 'lo'], req.body.stream_options)));
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.userKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    raw = await response.text();
    expect(stub.last.body.stream_options).toEqual({ include_usage: true });
    expect(raw).not.toContain('"usage"');
    expect(raw.trim().endsWith('data: [DONE]')).toBe(true);
    const record = await auditOf(response.headers.get('x-airlock-request-id'));
    expect(record.usage).toMatchObject({ inputTokens: 12, outputTokens: 5, source: 'reported' });
    expect(record.ttftMs).not.toBeNull();
  });

  it('keeps the usage chunk when the client asked for it', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks[chunks.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(usage);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('Hello');
  });

  it('assembles text split inside a UTF-8 character and inside an event', async () => {
    const chunks = textChunks('gpt-4o', ['naïve ', '日本語'], { include_usage: true });
    const text = chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + 'data: [DONE]\n\n';
    const bytes = Buffer.from(text, 'utf8');
    const inChar = bytes.indexOf(Buffer.from('日', 'utf8')) + 1;
    const inEvent = bytes.indexOf(Buffer.from('"delta"', 'utf8')) + 3;
    const afterData = bytes.indexOf(Buffer.from('data: ', 'utf8'), 10) + 5;
    stub.next((req, res) => sendStream(res, chunks, { splitAt: [inEvent, afterData, inChar].sort((a, b) => a - b) }));
    const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Hi' }] });
    let out = '';
    for await (const chunk of stream) out += chunk.choices[0]?.delta?.content ?? '';
    expect(out).toBe('naïve 日本語');
  });

  it('assembles streamed tool call fragments', async () => {
    const base = { id: 'chatcmpl-t', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o' };
    const delta = (d: unknown, finish: string | null = null) => ({ ...base, choices: [{ index: 0, delta: d, logprobs: null, finish_reason: finish }] });
    stub.next((req, res) =>
      sendStream(res, [
        delta({ role: 'assistant', content: null }),
        delta({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
        delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
        delta({ tool_calls: [{ index: 0, function: { arguments: '"Hà Nội"}' } }] }),
        delta({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } }] }),
        delta({}, 'tool_calls'),
        { ...base, choices: [], usage },
      ]),
    );
    const runner = client.chat.completions.stream({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
    });
    const final = await runner.finalChatCompletion();
    const calls = final.choices[0]!.message.tool_calls!;
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ id: 'call_a', function: { name: 'get_weather', arguments: '{"city":"Hà Nội"}' } });
    expect(calls[1]).toMatchObject({ id: 'call_b', function: { name: 'get_time', arguments: '{}' } });
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('sends an in-band error when the upstream cuts the stream after content', async () => {
    stub.next((req, res) => sendStream(res, textChunks('gpt-4o', ['partial', ' answer']), { cutAfter: 2 }));
    const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Hi' }] });
    let out = '';
    await expect(
      (async () => {
        for await (const chunk of stream) out += chunk.choices[0]?.delta?.content ?? '';
      })(),
    ).rejects.toThrow(/closed the (stream|connection) before/);
    expect(out).toBe('partial');
  });

  it('answers an error status when the upstream closes before any content', async () => {
    stub.next((req, res) => sendStream(res, textChunks('gpt-4o', ['x']), { cutAfter: 1 }));
    const error = await client.chat.completions
      .create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_error');
  });
});

describe('upstream failures', () => {
  it('maps a provider 429 with Retry-After', async () => {
    stub.next((req, res) => sendJson(res, 429, errorBody('Rate limit reached', 'requests', 'rate_limit_exceeded'), { 'retry-after': '7' }));
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.userKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    const body = (await res.json()) as { error: { type: string; code: string } };
    expect(body.error.type).toBe('rate_limit_exceeded');
  });

  it('answers 502 for a body that is not JSON', async () => {
    stub.next((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('<html>proxy error</html>');
    });
    const error = (await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }).catch((e) => e)) as InstanceType<
      typeof OpenAI.APIError
    >;
    expect(error.status).toBe(502);
    expect(error.code).toBe('upstream_error');
  });

  it('times out an upstream that never answers and records 504', async () => {
    stub.next(() => undefined);
    const { error, requestId } = await client.chat.completions
      .create({ model: 'mystery', messages: [{ role: 'user', content: 'Hi' }] })
      .then(() => ({ error: null, requestId: null }))
      .catch((e: InstanceType<typeof OpenAI.APIError>) => ({ error: e, requestId: e.headers?.get('x-airlock-request-id') ?? null }));
    expect(error?.status).toBe(504);
    expect(error?.code).toBe('upstream_timeout');
    const record = await auditOf(requestId);
    expect(record.errorKind).toBe('upstream_timeout');
    expect(record.attempts[0].errorKind).toBe('upstream_timeout');
  });

  it('does not put the provider key in errors when the provider rejects it', async () => {
    stub.next((req, res) => sendJson(res, 401, errorBody('Incorrect API key provided: sk-provider-secret-1234567890', 'invalid_request_error', 'invalid_api_key')));
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.userKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }),
    });
    const text = await res.text();
    expect(res.status).toBe(502);
    expect(text).not.toContain('sk-provider-secret');
    expect(gw.logs.join('')).not.toContain('sk-provider-secret');
  });
});

describe('prices', () => {
  it('records an unknown price as null cost with a flag', async () => {
    const { response } = await client.chat.completions.create({ model: 'mystery', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    const record = await auditOf(response.headers.get('x-airlock-request-id'));
    expect(record.costUsd).toBeNull();
    expect(record.pricing).toBe('unknown');
    expect(record.flags).toContain('price_unknown');
  });
});
