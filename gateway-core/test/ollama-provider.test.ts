import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GatewayError, UpstreamError } from '../src/errors';
import type { CanonicalRequest, CanonicalStreamEvent } from '../src/formats/canonical';
import { resolveModelInfo } from '../src/models/table';
import { OllamaProvider } from '../src/providers/ollama';
import type { CallOptions, Deployment, StreamHandle } from '../src/providers/types';
import { estimateTokens } from '../src/usage/estimate';
import { type OllamaStub, startOllamaStub } from './stubs/ollama';

const provider = new OllamaProvider();
let stub: OllamaStub;

beforeEach(async () => {
  stub = await startOllamaStub();
});

afterEach(async () => {
  await stub.close();
});

function deployment(overrides: Partial<Deployment> = {}): Deployment {
  const model = overrides.model ?? 'llama3.2';
  return {
    id: 'local-llama#0',
    alias: 'local-llama',
    kind: 'ollama',
    providerLabel: 'ollama_chat',
    model,
    apiBase: stub.url,
    apiKey: null,
    timeoutMs: 10_000,
    destination: 'local',
    modelInfo: resolveModelInfo(model, 'local'),
    ...overrides,
  };
}

function callOptions(overrides: Partial<CallOptions> = {}): CallOptions {
  return { signal: new AbortController().signal, timeoutMs: 10_000, headers: {}, ...overrides };
}

function chatRequest(overrides: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return {
    model: 'llama3.2',
    system: [],
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    stream: false,
    ...overrides,
  };
}

async function collect(handle: StreamHandle<CanonicalStreamEvent>): Promise<CanonicalStreamEvent[]> {
  const events: CanonicalStreamEvent[] = [];
  for await (const event of handle.events) events.push(event);
  return events;
}

/** Reads events until the stream fails, returning the events and the error. */
async function collectUntilError(handle: StreamHandle<CanonicalStreamEvent>) {
  const events: CanonicalStreamEvent[] = [];
  try {
    for await (const event of handle.events) events.push(event);
  } catch (error) {
    return { events, error };
  }
  throw new Error(`the stream ended without an error after ${events.length} events`);
}

function lastBody(): Record<string, unknown> {
  const request = stub.requests.at(-1);
  if (!request) throw new Error('the stub received no request');
  return request.body as Record<string, unknown>;
}

