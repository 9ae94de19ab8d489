import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError, UpstreamError } from '../src/errors';
import type { CanonicalRequest, CanonicalStreamEvent } from '../src/formats/canonical';
import { resolveModelInfo } from '../src/models/table';
import { AnthropicProvider } from '../src/providers/anthropic';
import { jsonObjectInstruction } from '../src/providers/anthropic/parameters';
import type { CallOptions, Deployment, StreamHandle } from '../src/providers/types';
import {
  errorEvent,
  messageBody,
  serializeEvents,
  splitAtOffsets,
  splitEvery,
  startAnthropicStub,
  streamEvents,
  type AnthropicStub,
} from './stubs/anthropic';

const providerKey = 'sk-ant-test-0123456789-secret';
const model = 'claude-sonnet-4-5-20250929';

let stub: AnthropicStub;
const provider = new AnthropicProvider();

beforeAll(async () => {
  stub = await startAnthropicStub();
});

afterAll(async () => {
  await stub.close();
});

afterEach(() => {
  stub.requests.length = 0;
  stub.setHandler(null);
});

function deployment(overrides: Partial<Deployment> = {}): Deployment {
  return {
    id: 'claude#0',
    alias: 'claude',
    kind: 'anthropic',
    providerLabel: 'anthropic',
    model,
    apiBase: stub.url,
    apiKey: { source: 'test literal', read: () => providerKey },
    timeoutMs: 5_000,
    destination: 'cloud',
    modelInfo: resolveModelInfo(model, 'cloud'),
    ...overrides,
  };
}

function callOptions(overrides: Partial<CallOptions> = {}): CallOptions {
  return { signal: new AbortController().signal, timeoutMs: 5_000, headers: {}, ...overrides };
}

function canonicalRequest(overrides: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return {
    model,
    system: [],
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hello.' }] }],
    stream: false,
    ...overrides,
  };
}

async function collect<E>(handle: StreamHandle<E>): Promise<E[]> {
  const events: E[] = [];
  for await (const event of handle.events) events.push(event);
  return events;
}

async function streamFailure<E>(handle: StreamHandle<E>): Promise<unknown> {
  try {
    await collect(handle);
  } catch (error) {
    return error;
  }
  throw new Error('the stream finished without an error');
}

function lastBody(): Record<string, unknown> {
  return stub.requests[stub.requests.length - 1]!.body as Record<string, unknown>;
}

function canonicalText(events: CanonicalStreamEvent[]): string {
  return events.map((event) => (event.type === 'text_delta' ? event.text : '')).join('');
}

