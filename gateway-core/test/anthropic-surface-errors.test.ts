import { request as httpRequest } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/storage/audit';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { errorEvent, startAnthropicStub, streamEvents, type AnthropicStub, type StubBehaviour } from './stubs/anthropic';
import { startOllamaStub, type OllamaStub } from './stubs/ollama';
import { OpenAIStub, errorBody, sendJson, sendStream, textChunks } from './stubs/openai';

/*
 * Errors on the Anthropic Messages surface. Each failure arrives in Anthropic's envelope
 * {"type":"error","error":{"type","message"}} with its status. A committed stream ends with
 * message_stop or an `event: error` that the official SDK raises on.
 */

const maxBodyBytes = 32_768;

let anthropic: AnthropicStub;
let openai: OpenAIStub;
let ollama: OllamaStub;
let gw: TestGateway;
let client: Anthropic;

beforeAll(async () => {
  anthropic = await startAnthropicStub();
  openai = await new OpenAIStub().start();
  ollama = await startOllamaStub();
  const anthropicParams = { api_key: 'os.environ/STUB_ANTHROPIC_KEY', api_base: anthropic.url };
  gw = await startTestGateway(
    {
      model_list: [
        { model_name: 'claude-*', litellm_params: { model: 'anthropic/claude-*', ...anthropicParams } },
        { model_name: 'claude-slow', litellm_params: { model: 'anthropic/claude-sonnet-4-5-20250929', timeout: 0.5, ...anthropicParams } },
        { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_key: 'sk-openai-literal', api_base: openai.url } },
        { model_name: 'gpt-slow', litellm_params: { model: 'openai/gpt-4o', api_key: 'sk-openai-literal', api_base: openai.url, timeout: 0.5 } },
        { model_name: 'qwen', litellm_params: { model: 'ollama/qwen3:8b', api_base: ollama.url } },
      ],
      airlock: { max_body_bytes: maxBodyBytes },
    },
    { STUB_ANTHROPIC_KEY: 'sk-ant-provider-secret-0123456789' },
  );
  client = new Anthropic({ baseURL: gw.url, apiKey: gw.userKey, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop();
  await anthropic.close();
  await openai.stop();
  await ollama.close();
});

const hello: Anthropic.MessageCreateParamsNonStreaming = { model: 'gpt-4o', max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] };

