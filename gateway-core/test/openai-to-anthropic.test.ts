import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { errorEvent, messageBody, startAnthropicStub, streamEvents, type AnthropicStub } from './stubs/anthropic';

let anthropic: AnthropicStub;
let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  anthropic = await startAnthropicStub();
  gw = await startTestGateway(
    {
      model_list: [
        {
          model_name: 'claude',
          litellm_params: { model: 'anthropic/claude-sonnet-4-5-20250929', api_key: 'os.environ/STUB_ANTHROPIC_KEY', api_base: anthropic.url },
        },
      ],
    },
    { STUB_ANTHROPIC_KEY: 'sk-ant-secret-key-000' },
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop();
  await anthropic.close();
});

function lastBody(): Record<string, any> {
  return anthropic.requests[anthropic.requests.length - 1]!.body as Record<string, any>;
}

describe('OpenAI surface to an Anthropic deployment', () => {
  it('translates system, images, tool calls and tool results', async () => {
    anthropic.enqueue({
      kind: 'message',
      body: messageBody(
        [
          { type: 'text', text: 'Let me check both.' },
          { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Hanoi' } },
          { type: 'tool_use', id: 'toolu_2', name: 'weather', input: { city: 'Hue' } },
        ],
        { stopReason: 'tool_use', usage: { input_tokens: 100, output_tokens: 30, cache_read_input_tokens: 2000, cache_creation_input_tokens: 500 } },
      ),
    });
    const { data, response } = await client.chat.completions
      .create({
        model: 'claude',
        max_tokens: 300,
        stop: ['###'],
        messages: [
          { role: 'system', content: 'You are terse.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Compare these cities' },
              { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQ' } },
            ],
          },
          { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_0', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }] },
          { role: 'tool', tool_call_id: 'toolu_0', content: 'found' },
        ],
        tools: [{ type: 'function', function: { name: 'weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      })
      .withResponse();

    const sent = lastBody();
    expect(sent.model).toBe('claude-sonnet-4-5-20250929');
    expect(sent.max_tokens).toBe(300);
    expect(sent.stop_sequences).toEqual(['###']);
    expect(JSON.stringify(sent.system)).toContain('You are terse.');
    expect(sent.messages[0].content[1]).toEqual({ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } });
    expect(sent.messages[1].content[0]).toMatchObject({ type: 'tool_use', id: 'toolu_0', name: 'lookup', input: { q: 'x' } });
    expect(sent.messages[2].content[0]).toMatchObject({ type: 'tool_result', tool_use_id: 'toolu_0' });
    expect(sent.tools[0]).toMatchObject({ name: 'weather', description: 'Weather now', input_schema: { type: 'object' } });

    const message = data.choices[0]!.message;
    expect(message.content).toBe('Let me check both.');
    expect(message.tool_calls!.map((c) => [c.id, c.type === 'function' ? JSON.parse(c.function.arguments).city : null])).toEqual([
      ['toolu_1', 'Hanoi'],
      ['toolu_2', 'Hue'],
    ]);
    expect(data.choices[0]!.finish_reason).toBe('tool_calls');
    // OpenAI's prompt_tokens counts every kind of input; cached_tokens are the cache reads.
    expect(data.usage).toMatchObject({ prompt_tokens: 2600, completion_tokens: 30, total_tokens: 2630 });
    expect(data.usage?.prompt_tokens_details?.cached_tokens).toBe(2000);

    const record = gw.gateway.audit.get(response.headers.get('x-airlock-request-id')!)!;
    expect(record.usage).toMatchObject({ inputTokens: 100, cacheReadTokens: 2000, cacheWrite5mTokens: 500, cacheWrite1hTokens: 0, outputTokens: 30 });
    // claude-sonnet-4-5: $3 input, $0.30 cache read, $3.75 5-minute write, $15 output per 1M.
    expect(record.costUsd).toBeCloseTo((100 * 3 + 2000 * 0.3 + 500 * 3.75 + 30 * 15) / 1e6, 12);
  });

  it('streams text and tool use as OpenAI chunks with usage', async () => {
    anthropic.enqueue({
      kind: 'stream',
      events: streamEvents(
        [
          { type: 'text', pieces: ['Chào ', 'bạn'] },
          { type: 'tool_use', id: 'toolu_9', name: 'weather', pieces: ['{"city":', ' "Hà Nội"}'] },
        ],
        { stopReason: 'tool_use', usage: { input_tokens: 50, output_tokens: 20, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 64 }, cache_creation_input_tokens: 64 } },
      ),
    });
    const runner = client.chat.completions.stream({
      model: 'claude',
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }],
    });
    const final = await runner.finalChatCompletion();
    const message = final.choices[0]!.message;
    expect(message.content).toBe('Chào bạn');
    expect(message.tool_calls![0]!.id).toBe('toolu_9');
    expect(JSON.parse(message.tool_calls![0]!.function.arguments)).toEqual({ city: 'Hà Nội' });
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    expect(final.usage).toMatchObject({ prompt_tokens: 114, completion_tokens: 20 });
  });

  it('rejects seed, which Anthropic cannot serve', async () => {
    const before = anthropic.requests.length;
    const error = (await client.chat.completions
      .create({ model: 'claude', seed: 42, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(400);
    expect(error.code).toBe('unsupported_parameter');
    expect(error.param).toBe('seed');
    expect(anthropic.requests.length).toBe(before);
  });

  it('emulates json_schema and says so in a header', async () => {
    anthropic.setHandler((request) => {
      const tool = (request.body as { tools: Array<{ name: string }> }).tools[0]!;
      return { kind: 'message', body: messageBody([{ type: 'tool_use', id: 'toolu_s', name: tool.name, input: { answer: 42 } }], { stopReason: 'tool_use' }) };
    });
    try {
      const { data, response } = await client.chat.completions
        .create({
          model: 'claude',
          messages: [{ role: 'user', content: 'answer?' }],
          response_format: { type: 'json_schema', json_schema: { name: 'result', schema: { type: 'object', properties: { answer: { type: 'number' } } } } },
        })
        .withResponse();
      expect(response.headers.get('x-airlock-emulated')).toContain('response_format');
      expect(JSON.parse(data.choices[0]!.message.content!)).toEqual({ answer: 42 });
      expect(data.choices[0]!.message.tool_calls).toBeUndefined();
      expect(data.choices[0]!.finish_reason).toBe('stop');
    } finally {
      anthropic.setHandler(null);
    }
  });

  it('maps an overloaded stream before content to 503', async () => {
    anthropic.enqueue({ kind: 'stream', events: [errorEvent('overloaded_error', 'Overloaded')] });
    const error = (await client.chat.completions
      .create({ model: 'claude', stream: true, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(503);
    expect(error.code).toBe('overloaded');
  });

  it('keeps the provider key out of the database and logs', async () => {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(`${gw.dataDir}/airlock.db`, { readonly: true });
    const dump = JSON.stringify(db.prepare('SELECT * FROM audit_log').all()) + JSON.stringify(db.prepare('SELECT * FROM api_keys').all());
    db.close();
    expect(anthropic.requests.some((r) => r.headers['x-api-key'] === 'sk-ant-secret-key-000')).toBe(true);
    expect(dump).not.toContain('sk-ant-secret');
    expect(gw.logs.join('')).not.toContain('sk-ant-secret');
  });
});