describe('native passthrough', () => {
  const clientBody = {
    model: 'claude-alias-from-client',
    max_tokens: 1024,
    thinking: { type: 'enabled', budget_tokens: 2048 },
    system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'Größe: 5 €', cache_control: { type: 'ephemeral' } }] },
    ],
    future_field: { nested: [1, 'two', null], flag: true },
    metadata: { user_id: 'u-42' },
  };

  it('sends the body JSON-equal with only model replaced', async () => {
    stub.enqueue({ kind: 'message', body: messageBody([{ type: 'text', text: 'Hi' }]) });
    await provider.completeNative!(deployment(), clientBody, callOptions());

    const received = stub.requests[0]!;
    expect(received.rawBody).toBe(JSON.stringify({ ...clientBody, model }));
    expect(Object.keys(received.body as object)).toEqual(Object.keys(clientBody));
  });

  it('returns the upstream message unchanged with reported usage', async () => {
    const upstream = messageBody([{ type: 'text', text: 'Hi', citations: null }], {
      usage: { input_tokens: 10, output_tokens: 3, cache_read_input_tokens: 200, cache_creation_input_tokens: 50 },
    });
    (upstream as Record<string, unknown>).container = null;
    stub.enqueue({ kind: 'message', body: upstream });
    const result = await provider.completeNative!(deployment(), clientBody, callOptions());

    expect(result.body).toEqual(upstream);
    expect(result.usage).toEqual({
      inputTokens: 10,
      cacheReadTokens: 200,
      cacheWrite5mTokens: 50,
      cacheWrite1hTokens: 0,
      outputTokens: 3,
      reasoningTokens: null,
      source: 'reported',
    });
    expect(result.rawUsage).toEqual(upstream.usage);
  });

  it('sends x-api-key and the forwarded version and beta headers', async () => {
    stub.enqueue({ kind: 'message', body: messageBody([{ type: 'text', text: 'Hi' }]) });
    const headers = { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'context-1m-2025-08-07,interleaved-thinking-2025-05-14' };
    await provider.completeNative!(deployment(), clientBody, callOptions({ headers }));

    const received = stub.requests[0]!.headers;
    expect(received['x-api-key']).toBe(providerKey);
    expect(received.authorization).toBeUndefined();
    expect(received['anthropic-version']).toBe('2023-06-01');
    expect(received['anthropic-beta']).toBe('context-1m-2025-08-07,interleaved-thinking-2025-05-14');
    expect(stub.requests[0]!.path).toBe('/v1/messages');
  });

  it('sends anthropic-version 2023-06-01 when none is forwarded', async () => {
    stub.enqueue({ kind: 'message', body: messageBody([{ type: 'text', text: 'Hi' }]) });
    await provider.completeNative!(deployment(), clientBody, callOptions());
    expect(stub.requests[0]!.headers['anthropic-version']).toBe('2023-06-01');
  });

  it('never forwards a client credential header', async () => {
    stub.enqueue({ kind: 'message', body: messageBody([{ type: 'text', text: 'Hi' }]) });
    const headers = { 'x-api-key': 'client-virtual-key', Authorization: 'Bearer client-virtual-key' };
    await provider.completeNative!(deployment(), clientBody, callOptions({ headers }));
    expect(stub.requests[0]!.headers['x-api-key']).toBe(providerKey);
    expect(stub.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('sends no key header for a deployment without a key', async () => {
    stub.enqueue({ kind: 'message', body: messageBody([{ type: 'text', text: 'Hi' }]) });
    await provider.completeNative!(deployment({ id: 'local#1', apiKey: null }), clientBody, callOptions());
    expect(stub.requests[0]!.headers['x-api-key']).toBeUndefined();
    expect(stub.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('streams the events through with content flags and usage', async () => {
    stub.enqueue({
      kind: 'stream',
      events: streamEvents([{ type: 'text', pieces: ['Hel', 'lo'] }], {
        usage: { input_tokens: 30, output_tokens: 7, cache_read_input_tokens: 100, cache_creation_input_tokens: 0 },
      }),
    });
    const handle = await provider.streamNative!(deployment(), { ...clientBody, stream: true }, callOptions());
    const events = await collect(handle);

    expect(stub.requests[0]!.rawBody).toBe(JSON.stringify({ ...clientBody, model, stream: true }));
    expect(events.map((event) => event.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events.map((event) => event.content)).toEqual([false, false, false, true, true, false, true, true]);
    expect(handle.usage()?.usage).toEqual({
      inputTokens: 30,
      cacheReadTokens: 100,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      outputTokens: 7,
      reasoningTokens: null,
      source: 'reported',
    });
    expect(handle.outputText()).toBe('Hello');
  });

  it('keeps the stream key when the client body has it in another place', async () => {
    stub.enqueue({ kind: 'stream', events: streamEvents([{ type: 'text', pieces: ['x'] }]) });
    const body = { stream: true, model: 'a', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] };
    await collect(await provider.streamNative!(deployment(), body, callOptions()));
    expect(stub.requests[0]!.rawBody).toBe(JSON.stringify({ ...body, model }));
  });
});

describe('canonical requests', () => {
  it('translates the request and the response', async () => {
    stub.enqueue({
      kind: 'message',
      body: messageBody(
        [
          { type: 'text', text: 'Checking the weather.' },
          { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Oslo' } },
        ],
        { stopReason: 'tool_use', usage: { input_tokens: 40, output_tokens: 20 } },
      ),
    });
    const request = canonicalRequest({
      system: [{ type: 'text', text: 'Be brief.' }],
      tools: [{ name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
      toolChoice: { type: 'required' },
      temperature: 0.2,
      stop: ['END'],
      user: 'dev-7',
    });
    const result = await provider.complete(deployment(), request, callOptions());

    expect(lastBody()).toEqual({
      model,
      max_tokens: 64000,
      system: [{ type: 'text', text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hello.' }] }],
      tools: [{ name: 'get_weather', description: 'Weather by city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'any' },
      stop_sequences: ['END'],
      temperature: 0.2,
      metadata: { user_id: 'dev-7' },
    });
    expect(result.response.content).toEqual([
      { type: 'text', text: 'Checking the weather.' },
      { type: 'tool_call', id: 'toolu_01', name: 'get_weather', arguments: '{"city":"Oslo"}' },
    ]);
    expect(result.response.stopReason).toBe('tool_use');
    expect(result.response.usage?.inputTokens).toBe(40);
    expect(result.emulated).toEqual([]);
  });

  it('uses 4096 max_tokens for a model the table does not know', async () => {
    stub.enqueue({ kind: 'message', body: messageBody([{ type: 'text', text: 'ok' }]) });
    const unknown = deployment({ model: 'claude-future-9', modelInfo: resolveModelInfo('claude-future-9', 'cloud') });
    await provider.complete(unknown, canonicalRequest(), callOptions());
    expect(lastBody().max_tokens).toBe(4096);
    expect(lastBody().model).toBe('claude-future-9');
  });

  it('streams text split inside UTF-8 characters', async () => {
    const text = 'Grüße 🌍 — naïve 日本語';
    stub.enqueue({ kind: 'stream', events: streamEvents([{ type: 'text', pieces: [text.slice(0, 7), text.slice(7)] }]), split: splitEvery(1) });
    const handle = await provider.stream(deployment(), canonicalRequest({ stream: true }), callOptions());
    const events = await collect(handle);

    expect(canonicalText(events)).toBe(text);
    expect(handle.outputText()).toBe(text);
    expect(events[0]).toMatchObject({ type: 'message_start', id: 'msg_stub_01', model });
    expect(events[events.length - 1]).toEqual({ type: 'message_stop' });
  });

  it('streams an event split between data: and its JSON', async () => {
    const events = streamEvents([{ type: 'text', pieces: ['one', 'two'] }]);
    const text = serializeEvents(events);
    const deltaHeader = 'event: content_block_delta\ndata:';
    // One cut right after `data:` of the first delta, one inside the name of a later event.
    const dataOffset = Buffer.byteLength(text.slice(0, text.indexOf(deltaHeader) + deltaHeader.length));
    const eventOffset = Buffer.byteLength(text.slice(0, text.indexOf('event: content_block_stop') + 9));
    stub.enqueue({ kind: 'stream', events, split: splitAtOffsets(dataOffset, eventOffset) });
    const handle = await provider.stream(deployment(), canonicalRequest({ stream: true }), callOptions());
    expect(canonicalText(await collect(handle))).toBe('onetwo');
  });

  it('streams tool calls with ids and argument fragments', async () => {
    stub.enqueue({
      kind: 'stream',
      events: streamEvents(
        [
          { type: 'thinking', pieces: ['Need ', 'weather.'], signature: 'sig-abc' },
          { type: 'tool_use', id: 'toolu_9', name: 'get_weather', pieces: ['{"ci', 'ty": "Oslo"}'] },
          { type: 'tool_use', id: 'toolu_10', name: 'get_time', pieces: [] },
        ],
        { stopReason: 'tool_use', usage: { input_tokens: 12, output_tokens: 44 } },
      ),
    });
    const handle = await provider.stream(deployment(), canonicalRequest({ stream: true }), callOptions());
    const events = await collect(handle);

    expect(events.filter((event) => event.type === 'block_start')).toEqual([
      { type: 'block_start', index: 0, block: { type: 'thinking' } },
      { type: 'block_start', index: 1, block: { type: 'tool_call', id: 'toolu_9', name: 'get_weather' } },
      { type: 'block_start', index: 2, block: { type: 'tool_call', id: 'toolu_10', name: 'get_time' } },
    ]);
    const argumentsOf = (index: number) =>
      events.map((event) => (event.type === 'tool_arguments_delta' && event.index === index ? event.partialJson : '')).join('');
    expect(argumentsOf(1)).toBe('{"city": "Oslo"}');
    expect(argumentsOf(2)).toBe('{}');
    expect(events).toContainEqual({ type: 'signature_delta', index: 0, signature: 'sig-abc' });
    expect(events).toContainEqual({ type: 'message_delta', stopReason: 'tool_use', stopSequence: null, usage: { outputTokens: 44 } });
    expect(handle.usage()?.usage.outputTokens).toBe(44);
    expect(handle.usage()?.usage.inputTokens).toBe(12);
    expect(handle.outputText()).toBe('Need weather.get_weather{"city": "Oslo"}get_time');
  });
});

describe('upstream errors', () => {
  const cases = [
    { status: 400, type: 'invalid_request_error', kind: 'upstream_bad_request' },
    { status: 401, type: 'authentication_error', kind: 'upstream_auth' },
    { status: 404, type: 'not_found_error', kind: 'upstream_not_found' },
    { status: 500, type: 'api_error', kind: 'upstream_server' },
    { status: 529, type: 'overloaded_error', kind: 'overloaded' },
  ] as const;

  for (const { status, type, kind } of cases) {
    it(`maps HTTP ${status} to ${kind}`, async () => {
      stub.enqueue({ kind: 'error', status, type, message: `upstream says ${type}` });
      const error = await provider.complete(deployment(), canonicalRequest(), callOptions()).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(UpstreamError);
      const upstream = error as UpstreamError;
      expect(upstream.kind).toBe(kind);
      expect(upstream.upstreamStatus).toBe(status);
      expect(upstream.upstreamRequestId).toMatch(/^req_stub_/);
      expect(upstream.deployment).toBe('claude#0');
      expect(upstream.message).not.toContain(providerKey);
    });
  }

  it('keeps the provider message of a 400', async () => {
    stub.enqueue({ kind: 'error', status: 400, type: 'invalid_request_error', message: 'messages.0.content: Field required' });
    const error = (await provider.complete(deployment(), canonicalRequest(), callOptions()).catch((caught: unknown) => caught)) as UpstreamError;
    expect(error.message).toContain('messages.0.content: Field required');
    expect(error.status).toBe(400);
  });

  it('passes retry-after of a 429 on', async () => {
    stub.enqueue({ kind: 'error', status: 429, type: 'rate_limit_error', message: 'slow down', headers: { 'retry-after': '17' } });
    const error = (await provider.complete(deployment(), canonicalRequest(), callOptions()).catch((caught: unknown) => caught)) as UpstreamError;
    expect(error.kind).toBe('upstream_rate_limited');
    expect(error.headers['retry-after']).toBe('17');
  });

  it('maps an error status of a stream request before any event', async () => {
    stub.enqueue({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' });
    const error = await provider.stream(deployment(), canonicalRequest({ stream: true }), callOptions()).catch((caught: unknown) => caught);
    expect((error as UpstreamError).kind).toBe('overloaded');
  });

  it('throws overloaded for an error event before content', async () => {
    const start = streamEvents([])[0]!;
    stub.enqueue({ kind: 'stream', events: [start, { event: 'ping', data: { type: 'ping' } }, errorEvent('overloaded_error', 'Overloaded')] });
    const handle = await provider.stream(deployment(), canonicalRequest({ stream: true }), callOptions());
    const error = await streamFailure(handle);

    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).kind).toBe('overloaded');
    expect((error as UpstreamError).upstreamRequestId).toMatch(/^req_stub_/);
  });

  it('throws rate limited for a rate_limit_error event mid-stream', async () => {
    const events = streamEvents([{ type: 'text', pieces: ['partial'] }]).slice(0, 4);
    stub.enqueue({ kind: 'stream', events: [...events, errorEvent('rate_limit_error', 'Too many tokens')] });
    const handle = await provider.streamNative!(deployment(), { model: 'x', max_tokens: 5, messages: [], stream: true }, callOptions());
    const error = (await streamFailure(handle)) as UpstreamError;
    expect(error.kind).toBe('upstream_rate_limited');
    expect(handle.outputText()).toBe('partial');
  });

  it('throws upstream_error for a stream that ends before message_stop', async () => {
    const events = streamEvents([{ type: 'text', pieces: ['cut'] }]).slice(0, -1);
    stub.enqueue({ kind: 'stream', events });
    const error = (await streamFailure(await provider.stream(deployment(), canonicalRequest({ stream: true }), callOptions()))) as UpstreamError;
    expect(error.kind).toBe('upstream_error');
    expect(error.message).toContain('ended the stream before message_stop');
  });

  it('throws upstream_error when the socket closes mid-stream', async () => {
    stub.enqueue({ kind: 'stream', events: streamEvents([{ type: 'text', pieces: ['cut'] }]).slice(0, 4), finish: 'destroy' });
    const error = (await streamFailure(await provider.stream(deployment(), canonicalRequest({ stream: true }), callOptions()))) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.kind).toBe('upstream_error');
  });

  it('throws upstream_error for a stream event that is not JSON', async () => {
    stub.enqueue({ kind: 'stream', events: [streamEvents([])[0]!, { raw: 'event: content_block_delta\ndata: {not json\n\n' }] });
    const error = (await streamFailure(await provider.stream(deployment(), canonicalRequest({ stream: true }), callOptions()))) as UpstreamError;
    expect(error.kind).toBe('upstream_error');
  });

  it('throws upstream_error for a 200 body that is not a message', async () => {
    stub.enqueue({ kind: 'raw', status: 200, headers: { 'content-type': 'text/html' }, body: '<html>proxy login</html>' });
    const error = (await provider.complete(deployment(), canonicalRequest(), callOptions()).catch((caught: unknown) => caught)) as UpstreamError;
    expect(error.kind).toBe('upstream_error');
    expect(error.upstreamRequestId).toMatch(/^req_stub_/);
  });

  it('throws upstream_error when the server closes the connection', async () => {
    stub.enqueue({ kind: 'destroy' });
    const error = (await provider.complete(deployment(), canonicalRequest(), callOptions()).catch((caught: unknown) => caught)) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.kind).toBe('upstream_error');
    expect(error.message).not.toContain(providerKey);
  });

  it('throws upstream_error for a refused connection', async () => {
    const closed = await startAnthropicStub();
    await closed.close();
    const error = (await provider
      .complete(deployment({ id: 'gone#0', apiBase: closed.url }), canonicalRequest(), callOptions())
      .catch((caught: unknown) => caught)) as UpstreamError;
    expect(error.kind).toBe('upstream_error');
    expect(error.message).toContain(closed.url);
    expect(error.message).not.toContain(providerKey);
  });

  it('lets a missing key fail the call with its own error', async () => {
    const missing = new GatewayError('invalid_value', "the key os.environ/ANTHROPIC_API_KEY is not set");
    const keyless = deployment({ id: 'nokey#0', apiKey: { source: 'os.environ/ANTHROPIC_API_KEY', read: () => { throw missing; } } });
    const error = await provider.complete(keyless, canonicalRequest(), callOptions()).catch((caught: unknown) => caught);
    expect(error).toBe(missing);
    expect(stub.requests).toHaveLength(0);
  });
});

describe('timeouts and aborts', () => {
  it('times out a server that never answers', async () => {
    stub.enqueue({ kind: 'hang' });
    const started = Date.now();
    const error = (await provider.complete(deployment(), canonicalRequest(), callOptions({ timeoutMs: 300 })).catch((caught: unknown) => caught)) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.kind).toBe('upstream_timeout');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('times out a stream that goes silent', async () => {
    stub.enqueue({ kind: 'stream', events: streamEvents([{ type: 'text', pieces: ['a'] }]).slice(0, 4), finish: 'hang' });
    const handle = await provider.stream(deployment(), canonicalRequest({ stream: true }), callOptions({ timeoutMs: 300 }));
    const error = (await streamFailure(handle)) as UpstreamError;
    expect(error.kind).toBe('upstream_timeout');
    expect(handle.outputText()).toBe('a');
  });

  it('rethrows the caller abort reason unchanged', async () => {
    stub.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    const reason = new Error('client went away');
    setTimeout(() => controller.abort(reason), 50);
    const error = await provider.complete(deployment(), canonicalRequest(), callOptions({ signal: controller.signal })).catch((caught: unknown) => caught);
    expect(error).toBe(reason);
  });

  it('rethrows the caller abort during a stream and closes the upstream', async () => {
    stub.enqueue({ kind: 'stream', events: streamEvents([{ type: 'text', pieces: ['a'] }]).slice(0, 4), finish: 'hang' });
    const controller = new AbortController();
    const reason = new Error('client went away');
    const handle = await provider.stream(deployment(), canonicalRequest({ stream: true }), callOptions({ signal: controller.signal }));
    setTimeout(() => controller.abort(reason), 50);
    expect(await streamFailure(handle)).toBe(reason);
    await expect.poll(() => stub.requests[0]!.aborted).toBe(true);
  });
});

describe('parameter table', () => {
  it('rejects n above 1 without calling upstream', async () => {
    const error = (await provider.complete(deployment(), canonicalRequest({ n: 2 }), callOptions()).catch((caught: unknown) => caught)) as GatewayError;
    expect(error.kind).toBe('unsupported_parameter');
    expect(error.param).toBe('n');
    expect(stub.requests).toHaveLength(0);
  });

  const rejected = [
    { field: 'seed', request: { seed: 7 } },
    { field: 'presence_penalty', request: { presencePenalty: 0.5 } },
    { field: 'frequency_penalty', request: { frequencyPenalty: 0.5 } },
  ] as const;

  for (const { field, request } of rejected) {
    it(`rejects ${field} with the fix`, async () => {
      const error = (await provider.stream(deployment(), canonicalRequest(request), callOptions()).catch((caught: unknown) => caught)) as GatewayError;
      expect(error.kind).toBe('unsupported_parameter');
      expect(error.status).toBe(400);
      expect(error.param).toBe(field);
      expect(error.message).toContain(`'${field}'`);
      expect(error.message).toContain('remove it');
      expect(error.message).toContain('OpenAI deployment');
      expect(stub.requests).toHaveLength(0);
    });
  }

  it('rejects temperature above 1', async () => {
    const error = (await provider.complete(deployment(), canonicalRequest({ temperature: 1.5 }), callOptions()).catch((caught: unknown) => caught)) as GatewayError;
    expect(error.kind).toBe('unsupported_parameter');
    expect(error.param).toBe('temperature');
  });

  it('rejects top_p under API version 2026-10-21', async () => {
    const options = callOptions({ headers: { 'anthropic-version': '2026-10-21' } });
    const error = (await provider.complete(deployment(), canonicalRequest({ topP: 0.9 }), options).catch((caught: unknown) => caught)) as GatewayError;
    expect(error.kind).toBe('unsupported_parameter');
    expect(error.param).toBe('top_p');
    expect(error.message).toContain('2023-06-01');
  });

  it('emulates json_object with a system instruction', async () => {
    stub.enqueue({ kind: 'message', body: messageBody([{ type: 'text', text: '{"ok":true}' }]) });
    const request = canonicalRequest({ system: [{ type: 'text', text: 'Be exact.' }], responseFormat: { type: 'json_object' } });
    const result = await provider.complete(deployment(), request, callOptions());

    expect(lastBody().system).toEqual([
      { type: 'text', text: 'Be exact.' },
      { type: 'text', text: jsonObjectInstruction },
    ]);
    expect(result.emulated).toEqual(['response_format']);
    expect(result.response.content).toEqual([{ type: 'text', text: '{"ok":true}' }]);
  });

  const schema = { type: 'object', properties: { answer: { type: 'number' } }, required: ['answer'] };

  it('emulates json_schema with a forced tool', async () => {
    stub.enqueue({
      kind: 'message',
      body: messageBody([{ type: 'tool_use', id: 'toolu_1', name: 'math_answer', input: { answer: 4 } }], { stopReason: 'tool_use' }),
    });
    const request = canonicalRequest({ responseFormat: { type: 'json_schema', name: 'math answer', schema } });
    const result = await provider.complete(deployment(), request, callOptions());

    expect(lastBody().tools).toEqual([{ name: 'math_answer', description: expect.any(String), input_schema: schema }]);
    expect(lastBody().tool_choice).toEqual({ type: 'tool', name: 'math_answer' });
    expect(result.response.content).toEqual([{ type: 'text', text: '{"answer":4}' }]);
    expect(result.response.stopReason).toBe('end_turn');
    expect(result.emulated).toEqual(['response_format']);
  });

  it('emulates json_schema in a stream', async () => {
    stub.enqueue({
      kind: 'stream',
      events: streamEvents([{ type: 'tool_use', id: 'toolu_2', name: 'result', pieces: ['{"answer"', ': 4}'] }], { stopReason: 'tool_use' }),
    });
    const request = canonicalRequest({ stream: true, responseFormat: { type: 'json_schema', name: 'result', schema } });
    const handle = await provider.stream(deployment(), request, callOptions());
    const events = await collect(handle);

    expect(events).toContainEqual({ type: 'block_start', index: 0, block: { type: 'text' } });
    expect(canonicalText(events)).toBe('{"answer": 4}');
    expect(events.some((event) => event.type === 'tool_arguments_delta')).toBe(false);
    expect(events).toContainEqual(expect.objectContaining({ type: 'message_delta', stopReason: 'end_turn' }));
    expect(handle.emulated).toEqual(['response_format']);
  });

  it('rejects json_schema together with tools', async () => {
    const request = canonicalRequest({
      tools: [{ name: 'lookup', parameters: { type: 'object' } }],
      responseFormat: { type: 'json_schema', name: 'result', schema },
    });
    const error = (await provider.complete(deployment(), request, callOptions()).catch((caught: unknown) => caught)) as GatewayError;
    expect(error.kind).toBe('unsupported_parameter');
    expect(error.param).toBe('response_format');
  });

  it('passes image URLs without fetching them', async () => {
    stub.enqueue({ kind: 'message', body: messageBody([{ type: 'text', text: 'a cat' }]) });
    const request = canonicalRequest({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image', source: { kind: 'url', url: 'https://images.example.invalid/cat.png' } },
          ],
        },
      ],
    });
    await provider.complete(deployment(), request, callOptions());
    expect(lastBody().messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image', source: { type: 'url', url: 'https://images.example.invalid/cat.png' } },
        ],
      },
    ]);
    expect(stub.requests).toHaveLength(1);
  });
});