/** Finds a loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

describe('request translation', () => {
  it('sends system, user and assistant text in order', async () => {
    await provider.complete(
      deployment(),
      chatRequest({
        model: 'alias-name',
        system: [{ type: 'text', text: 'Be brief.' }, { type: 'text', text: 'Answer in English.' }],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
          { role: 'assistant', content: [{ type: 'text', text: 'Hello!' }] },
          { role: 'user', content: [{ type: 'text', text: 'Part one' }, { type: 'text', text: 'part two' }] },
        ],
      }),
      callOptions(),
    );

    const body = lastBody();
    expect(stub.requests.at(-1)?.path).toBe('/api/chat');
    expect(body.model).toBe('llama3.2');
    expect(body.stream).toBe(false);
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.\nAnswer in English.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'Part one\npart two' },
    ]);
    expect(body).not.toHaveProperty('tools');
    expect(body).not.toHaveProperty('options');
  });

  it('sends base64 images as bare base64 strings', async () => {
    const png = Buffer.from('fake png bytes \u0000\u0001\u00ff').toString('base64');
    const jpeg = Buffer.from('fake jpeg bytes').toString('base64');
    await provider.complete(
      deployment({ model: 'llava' }),
      chatRequest({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in these pictures?' },
              { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: png } },
              { type: 'image', source: { kind: 'url', url: `data:image/jpeg;base64,${jpeg}` } },
            ],
          },
        ],
      }),
      callOptions(),
    );

    expect(lastBody().messages).toEqual([{ role: 'user', content: 'What is in these pictures?', images: [png, jpeg] }]);
  });

  it('rejects an image URL without fetching it', async () => {
    const request = chatRequest({
      messages: [{ role: 'user', content: [{ type: 'image', source: { kind: 'url', url: `${stub.url}/cat.png` } }] }],
    });

    const error = await provider.complete(deployment(), request, callOptions()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).kind).toBe('unsupported_parameter');
    expect((error as GatewayError).status).toBe(400);
    expect((error as GatewayError).param).toBe('messages');
    expect((error as GatewayError).message).toContain('does not fetch image URLs');
    expect((error as GatewayError).message).toContain('base64');
    expect(stub.requests).toHaveLength(0);
  });

  it('never reads image data as a file path', async () => {
    // ollama-js replaces an image string that names an existing file with that file's bytes.
    const dir = mkdtempSync(join(tmpdir(), 'airlock'));
    try {
      expect(dir).toMatch(/^[A-Za-z0-9+/]+$/);
      const name = 'a'.repeat(4 - ((dir.length + 1) % 4) || 4);
      const path = `${dir}/${name}`;
      writeFileSync(path, 'file contents that must not leave this machine');
      expect(path.length % 4).toBe(0);

      await provider.complete(
        deployment({ model: 'llava' }),
        chatRequest({
          messages: [{ role: 'user', content: [{ type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: path } }] }],
        }),
        callOptions(),
      );

      const messages = lastBody().messages as Array<{ images?: string[] }>;
      expect(messages[0]?.images).toEqual([path]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects image data that is not base64', async () => {
    const request = chatRequest({
      messages: [{ role: 'user', content: [{ type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'not base64!' } }] }],
    });

    await expect(provider.complete(deployment(), request, callOptions())).rejects.toMatchObject({
      kind: 'invalid_value',
      param: 'messages',
    });
    expect(stub.requests).toHaveLength(0);
  });

  it('sends tools, tool calls and tool results', async () => {
    const weatherSchema = {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['city'],
      additionalProperties: false,
    };
    await provider.complete(
      deployment(),
      chatRequest({
        tools: [{ name: 'get_weather', description: 'Current weather', parameters: weatherSchema }],
        toolChoice: { type: 'auto' },
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Oslo?' }] },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', text: 'Two cities, two calls.' },
              { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
              { type: 'tool_call', id: 'call_2', name: 'get_weather', arguments: '{"city":"Oslo","unit":"celsius"}' },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: '18 C' }], isError: false },
              { type: 'tool_result', toolCallId: 'call_2', content: [{ type: 'text', text: '4 C' }], isError: false },
              { type: 'text', text: 'Which is warmer?' },
            ],
          },
        ],
      }),
      callOptions(),
    );

    const body = lastBody();
    expect(body.tools).toEqual([
      { type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters: weatherSchema } },
    ]);
    expect(body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Oslo?' },
      {
        role: 'assistant',
        content: '',
        thinking: 'Two cities, two calls.',
        tool_calls: [
          { function: { name: 'get_weather', arguments: { city: 'Paris' } } },
          { function: { name: 'get_weather', arguments: { city: 'Oslo', unit: 'celsius' } } },
        ],
      },
      { role: 'tool', content: '18 C', tool_name: 'get_weather' },
      { role: 'tool', content: '4 C', tool_name: 'get_weather' },
      { role: 'user', content: 'Which is warmer?' },
    ]);
  });

  it('rejects tool-call arguments that are not JSON', async () => {
    const request = chatRequest({
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Go' }] },
        { role: 'assistant', content: [{ type: 'tool_call', id: 'call_bad', name: 'run', arguments: '{"cmd": ' }] },
      ],
    });

    const error = await provider.complete(deployment(), request, callOptions()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).kind).toBe('invalid_value');
    expect((error as GatewayError).param).toBe('messages');
    expect((error as GatewayError).message).toContain("'call_bad'");
    expect(stub.requests).toHaveLength(0);
  });

  it('maps sampling options and response formats', async () => {
    const schema = { type: 'object', properties: { age: { type: 'integer' } }, required: ['age'] };
    const completion = await provider.complete(
      deployment({ model: 'qwen3:8b' }),
      chatRequest({
        temperature: 0,
        topP: 0.9,
        topK: 20,
        seed: 42,
        stop: ['\n\n', 'User:'],
        maxTokens: 256,
        presencePenalty: 0.5,
        frequencyPenalty: 0.25,
        responseFormat: { type: 'json_schema', name: 'person', schema },
        reasoningEffort: 'high',
      }),
      callOptions(),
    );

    const body = lastBody();
    expect(body.options).toEqual({
      temperature: 0,
      top_p: 0.9,
      top_k: 20,
      seed: 42,
      stop: ['\n\n', 'User:'],
      num_predict: 256,
      presence_penalty: 0.5,
      frequency_penalty: 0.25,
    });
    expect(body.format).toEqual(schema);
    expect(body.think).toBe('high');
    expect(completion.emulated).toEqual([]);
  });

  it('sends json_object as format json', async () => {
    await provider.complete(deployment(), chatRequest({ responseFormat: { type: 'json_object' } }), callOptions());

    expect(lastBody().format).toBe('json');
  });

  it('reports a reasoning effort Ollama lacks as emulated', async () => {
    const completion = await provider.complete(deployment({ model: 'qwen3:8b' }), chatRequest({ reasoningEffort: 'minimal' }), callOptions());

    expect(lastBody().think).toBe('low');
    expect(completion.emulated).toEqual(['reasoning_effort']);
  });

  it('sends no tools for tool choice none', async () => {
    await provider.complete(
      deployment(),
      chatRequest({ tools: [{ name: 'run', parameters: { type: 'object' } }], toolChoice: { type: 'none' } }),
      callOptions(),
    );

    expect(lastBody()).not.toHaveProperty('tools');
  });

  it.each([
    ['tool choice required', { toolChoice: { type: 'required' } }, 'tool_choice'],
    ['a named tool choice', { toolChoice: { type: 'tool', name: 'run' } }, 'tool_choice'],
    ['n above 1', { n: 2 }, 'n'],
  ] as const)('rejects %s', async (_case, overrides, param) => {
    const request = chatRequest({ tools: [{ name: 'run', parameters: { type: 'object' } }], ...overrides });

    const error = await provider.complete(deployment(), request, callOptions()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).kind).toBe('unsupported_parameter');
    expect((error as GatewayError).param).toBe(param);
    expect(stub.requests).toHaveLength(0);
  });

  it('sends the api key as a bearer token', async () => {
    const apiKey = { source: 'os.environ/OLLAMA_KEY', read: () => 'ollama-test-key' };

    await provider.complete(deployment({ apiKey }), chatRequest(), callOptions());

    expect(stub.requests.at(-1)?.headers.authorization).toBe('Bearer ollama-test-key');
  });
});

describe('responses', () => {
  it('returns thinking, text and reported usage', async () => {
    stub.enqueue('/api/chat', {
      kind: 'reply',
      chunks: [{ thinking: 'The user greets me.' }, { content: 'Hello ' }, { content: 'there.' }],
      promptEvalCount: 31,
      evalCount: 17,
    });

    const { response, rawUsage } = await provider.complete(deployment({ model: 'qwen3:8b' }), chatRequest(), callOptions());

    expect(response.model).toBe('qwen3:8b');
    expect(response.content).toEqual([
      { type: 'thinking', text: 'The user greets me.' },
      { type: 'text', text: 'Hello there.' },
    ]);
    expect(response.stopReason).toBe('end_turn');
    expect(response.stopSequence).toBeNull();
    expect(response.usage).toEqual({
      inputTokens: 31,
      cacheReadTokens: 0,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      outputTokens: 17,
      reasoningTokens: null,
    });
    expect(rawUsage).toMatchObject({ prompt_eval_count: 31, eval_count: 17, total_duration: 4_883_583_458 });
  });

  it('returns tool calls with call ids and JSON arguments', async () => {
    stub.enqueue('/api/chat', {
      kind: 'reply',
      chunks: [
        {
          tool_calls: [
            { function: { name: 'get_weather', arguments: { city: 'Paris' } } },
            { id: 'call_from_ollama', function: { name: 'get_time', arguments: {} } },
          ],
        },
      ],
    });

    const { response } = await provider.complete(deployment(), chatRequest(), callOptions());

    expect(response.stopReason).toBe('tool_use');
    expect(response.content).toHaveLength(2);
    const [first, second] = response.content;
    expect(first).toMatchObject({ type: 'tool_call', name: 'get_weather' });
    if (first?.type !== 'tool_call') throw new Error('the first part is not a tool call');
    expect(first.id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(JSON.parse(first.arguments)).toEqual({ city: 'Paris' });
    expect(second).toEqual({ type: 'tool_call', id: 'call_from_ollama', name: 'get_time', arguments: '{}' });
  });

  it('maps done_reason length to max_tokens', async () => {
    stub.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'Once upon a' }], doneReason: 'length' });

    const { response } = await provider.complete(deployment(), chatRequest({ maxTokens: 3 }), callOptions());

    expect(response.stopReason).toBe('max_tokens');
  });

  it('returns null usage when Ollama sends no counts', async () => {
    stub.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'ok' }], promptEvalCount: null, evalCount: null });

    const completion = await provider.complete(deployment(), chatRequest(), callOptions());

    expect(completion.response.usage).toBeNull();
    expect(completion.rawUsage).toBeNull();
  });
});

describe('streams', () => {
  it('emits canonical events for streamed text', async () => {
    stub.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'Hel' }, { content: 'lo.' }], promptEvalCount: 9, evalCount: 3 });

    const handle = await provider.stream(deployment(), chatRequest({ stream: true }), callOptions());
    const events = await collect(handle);

    expect(lastBody().stream).toBe(true);
    expect(events[0]).toMatchObject({ type: 'message_start', model: 'llama3.2', usage: null });
    expect(events.slice(1)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'text_delta', index: 0, text: 'Hel' },
      { type: 'text_delta', index: 0, text: 'lo.' },
      { type: 'block_stop', index: 0 },
      {
        type: 'message_delta',
        stopReason: 'end_turn',
        stopSequence: null,
        usage: { inputTokens: 9, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, outputTokens: 3, reasoningTokens: null },
      },
      { type: 'message_stop' },
    ]);
    expect(handle.usage()?.usage).toMatchObject({ inputTokens: 9, outputTokens: 3, source: 'reported' });
    expect(handle.usage()?.raw).toMatchObject({ prompt_eval_count: 9, eval_count: 3 });
    expect(handle.outputText()).toBe('Hello.');
  });

  it('emits thinking, text and tool call blocks in order', async () => {
    stub.enqueue('/api/chat', {
      kind: 'reply',
      chunks: [
        { thinking: 'Need ' },
        { thinking: 'the weather.' },
        { content: 'Checking.' },
        { tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Oslo' } } }] },
      ],
    });

    const handle = await provider.stream(deployment({ model: 'qwen3:8b' }), chatRequest({ stream: true }), callOptions());
    const events = await collect(handle);

    const toolStart = events.find((event) => event.type === 'block_start' && event.block.type === 'tool_call');
    const toolId = toolStart?.type === 'block_start' && toolStart.block.type === 'tool_call' ? toolStart.block.id : '';
    expect(toolId).toMatch(/^call_[0-9a-f]{24}$/);
    expect(events.slice(1)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'thinking' } },
      { type: 'thinking_delta', index: 0, text: 'Need ' },
      { type: 'thinking_delta', index: 0, text: 'the weather.' },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'text' } },
      { type: 'text_delta', index: 1, text: 'Checking.' },
      { type: 'block_stop', index: 1 },
      { type: 'block_start', index: 2, block: { type: 'tool_call', id: toolId, name: 'get_weather' } },
      { type: 'tool_arguments_delta', index: 2, partialJson: '{"city":"Oslo"}' },
      { type: 'block_stop', index: 2 },
      { type: 'message_delta', stopReason: 'tool_use', stopSequence: null, usage: expect.objectContaining({ inputTokens: 26 }) },
      { type: 'message_stop' },
    ]);
    expect(handle.outputText()).toBe('Need the weather.Checking.{"city":"Oslo"}');
  });

  it('reassembles lines split inside UTF-8 characters', async () => {
    const pieces = ['Grüße ', 'aus Köln 👋', ' — 日本語', '!'];
    // Three-byte writes put a boundary inside every four-byte character and inside most lines.
    stub.enqueue('/api/chat', { kind: 'reply', chunks: pieces.map((content) => ({ content })), chunkBytes: 3 });

    const handle = await provider.stream(deployment(), chatRequest({ stream: true }), callOptions());
    const events = await collect(handle);

    const text = events.map((event) => (event.type === 'text_delta' ? event.text : '')).join('');
    expect(text).toBe(pieces.join(''));
    expect(events.filter((event) => event.type === 'text_delta')).toHaveLength(pieces.length);
    expect(events.at(-2)).toMatchObject({ type: 'message_delta', stopReason: 'end_turn' });
  });

  it('has no usage before the final object', async () => {
    stub.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'a' }, { content: 'b' }] });

    const handle = await provider.stream(deployment(), chatRequest({ stream: true }), callOptions());
    const iterator = handle.events[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.next();

    expect(handle.usage()).toBeNull();
    await iterator.return?.();
  });
});

describe('embeddings', () => {
  it('returns float embeddings in the OpenAI shape', async () => {
    const result = await provider.embed(
      deployment({ model: 'nomic-embed-text' }),
      { body: { model: 'embed', input: ['first', 'second one'] }, inputs: ['first', 'second one'], encodingFormat: 'float' },
      callOptions(),
    );

    expect(stub.requests.at(-1)?.path).toBe('/api/embed');
    expect(lastBody()).toEqual({ model: 'nomic-embed-text', input: ['first', 'second one'] });
    expect(result.body).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [5, 0.1, -0.25, 1 / 3] },
        { object: 'embedding', index: 1, embedding: [10, 0.1, -0.25, 1 / 3] },
      ],
      model: 'nomic-embed-text',
      usage: { prompt_tokens: 7, total_tokens: 7 },
    });
    expect(result.usage).toMatchObject({ inputTokens: 7, outputTokens: 0, source: 'reported' });
    expect(result.rawUsage).toEqual({ prompt_eval_count: 7 });
  });

  it('sends a single string input as a string', async () => {
    await provider.embed(
      deployment({ model: 'nomic-embed-text' }),
      { body: { model: 'embed', input: 'only one', dimensions: 256 }, inputs: ['only one'], encodingFormat: 'float' },
      callOptions(),
    );

    expect(lastBody()).toEqual({ model: 'nomic-embed-text', input: 'only one', dimensions: 256 });
  });

  it('encodes base64 embeddings as little-endian float32', async () => {
    const vectors = [
      [0.1, -2.5, 3.14159, 1e-8],
      [0, 1, -1, 65504.5],
    ];
    stub.enqueue('/api/embed', { kind: 'embed', embeddings: vectors });

    const result = await provider.embed(
      deployment({ model: 'nomic-embed-text' }),
      { body: { model: 'embed', input: ['a', 'b'] }, inputs: ['a', 'b'], encodingFormat: 'base64' },
      callOptions(),
    );

    const data = result.body.data as Array<{ embedding: unknown }>;
    data.forEach((item, i) => {
      expect(typeof item.embedding).toBe('string');
      const bytes = Buffer.from(item.embedding as string, 'base64');
      const decoded = Array.from({ length: bytes.length / 4 }, (_, j) => bytes.readFloatLE(j * 4));
      expect(decoded).toEqual(vectors[i]?.map(Math.fround));
    });
  });

  it('estimates usage when Ollama sends no count', async () => {
    stub.enqueue('/api/embed', { kind: 'embed', embeddings: [[1, 2]], promptEvalCount: null });

    const result = await provider.embed(
      deployment({ model: 'nomic-embed-text' }),
      { body: { model: 'embed', input: 'count these words please' }, inputs: ['count these words please'], encodingFormat: 'float' },
      callOptions(),
    );

    const expected = estimateTokens('count these words please');
    expect(expected).toBeGreaterThan(0);
    expect(result.usage).toMatchObject({ inputTokens: expected, source: 'estimated' });
    expect(result.body.usage).toEqual({ prompt_tokens: expected, total_tokens: expected });
    expect(result.rawUsage).toBeNull();
  });

  it('rejects token-array input', async () => {
    const request = { body: { model: 'embed', input: [[1, 2, 3]] }, inputs: null, encodingFormat: 'float' as const };

    await expect(provider.embed(deployment({ model: 'nomic-embed-text' }), request, callOptions())).rejects.toMatchObject({
      kind: 'unsupported_parameter',
      param: 'input',
    });
  });

  it('rejects an embedding count that differs from the inputs', async () => {
    stub.enqueue('/api/embed', { kind: 'embed', embeddings: [[1, 2]] });
    const request = { body: { model: 'embed', input: ['a', 'b'] }, inputs: ['a', 'b'], encodingFormat: 'float' as const };

    await expect(provider.embed(deployment({ model: 'nomic-embed-text' }), request, callOptions())).rejects.toMatchObject({
      kind: 'upstream_error',
    });
  });
});

describe('errors', () => {
  it('names the host when the connection is refused', async () => {
    const port = await closedPort();
    const target = deployment({ apiBase: `http://127.0.0.1:${port}` });

    for (const attempt of [
      () => provider.complete(target, chatRequest(), callOptions()),
      () => provider.stream(target, chatRequest({ stream: true }), callOptions()),
    ]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UpstreamError);
      expect((error as UpstreamError).kind).toBe('upstream_error');
      expect((error as UpstreamError).status).toBe(502);
      expect((error as UpstreamError).message).toContain("'local-llama#0'");
      expect((error as UpstreamError).message).toContain(`http://127.0.0.1:${port}`);
      expect((error as UpstreamError).message).toContain('ollama serve');
    }
  });

  it('suggests ollama pull for a missing model', async () => {
    const error = await provider.complete(deployment({ model: 'llama9' }), chatRequest(), callOptions()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).kind).toBe('upstream_not_found');
    expect((error as UpstreamError).status).toBe(404);
    expect((error as UpstreamError).upstreamStatus).toBe(404);
    expect((error as UpstreamError).message).toContain('model "llama9" not found');
    expect((error as UpstreamError).message).toContain('ollama pull llama9');
  });

  it('maps an HTTP 500 to upstream_server', async () => {
    stub.enqueue('/api/chat', { kind: 'error', status: 500, message: 'llama runner process has terminated' });

    const error = await provider.stream(deployment(), chatRequest({ stream: true }), callOptions()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).kind).toBe('upstream_server');
    expect((error as UpstreamError).upstreamStatus).toBe(500);
    expect((error as UpstreamError).provider).toBe('ollama');
    expect((error as UpstreamError).message).toContain('llama runner process has terminated');
  });

  it('maps an HTTP 400 to upstream_bad_request', async () => {
    stub.enqueue('/api/chat', { kind: 'error', status: 400, message: 'registry.ollama.ai/library/llama3.2:latest does not support thinking' });

    await expect(provider.complete(deployment(), chatRequest(), callOptions())).rejects.toMatchObject({
      kind: 'upstream_bad_request',
      upstreamStatus: 400,
    });
  });

  it('raises an error object sent mid-stream', async () => {
    stub.enqueue('/api/chat', {
      kind: 'reply',
      chunks: [{ content: 'Partial ' }, { content: 'never sent' }],
      errorAfter: { after: 1, message: 'an error was encountered while running the model' },
    });

    const handle = await provider.stream(deployment(), chatRequest({ stream: true }), callOptions());
    const { events, error } = await collectUntilError(handle);

    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).kind).toBe('upstream_error');
    expect((error as UpstreamError).message).toContain('an error was encountered while running the model');
    expect(events.filter((event) => event.type === 'text_delta')).toEqual([{ type: 'text_delta', index: 0, text: 'Partial ' }]);
    expect(handle.outputText()).toBe('Partial ');
    expect(handle.usage()).toBeNull();
  });

  it.each(['end', 'destroy'] as const)('raises upstream_error for a stream cut by %s', async (how) => {
    stub.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'one' }, { content: 'two' }], cut: { after: 1, how } });

    const handle = await provider.stream(deployment(), chatRequest({ stream: true }), callOptions());
    const { events, error } = await collectUntilError(handle);

    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).kind).toBe('upstream_error');
    expect(events.some((event) => event.type === 'message_stop')).toBe(false);
    expect(handle.outputText()).toBe('one');
  });

  it('times out a request that gets no answer', async () => {
    stub.enqueue('/api/chat', { kind: 'hang' });
    const started = Date.now();

    const error = await provider.complete(deployment(), chatRequest(), callOptions({ timeoutMs: 200 })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).kind).toBe('upstream_timeout');
    expect((error as UpstreamError).status).toBe(504);
    expect((error as UpstreamError).message).toContain('200 ms');
    expect(Date.now() - started).toBeLessThan(5_000);
    await vi.waitFor(() => expect(stub.requests.at(-1)?.aborted).toBe(true));
  });

  it('times out a stream that stops sending', async () => {
    stub.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'first' }, { content: 'never' }], cut: { after: 1, how: 'hang' } });

    const handle = await provider.stream(deployment(), chatRequest({ stream: true }), callOptions({ timeoutMs: 300 }));
    const { error } = await collectUntilError(handle);

    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).kind).toBe('upstream_timeout');
    expect(handle.outputText()).toBe('first');
    await vi.waitFor(() => expect(stub.requests.at(-1)?.aborted).toBe(true));
  });

  it('rethrows the caller abort reason as it is', async () => {
    stub.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'first' }, { content: 'never' }], cut: { after: 1, how: 'hang' } });
    const controller = new AbortController();
    const reason = new Error('client went away');

    const handle = await provider.stream(deployment(), chatRequest({ stream: true }), callOptions({ signal: controller.signal }));
    const iterator = handle.events[Symbol.asyncIterator]();
    while (true) {
      const next = await iterator.next();
      if (!next.done && next.value.type === 'text_delta') break;
    }
    controller.abort(reason);

    await expect(iterator.next()).rejects.toBe(reason);
    await vi.waitFor(() => expect(stub.requests.at(-1)?.aborted).toBe(true));
  });

  it('rethrows a timeout fired by the caller signal as it is', async () => {
    stub.enqueue('/api/chat', { kind: 'hang' });
    const signal = AbortSignal.timeout(150);

    const error = await provider.complete(deployment(), chatRequest(), callOptions({ signal })).catch((e: unknown) => e);

    expect(error).toBe(signal.reason);
    expect(error).not.toBeInstanceOf(GatewayError);
    expect((error as Error).name).toBe('TimeoutError');
  });

  it('closes the upstream request when the consumer stops early', async () => {
    stub.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'first' }, { content: 'never' }], cut: { after: 1, how: 'hang' } });

    const handle = await provider.stream(deployment(), chatRequest({ stream: true }), callOptions());
    for await (const event of handle.events) {
      if (event.type === 'text_delta') break;
    }

    await vi.waitFor(() => expect(stub.requests.at(-1)?.aborted).toBe(true));
  });
});
