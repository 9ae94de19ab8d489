import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { startOllamaStub, type OllamaStub } from './stubs/ollama';

let ollama: OllamaStub;
let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  ollama = await startOllamaStub();
  gw = await startTestGateway({
    model_list: [
      { model_name: 'local-coder', litellm_params: { model: 'ollama/qwen3:8b', api_base: ollama.url } },
      { model_name: 'local-embed', litellm_params: { model: 'ollama/nomic-embed-text', api_base: ollama.url } },
    ],
  });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop();
  await ollama.close();
});

function lastChatBody(): Record<string, any> {
  const chats = ollama.requests.filter((r) => r.path === '/api/chat');
  return chats[chats.length - 1]!.body as Record<string, any>;
}

async function audit(id: string | null): Promise<Record<string, any>> {
  return gw.gateway.audit.get(id!) as unknown as Record<string, any>;
}

describe('OpenAI surface to an Ollama deployment', () => {
  it('translates a multi-turn tool conversation with an image', async () => {
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'It is sunny.' }], promptEvalCount: 40, evalCount: 6 });
    const { data, response } = await client.chat.completions
      .create({
        model: 'local-coder',
        temperature: 0.2,
        seed: 3,
        max_tokens: 50,
        messages: [
          { role: 'system', content: 'Be brief.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Weather where this photo was taken?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            ],
          },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Hanoi"}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny, 31°C' },
        ],
        tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('It is sunny.');
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: 40, completion_tokens: 6, total_tokens: 46 });

    const sent = lastChatBody();
    expect(sent.model).toBe('qwen3:8b');
    expect(sent.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
    expect(sent.messages[1].images).toEqual(['iVBORw0KGgo=']);
    expect(sent.messages[2].tool_calls[0].function).toEqual({ name: 'weather', arguments: { city: 'Hanoi' } });
    expect(sent.messages[3].content).toBe('sunny, 31°C');
    expect(sent.options).toMatchObject({ temperature: 0.2, seed: 3, num_predict: 50 });

    const record = await audit(response.headers.get('x-airlock-request-id'));
    expect(record.provider).toBe('ollama');
    expect(record.usage).toMatchObject({ inputTokens: 40, outputTokens: 6, source: 'reported' });
    expect(record.costUsd).toBe(0);
    expect(record.pricing).toBe('free');
  });

  it('streams tool calls as OpenAI chunks the SDK assembles', async () => {
    ollama.enqueue('/api/chat', {
      kind: 'reply',
      chunks: [{ content: 'Checking. ' }, { tool_calls: [{ function: { name: 'weather', arguments: { city: 'Đà Nẵng' } } }] }],
      promptEvalCount: 20,
      evalCount: 9,
      chunkBytes: 7,
    });
    const runner = client.chat.completions.stream({
      model: 'local-coder',
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'weather in Da Nang' }],
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }],
    });
    const final = await runner.finalChatCompletion();
    const message = final.choices[0]!.message;
    expect(message.content).toBe('Checking. ');
    expect(message.tool_calls).toHaveLength(1);
    expect(JSON.parse(message.tool_calls![0]!.function.arguments)).toEqual({ city: 'Đà Nẵng' });
    expect(message.tool_calls![0]!.id).toMatch(/^call_/);
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    expect(final.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 9 });
  });

  it('rejects an image URL instead of fetching it', async () => {
    const before = ollama.requests.length;
    const error = (await client.chat.completions
      .create({
        model: 'local-coder',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://127.0.0.1:9/cat.png' } }] }],
      })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(400);
    expect(error.code).toBe('unsupported_parameter');
    expect(ollama.requests.length).toBe(before);
  });

  it('rejects n > 1 as unsupported', async () => {
    const error = (await client.chat.completions
      .create({ model: 'local-coder', n: 2, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(400);
    expect(error.code).toBe('unsupported_parameter');
    expect(error.param).toBe('n');
  });

  it('returns float and base64 embeddings', async () => {
    const vector = [0.1, -0.25, 3.5];
    ollama.enqueue('/api/embed', { kind: 'embed', embeddings: [vector, vector], promptEvalCount: 8 });
    const floats = await client.embeddings.create({ model: 'local-embed', input: ['a', 'b'], encoding_format: 'float' });
    expect(floats.data).toHaveLength(2);
    expect(floats.data[1]!.embedding).toEqual(vector);
    expect(floats.usage.prompt_tokens).toBe(8);

    ollama.enqueue('/api/embed', { kind: 'embed', embeddings: [vector], promptEvalCount: 3 });
    // The SDK asks for base64 by default and decodes little-endian float32.
    const decoded = await client.embeddings.create({ model: 'local-embed', input: 'a' });
    expect(decoded.data[0]!.embedding).toEqual(vector.map((v) => Math.fround(v)));

    ollama.enqueue('/api/embed', { kind: 'embed', embeddings: [vector], promptEvalCount: 3 });
    const raw = await fetch(`${gw.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.userKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'local-embed', input: 'a', encoding_format: 'base64' }),
    });
    const body = (await raw.json()) as { data: Array<{ embedding: string }> };
    expect(typeof body.data[0]!.embedding).toBe('string');
  });

  it('aborts the upstream and records estimated usage when the client disconnects', async () => {
    ollama.enqueue('/api/chat', {
      kind: 'reply',
      chunks: [{ content: 'The first part of a long answer. ' }, { content: 'More text.' }],
      cut: { after: 1, how: 'hang' },
    });
    const controller = new AbortController();
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      signal: controller.signal,
      headers: { authorization: `Bearer ${gw.userKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'local-coder', stream: true, messages: [{ role: 'user', content: 'Tell me a long story' }] }),
    });
    const id = response.headers.get('x-airlock-request-id');
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('first part')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();

    let record: Record<string, any> | null = null;
    for (let i = 0; i < 100 && !record; i++) {
      record = await audit(id);
      if (!record) await new Promise((r) => setTimeout(r, 20));
    }
    expect(record).not.toBeNull();
    expect(record!.flags).toContain('client_disconnected');
    expect(record!.usage.source).toBe('estimated');
    expect(record!.usage.outputTokens).toBeGreaterThan(5);
    expect(record!.usage.inputTokens).toBeGreaterThan(3);
    const upstream = ollama.requests.filter((r) => r.path === '/api/chat').pop()!;
    for (let i = 0; i < 50 && !upstream.aborted; i++) await new Promise((r) => setTimeout(r, 20));
    expect(upstream.aborted).toBe(true);
  });
});