/** Run a call that must fail and return what it threw. */
async function failure(call: () => Promise<unknown>): Promise<InstanceType<typeof Anthropic.APIError>> {
  try {
    await call();
  } catch (error) {
    expect(error).toBeInstanceOf(Anthropic.APIError);
    return error as InstanceType<typeof Anthropic.APIError>;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Check Anthropic's error envelope: exactly type and error, and error has exactly type and message. */
function expectEnvelope(body: unknown, type: string): void {
  const envelope = body as { type: unknown; error: { type: unknown; message: unknown } };
  expect(Object.keys(envelope).sort()).toEqual(['error', 'type']);
  expect(envelope.type).toBe('error');
  expect(Object.keys(envelope.error).sort()).toEqual(['message', 'type']);
  expect(envelope.error.type).toBe(type);
  expect(typeof envelope.error.message).toBe('string');
  expect((envelope.error.message as string).length).toBeGreaterThan(10);
}

function expectSdkError(error: InstanceType<typeof Anthropic.APIError>, status: number, type: string): void {
  expect(error.status).toBe(status);
  expect(error.type).toBe(type);
  expectEnvelope(error.error, type);
}

async function auditOf(requestId: string | null | undefined): Promise<AuditRecord> {
  expect(requestId).toMatch(/^req_/);
  for (let waited = 0; waited < 2000; waited += 20) {
    const record = gw.gateway.audit.get(requestId!);
    if (record) return record;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no audit record for ${requestId}`);
}

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Send a request through node:http, so that a test controls the Host header and the exact body bytes. */
function sendRaw(path: string, headers: Record<string, string>, body?: string, method = 'POST'): Promise<RawReply> {
  const url = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const jsonHeaders = (): Record<string, string> => ({ 'x-api-key': gw.userKey, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' });

interface SseEvent {
  event: string;
  data: any;
}

/** Split a complete SSE response into its events. */
function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((frame) => frame.trim() !== '')
    .map((frame) => {
      const event = /^event: (.*)$/m.exec(frame)?.[1] ?? '';
      const data = /^data: (.*)$/m.exec(frame)?.[1] ?? 'null';
      return { event, data: JSON.parse(data) };
    });
}

async function streamRaw(model: string): Promise<{ status: number; events: SseEvent[]; requestId: string | null }> {
  const response = await fetch(`${gw.url}/v1/messages`, {
    method: 'POST',
    headers: jsonHeaders(),
    body: JSON.stringify({ model, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Hello' }] }),
  });
  return { status: response.status, events: parseSse(await response.text()), requestId: response.headers.get('x-airlock-request-id') };
}

describe('request errors', () => {
  it('rejects invalid JSON with 400 invalid_request_error', async () => {
    const reply = await sendRaw('/v1/messages', jsonHeaders(), '{"model": "gpt-4o", "max_tokens": ');
    expect(reply.status).toBe(400);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    expectEnvelope(JSON.parse(reply.text), 'invalid_request_error');
    const record = await auditOf(reply.headers['x-airlock-request-id'] as string);
    expect(record).toMatchObject({ inboundApi: 'anthropic-messages', httpStatus: 400, errorKind: 'invalid_json' });
  });

  it('names a missing max_tokens with 400', async () => {
    const requestsBefore = openai.requests.length;
    const { max_tokens: _maxTokens, ...withoutMaxTokens } = hello;
    const error = await failure(() => client.messages.create(withoutMaxTokens as never));
    expectSdkError(error, 400, 'invalid_request_error');
    expect(error.apiMessage).toContain('max_tokens');
    expect(openai.requests.length).toBe(requestsBefore);
  });

  it('names a field of the wrong type with 400', async () => {
    const error = await failure(() => client.messages.create({ ...hello, messages: 'Hello' } as never));
    expectSdkError(error, 400, 'invalid_request_error');
    expect(error.apiMessage).toContain('messages');
  });

  it('rejects a missing key with 401 authentication_error', async () => {
    const { 'x-api-key': _key, ...withoutKey } = jsonHeaders();
    const reply = await sendRaw('/v1/messages', withoutKey, JSON.stringify(hello));
    expect(reply.status).toBe(401);
    expectEnvelope(JSON.parse(reply.text), 'authentication_error');
  });

  it('rejects an invalid key with 401 through the SDK', async () => {
    const stranger = new Anthropic({ baseURL: gw.url, apiKey: 'sk-not-an-airlock-key', maxRetries: 0 });
    const error = await failure(() => stranger.messages.create(hello));
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expectSdkError(error, 401, 'authentication_error');
  });

  it('accepts the key as x-api-key', async () => {
    const reply = await sendRaw('/v1/messages', jsonHeaders(), JSON.stringify(hello));
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.text)).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'Hello' }] });
  });

  it('rejects a non-loopback Host with 403', async () => {
    const requestsBefore = openai.requests.length;
    for (const path of ['/v1/messages', '/v1/messages/count_tokens']) {
      const reply = await sendRaw(path, { ...jsonHeaders(), host: 'attacker.example:4000' }, JSON.stringify(hello));
      expect(reply.status).toBe(403);
      expectEnvelope(JSON.parse(reply.text), 'permission_error');
      expect(JSON.parse(reply.text).error.message).toContain('attacker.example');
    }
    expect(openai.requests.length).toBe(requestsBefore);
  });

  it('names configured models in a 404', async () => {
    const error = await failure(() => client.messages.create({ ...hello, model: 'mistral-large-2411' }));
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expectSdkError(error, 404, 'not_found_error');
    for (const name of ['mistral-large-2411', 'claude-*', 'claude-slow', 'gpt-4o', 'qwen']) expect(error.apiMessage).toContain(name);
  });

  it('rejects an oversized body with 413', async () => {
    const error = await failure(() => client.messages.create({ ...hello, messages: [{ role: 'user', content: 'x'.repeat(maxBodyBytes + 1) }] }));
    expectSdkError(error, 413, 'request_too_large');
    expect(error.apiMessage).toContain(String(maxBodyBytes));

    const message = await client.messages.create(hello);
    expect(message.content).toEqual([{ type: 'text', text: 'Hello' }]);
  });

  it('shapes /v1/models errors by version header', async () => {
    const withVersion = { 'anthropic-version': '2023-06-01', 'x-api-key': 'sk-not-an-airlock-key' };
    const badKey = await sendRaw('/v1/models', withVersion, undefined, 'GET');
    expect(badKey.status).toBe(401);
    expectEnvelope(JSON.parse(badKey.text), 'authentication_error');

    const badHost = await sendRaw('/v1/models', { ...withVersion, 'x-api-key': gw.userKey, host: 'attacker.example' }, undefined, 'GET');
    expect(badHost.status).toBe(403);
    expectEnvelope(JSON.parse(badHost.text), 'permission_error');

    const openAIShape = await sendRaw('/v1/models', { authorization: 'Bearer sk-not-an-airlock-key' }, undefined, 'GET');
    expect(openAIShape.status).toBe(401);
    expect(JSON.parse(openAIShape.text).error.code).toBe('invalid_api_key');

    const stranger = new Anthropic({ baseURL: gw.url, apiKey: 'sk-not-an-airlock-key', maxRetries: 0 });
    const error = await failure(async () => {
      for await (const model of stranger.models.list()) void model;
    });
    expectSdkError(error, 401, 'authentication_error');
  });

  it('shapes count_tokens errors the same way', async () => {
    const missing = await failure(() => client.messages.countTokens({ model: 'gpt-4o' } as never));
    expectSdkError(missing, 400, 'invalid_request_error');
    expect(missing.apiMessage).toContain('messages');

    const unknown = await failure(() => client.messages.countTokens({ model: 'mistral-large-2411', messages: [{ role: 'user', content: 'Hi' }] }));
    expectSdkError(unknown, 404, 'not_found_error');
  });
});

describe('upstream failures before the stream starts', () => {
  const claude: Anthropic.MessageCreateParamsNonStreaming = { ...hello, model: 'claude-sonnet-4-5-20250929' };
  const overloaded: StubBehaviour = { kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' };

  it('passes an upstream 529 on', async () => {
    anthropic.enqueue(overloaded);
    const error = await failure(() => client.messages.create(claude));
    expectSdkError(error, 529, 'overloaded_error');

    anthropic.enqueue(overloaded);
    const streamed = await failure(() => client.messages.stream(claude).finalMessage());
    expectSdkError(streamed, 529, 'overloaded_error');
  });

  it('turns an early error event into 529', async () => {
    const [messageStart] = streamEvents([{ type: 'text', pieces: ['never sent'] }]);
    anthropic.enqueue({ kind: 'stream', events: [messageStart!, errorEvent('overloaded_error', 'Overloaded')] });
    const error = await failure(() => client.messages.stream(claude).finalMessage());
    expectSdkError(error, 529, 'overloaded_error');
  });

  it('passes an upstream 400 on', async () => {
    anthropic.enqueue({ kind: 'error', status: 400, type: 'invalid_request_error', message: 'messages.1: tool_use ids must be unique' });
    const error = await failure(() => client.messages.create(claude));
    expectSdkError(error, 400, 'invalid_request_error');
    expect(error.apiMessage).toContain('tool_use ids must be unique');
  });

  it('maps an OpenAI 429 to rate_limit_error', async () => {
    const rateLimited = () =>
      openai.next((_request, res) =>
        sendJson(res, 429, errorBody('Rate limit reached for gpt-4o on requests per min (RPM)', 'requests', 'rate_limit_exceeded'), { 'retry-after': '7' }),
      );
    rateLimited();
    const error = await failure(() => client.messages.create(hello));
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expectSdkError(error, 429, 'rate_limit_error');
    expect(error.headers?.get('retry-after')).toBe('7');

    rateLimited();
    const streamed = await failure(() => client.messages.stream(hello).finalMessage());
    expectSdkError(streamed, 429, 'rate_limit_error');
    expect(streamed.headers?.get('retry-after')).toBe('7');
  });

  for (const [model, hang] of [
    ['claude-slow', () => anthropic.enqueue({ kind: 'hang' })],
    ['gpt-slow', () => openai.next(() => undefined)],
  ] as const) {
    it(`times out a silent ${model} with 504`, async () => {
      hang();
      const started = performance.now();
      const { requestId, error } = await client.messages
        .create({ ...hello, model })
        .withResponse()
        .then(() => ({ requestId: null, error: null }))
        .catch((e: InstanceType<typeof Anthropic.APIError>) => ({ requestId: e.headers?.get('x-airlock-request-id'), error: e }));
      expect(error).not.toBeNull();
      expectSdkError(error!, 504, 'api_error');
      expect(performance.now() - started).toBeLessThan(5000);
      const record = await auditOf(requestId);
      expect(record).toMatchObject({ httpStatus: 504, errorKind: 'upstream_timeout' });
    });
  }
});

describe('failures after the stream started', () => {
  it('raises a late Anthropic error event', async () => {
    const events = streamEvents([{ type: 'text', pieces: ['Partial ', 'answer', ' never finished'] }]);
    const lastContent = events.findIndex((event) => 'event' in event && event.event === 'content_block_delta') + 1;
    anthropic.enqueue({ kind: 'stream', events: [...events.slice(0, lastContent + 1), errorEvent('overloaded_error', 'Overloaded')] });

    const stream = client.messages.stream({ ...hello, model: 'claude-sonnet-4-5-20250929' });
    let text = '';
    stream.on('text', (delta) => {
      text += delta;
    });
    const error = await failure(() => stream.finalMessage());
    expect(error.status).toBeUndefined();
    expect(error.type).toBe('overloaded_error');
    expectEnvelope(error.error, 'overloaded_error');
    expect(text).toBe('Partial answer');

    const record = await auditOf(stream.response?.headers.get('x-airlock-request-id'));
    expect(record).toMatchObject({ httpStatus: 200, errorKind: 'overloaded' });
    expect(record.flags).toContain('stream_failed_after_commit');
  });

  it('raises a late OpenAI error chunk', async () => {
    openai.next(async (_request, res) => {
      const chunks = textChunks('gpt-4o', ['Partial ', 'answer'], { include_usage: true }).slice(0, 3);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const chunk of chunks) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      res.end(`data: ${JSON.stringify(errorBody('The server had an error while processing your request.', 'server_error'))}\n\n`);
    });
    const stream = client.messages.stream(hello);
    let text = '';
    stream.on('text', (delta) => {
      text += delta;
    });
    const error = await failure(() => stream.finalMessage());
    expect(error.type).toBe('api_error');
    expectEnvelope(error.error, 'api_error');
    expect(error.apiMessage).toContain('The server had an error');
    expect(text).toBe('Partial answer');
  });

  const anthropicText = () => streamEvents([{ type: 'text', pieces: ['Hel', 'lo'] }]);
  const firstDelta = (events: ReturnType<typeof anthropicText>) => events.findIndex((event) => 'event' in event && event.event === 'content_block_delta') + 1;

  const cases: Array<{ name: string; model: string; terminal: 'message_stop' | 'error'; script(): void }> = [
    { name: 'a complete Anthropic stream', model: 'claude-sonnet-4-5-20250929', terminal: 'message_stop', script: () => anthropic.enqueue({ kind: 'stream', events: anthropicText() }) },
    {
      name: 'an Anthropic stream reset after content',
      model: 'claude-sonnet-4-5-20250929',
      terminal: 'error',
      script: () => anthropic.enqueue({ kind: 'stream', events: anthropicText().slice(0, firstDelta(anthropicText())), finish: 'destroy' }),
    },
    {
      name: 'an Anthropic stream that ends without message_stop',
      model: 'claude-sonnet-4-5-20250929',
      terminal: 'error',
      script: () => anthropic.enqueue({ kind: 'stream', events: anthropicText().slice(0, -1) }),
    },
    {
      name: 'an Anthropic stream that goes silent after content',
      model: 'claude-slow',
      terminal: 'error',
      script: () => anthropic.enqueue({ kind: 'stream', events: anthropicText().slice(0, firstDelta(anthropicText())), finish: 'hang' }),
    },
    { name: 'a complete OpenAI stream', model: 'gpt-4o', terminal: 'message_stop', script: () => openai.next((request, res) => sendStream(res, textChunks('gpt-4o', ['Hel', 'lo'], request.body.stream_options))) },
    {
      name: 'an OpenAI stream reset after content',
      model: 'gpt-4o',
      terminal: 'error',
      script: () => openai.next((request, res) => sendStream(res, textChunks('gpt-4o', ['Hel', 'lo'], request.body.stream_options), { cutAfter: 2 })),
    },
    {
      name: 'an OpenAI stream without [DONE]',
      model: 'gpt-4o',
      terminal: 'error',
      script: () => openai.next((request, res) => sendStream(res, textChunks('gpt-4o', ['Hel', 'lo'], request.body.stream_options), { done: false })),
    },
    {
      name: 'an Ollama stream reset after content',
      model: 'qwen',
      terminal: 'error',
      script: () => ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'Hel' }, { content: 'lo' }], cut: { after: 1, how: 'destroy' } }),
    },
    {
      name: 'an Ollama error object after content',
      model: 'qwen',
      terminal: 'error',
      script: () => ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'Hel' }, { content: 'lo' }], errorAfter: { after: 1, message: 'model runner crashed' } }),
    },
  ];

  for (const { name, model, terminal, script } of cases) {
    it(`ends ${name} with ${terminal}`, async () => {
      script();
      const { status, events } = await streamRaw(model);
      expect(status).toBe(200);
      const names = events.map((event) => event.event);
      expect(names[0]).toBe('message_start');
      expect(names.at(-1)).toBe(terminal);
      expect(names.filter((event) => event === 'message_stop' || event === 'error')).toHaveLength(1);
      if (terminal === 'error') expectEnvelope(events.at(-1)!.data, 'api_error');
      else expect(names.slice(-2)).toEqual(['message_delta', 'message_stop']);
    });
  }
});
