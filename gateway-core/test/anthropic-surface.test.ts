import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/storage/audit';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import {
  messageBody,
  serializeEvents,
  splitAtOffsets,
  startAnthropicStub,
  streamEvents,
  type AnthropicStub,
  type StubBehaviour,
  type StubBlock,
} from './stubs/anthropic';
import { startOllamaStub, type OllamaStub, type StubChunk } from './stubs/ollama';
import { OpenAIStub, sendJson, sendStream, sseText } from './stubs/openai';

/*
 * The Anthropic Messages surface driven by the official @anthropic-ai/sdk, against an Anthropic
 * stub (passthrough), an OpenAI-format stub and an Ollama stub (both translated): the tool-use
 * loop, stream helpers and streams cut at awkward bytes.
 */

const openAIKey = 'sk-openai-provider-secret-0123456789';
const sonnet = 'claude-sonnet-4-5-20250929';

let anthropic: AnthropicStub;
let openai: OpenAIStub;
let ollama: OllamaStub;
let gw: TestGateway;
let client: Anthropic;

beforeAll(async () => {
  anthropic = await startAnthropicStub();
  anthropic.setHandler((request) => {
    const next = anthropicReplies.shift();
    return next ? next(request.body as Record<string, unknown>) : { kind: 'error', status: 500, type: 'api_error', message: 'the test queued no reply' };
  });
  openai = await new OpenAIStub().start();
  ollama = await startOllamaStub();
  gw = await startTestGateway(
    {
      model_list: [
        { model_name: 'claude-*', litellm_params: { model: 'anthropic/claude-*', api_key: 'sk-ant-provider-literal', api_base: anthropic.url } },
        { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_key: 'os.environ/STUB_OPENAI_KEY', api_base: openai.url } },
        { model_name: 'qwen', litellm_params: { model: 'ollama/qwen3:8b', api_base: ollama.url } },
      ],
    },
    { STUB_OPENAI_KEY: openAIKey },
  );
  client = new Anthropic({ baseURL: gw.url, apiKey: gw.userKey, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop();
  await anthropic.close();
  await openai.stop();
  await ollama.close();
});

// ---------------------------------------------------------------------------------------------
// Scripted upstream replies, the same turn in each provider's wire format.

interface ToolCallSpec {
  id: string;
  name: string;
  input: Record<string, unknown>;
}

/** One assistant turn: optional text, then tool calls. */
interface Turn {
  id: string;
  text?: string;
  calls?: ToolCallSpec[];
  /** Ends the OpenAI reply with this finish_reason instead of the usual one. */
  openAIFinish?: string;
}

interface Upstream {
  name: string;
  /** The model name the client requests. */
  model: string;
  /** Input and output tokens the stub reports for every reply. */
  usage: [number, number];
  /** Queue the reply to the next request, streamed when that request sets `stream`. */
  reply(turn: Turn): void;
  /** The body of the last chat request the upstream received. */
  lastBody(): Record<string, any>;
}

const anthropicReplies: Array<(body: Record<string, unknown>) => StubBehaviour> = [];

function anthropicContent(turn: Turn): Array<Record<string, unknown>> {
  const content: Array<Record<string, unknown>> = [];
  if (turn.text) content.push({ type: 'text', text: turn.text });
  for (const call of turn.calls ?? []) content.push({ type: 'tool_use', id: call.id, name: call.name, input: call.input });
  return content;
}

function anthropicBlocks(turn: Turn): StubBlock[] {
  const blocks: StubBlock[] = [];
  if (turn.text) blocks.push({ type: 'text', pieces: halves(turn.text) });
  for (const call of turn.calls ?? []) blocks.push({ type: 'tool_use', id: call.id, name: call.name, pieces: halves(JSON.stringify(call.input)) });
  return blocks;
}

/** Cut a string in two, so that every streamed value arrives in more than one delta. */
function halves(text: string): string[] {
  const middle = Math.ceil(text.length / 2);
  return [text.slice(0, middle), text.slice(middle)];
}

const anthropicUpstream: Upstream = {
  name: 'anthropic',
  model: sonnet,
  usage: [25, 12],
  reply(turn) {
    const options = { id: `msg_${turn.id}`, model: sonnet, stopReason: turn.calls ? 'tool_use' : 'end_turn' };
    anthropicReplies.push((body) =>
      body.stream === true
        ? { kind: 'stream', events: streamEvents(anthropicBlocks(turn), options) }
        : { kind: 'message', body: messageBody(anthropicContent(turn), options) },
    );
  },
  lastBody: () => anthropic.requests[anthropic.requests.length - 1]!.body as Record<string, any>,
};

/** Usage as OpenAI reports it today, details included. */
const openAIUsage = {
  prompt_tokens: 40,
  completion_tokens: 18,
  total_tokens: 58,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
};

function openAIFinish(turn: Turn): string {
  return turn.openAIFinish ?? (turn.calls ? 'tool_calls' : 'stop');
}

function openAICompletion(turn: Turn): Record<string, unknown> {
  const toolCalls = (turn.calls ?? []).map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: JSON.stringify(call.input) } }));
  const message: Record<string, unknown> = { role: 'assistant', content: turn.text ?? null, refusal: null, annotations: [] };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return {
    id: `chatcmpl-${turn.id}`,
    object: 'chat.completion',
    created: 1_760_000_000,
    model: 'gpt-4o-2024-08-06',
    choices: [{ index: 0, message, logprobs: null, finish_reason: openAIFinish(turn) }],
    usage: openAIUsage,
    service_tier: 'default',
    system_fingerprint: 'fp_stub',
  };
}

/** Build the chunks OpenAI streams for a turn when stream_options.include_usage is set. */
function openAIChunks(turn: Turn): Record<string, unknown>[] {
  const base = { id: `chatcmpl-${turn.id}`, object: 'chat.completion.chunk', created: 1_760_000_000, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_stub' };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    usage: null,
  });
  const chunks = [chunk({ role: 'assistant', content: '', refusal: null })];
  for (const piece of turn.text ? halves(turn.text) : []) chunks.push(chunk({ content: piece }));
  (turn.calls ?? []).forEach((call, index) => {
    chunks.push(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }));
    for (const piece of halves(JSON.stringify(call.input))) chunks.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
  });
  chunks.push(chunk({}, openAIFinish(turn)));
  return [...chunks, { ...base, choices: [], usage: openAIUsage }];
}

const openAIUpstream: Upstream = {
  name: 'openai',
  model: 'gpt-4o',
  usage: [40, 18],
  reply(turn) {
    openai.next((request, res) => (request.body.stream === true ? sendStream(res, openAIChunks(turn)) : sendJson(res, 200, openAICompletion(turn))));
  },
  lastBody: () => openai.last.body as Record<string, any>,
};

function ollamaChunks(turn: Turn): StubChunk[] {
  const chunks: StubChunk[] = (turn.text ? halves(turn.text) : []).map((content) => ({ content }));
  const calls = (turn.calls ?? []).map((call) => ({ id: call.id, function: { name: call.name, arguments: call.input } }));
  if (calls.length > 0) chunks.push({ tool_calls: calls });
  return chunks;
}

const ollamaUpstream: Upstream = {
  name: 'ollama',
  model: 'qwen',
  usage: [26, 12],
  reply(turn) {
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: ollamaChunks(turn) });
  },
  lastBody: () => ollama.requests.filter((request) => request.path === '/api/chat').at(-1)!.body as Record<string, any>,
};

const upstreams = [anthropicUpstream, openAIUpstream, ollamaUpstream];

// ---------------------------------------------------------------------------------------------
// Client helpers.

/** Send a request streamed (through the SDK's stream helper) or not, and return the final Message. */
async function send(params: Anthropic.MessageCreateParamsNonStreaming, stream: boolean): Promise<Anthropic.Message> {
  if (!stream) return client.messages.create(params);
  return client.messages.stream(params).finalMessage();
}

/** Read the audit record of a request; the gateway writes it as the response ends. */
async function auditOf(requestId: string | null | undefined): Promise<AuditRecord> {
  expect(requestId).toMatch(/^req_/);
  for (let waited = 0; waited < 2000; waited += 20) {
    const record = gw.gateway.audit.get(requestId!);
    if (record) return record;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no audit record for ${requestId}`);
}

const weatherTool: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Current weather for a city.',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const timeTool: Anthropic.Tool = {
  name: 'get_time',
  description: 'Current local time in a time zone.',
  input_schema: { type: 'object', properties: { timezone: { type: 'string' } }, required: ['timezone'] },
};

// ---------------------------------------------------------------------------------------------

describe('multi-turn tool-use loop', () => {
  const question: Anthropic.MessageParam = { role: 'user', content: 'What is the weather in Paris and the time in Tokyo?' };
  const calls: ToolCallSpec[] = [
    { id: 'toolu_01Weather', name: 'get_weather', input: { city: 'Paris' } },
    { id: 'toolu_02Time', name: 'get_time', input: { timezone: 'Asia/Tokyo' } },
  ];
  const answer = 'Paris has 18 °C and light rain; the clock service for Tokyo failed, so I do not know the time there.';
  const expectedToolTurn = [
    { type: 'text', text: 'Let me check both.' },
    { type: 'tool_use', id: 'toolu_01Weather', name: 'get_weather', input: { city: 'Paris' } },
    { type: 'tool_use', id: 'toolu_02Time', name: 'get_time', input: { timezone: 'Asia/Tokyo' } },
  ];

  async function runLoop(upstream: Upstream, stream: boolean): Promise<{ first: Anthropic.Message; final: Anthropic.Message }> {
    upstream.reply({ id: 'loop1', text: 'Let me check both.', calls });
    const first = await send({ model: upstream.model, max_tokens: 1024, tools: [weatherTool, timeTool], messages: [question] }, stream);
    const [weather, time] = first.content.filter((block): block is Anthropic.ToolUseBlock => block.type === 'tool_use');

    upstream.reply({ id: 'loop2', text: answer });
    const final = await send(
      {
        model: upstream.model,
        max_tokens: 1024,
        tools: [weatherTool, timeTool],
        messages: [
          question,
          { role: 'assistant', content: first.content },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: weather!.id, content: '18 °C, light rain' },
              { type: 'tool_result', tool_use_id: time!.id, content: [{ type: 'text', text: 'clock service unavailable' }], is_error: true },
            ],
          },
        ],
      },
      stream,
    );
    return { first, final };
  }

  for (const upstream of upstreams) {
    for (const stream of [false, true]) {
      it(`ends with the same answer through ${upstream.name}${stream ? ', streamed' : ''}`, async () => {
        const { first, final } = await runLoop(upstream, stream);

        expect(first.stop_reason).toBe('tool_use');
        expect(first.content).toEqual(expectedToolTurn);
        expect(final.stop_reason).toBe('end_turn');
        expect(final.content).toEqual([{ type: 'text', text: answer }]);
        expect(final.role).toBe('assistant');
        expect(final.type).toBe('message');
      });
    }
  }

  it('passes tool results to Anthropic', async () => {
    await runLoop(anthropicUpstream, false);
    const body = anthropicUpstream.lastBody();
    expect(body.messages[1].content).toEqual(expectedToolTurn);
    expect(body.messages[2].content).toEqual([
      { type: 'tool_result', tool_use_id: 'toolu_01Weather', content: '18 °C, light rain' },
      { type: 'tool_result', tool_use_id: 'toolu_02Time', content: [{ type: 'text', text: 'clock service unavailable' }], is_error: true },
    ]);
  });

  it('translates the loop for OpenAI', async () => {
    await runLoop(openAIUpstream, false);
    const body = openAIUpstream.lastBody();
    expect(body.messages).toEqual([
      { role: 'user', content: 'What is the weather in Paris and the time in Tokyo?' },
      {
        role: 'assistant',
        content: 'Let me check both.',
        tool_calls: [
          { id: 'toolu_01Weather', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'toolu_02Time', type: 'function', function: { name: 'get_time', arguments: '{"timezone":"Asia/Tokyo"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_01Weather', content: '18 °C, light rain' },
      { role: 'tool', tool_call_id: 'toolu_02Time', content: 'Error: clock service unavailable' },
    ]);
    expect(body.tools.map((tool: any) => tool.function.name)).toEqual(['get_weather', 'get_time']);
    expect(body.tools[0].function.parameters).toEqual(weatherTool.input_schema);
    expect(body.max_tokens).toBe(1024);
    expect(openai.last.headers.authorization).toBe(`Bearer ${openAIKey}`);
    // Anthropic's headers are meant for Anthropic deployments only.
    expect(openai.last.headers['anthropic-version']).toBeUndefined();
  });

  it('translates the loop for Ollama', async () => {
    await runLoop(ollamaUpstream, false);
    const body = ollamaUpstream.lastBody();
    expect(body.messages.map((message: any) => message.role)).toEqual(['user', 'assistant', 'tool', 'tool']);
    expect(body.messages[1].tool_calls).toEqual([
      { function: { name: 'get_weather', arguments: { city: 'Paris' } } },
      { function: { name: 'get_time', arguments: { timezone: 'Asia/Tokyo' } } },
    ]);
    expect(body.messages[2]).toMatchObject({ content: '18 °C, light rain', tool_name: 'get_weather' });
    expect(body.messages[3]).toMatchObject({ content: 'clock service unavailable', tool_name: 'get_time' });
  });
});

describe('streamed final message', () => {
  const toolTurn: Turn = {
    id: 'same1',
    calls: [
      { id: 'toolu_03Search', name: 'search_docs', input: { query: 'Zürich rail strikes', filters: { year: 2025, tags: ['transport'] } } },
      { id: 'toolu_04Weather', name: 'get_weather', input: { city: 'Zürich' } },
    ],
  };
  const textTurn: Turn = { id: 'same2', text: 'A gateway sits between clients and providers — “façade” in one word.' };
  const searchTool: Anthropic.Tool = { name: 'search_docs', input_schema: { type: 'object', properties: { query: { type: 'string' } } } };

  for (const upstream of upstreams) {
    for (const [kind, turn] of [['text', textTurn], ['tool use', toolTurn]] as const) {
      it(`equals the non-streaming ${kind} message through ${upstream.name}`, async () => {
        const params: Anthropic.MessageCreateParamsNonStreaming = {
          model: upstream.model,
          max_tokens: 800,
          tools: [searchTool, weatherTool],
          messages: [{ role: 'user', content: 'Go.' }],
        };
        upstream.reply(turn);
        const whole = await client.messages.create(params);
        upstream.reply(turn);
        const stream = client.messages.stream(params);
        const streamed = await stream.finalMessage();

        expect(whole.content).toEqual(anthropicContent(turn));
        expect(whole.stop_reason).toBe(turn.calls ? 'tool_use' : 'end_turn');
        // The stream helper adds parsed_output, which create() does not have.
        const { parsed_output: parsedOutput, ...message } = streamed as Anthropic.Message & { parsed_output?: unknown };
        expect(parsedOutput).toBeNull();
        // Ollama responses carry no id, so the gateway makes a new one for each response.
        const comparable = upstream === ollamaUpstream ? { ...message, id: whole.id } : message;
        expect(comparable).toEqual(whole);

        const record = await auditOf(stream.response?.headers.get('x-airlock-request-id'));
        const [inputTokens, outputTokens] = upstream.usage;
        expect(record).toMatchObject({ stream: true, httpStatus: 200, provider: upstream.name });
        expect(record.usage).toMatchObject({ inputTokens, outputTokens, source: 'reported' });
      });
    }
  }
});

describe('forced tool call finished with "stop" by OpenAI', () => {
  const turn: Turn = { id: 'forced1', calls: [{ id: 'call_forced', name: 'get_weather', input: { city: 'Lyon' } }], openAIFinish: 'stop' };
  const params: Anthropic.MessageCreateParamsNonStreaming = {
    model: 'gpt-4o',
    max_tokens: 100,
    tools: [weatherTool],
    tool_choice: { type: 'tool', name: 'get_weather' },
    messages: [{ role: 'user', content: 'Weather in Lyon?' }],
  };

  for (const stream of [false, true]) {
    it(`still stops with tool_use${stream ? ', streamed' : ''}`, async () => {
      openAIUpstream.reply(turn);
      const message = await send(params, stream);
      expect(openAIUpstream.lastBody().tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
      expect(message.stop_reason).toBe('tool_use');
      expect(message.content).toEqual([{ type: 'tool_use', id: 'call_forced', name: 'get_weather', input: { city: 'Lyon' } }]);
    });
  }
});
describe('streams split inside characters and events', () => {
  const text = 'naïve 日本語 🚀 done';
  const call: ToolCallSpec = { id: 'toolu_05Geo', name: 'get_weather', input: { city: 'Hà Nội' } };
  const expected = [
    { type: 'text', text },
    { type: 'tool_use', id: 'toolu_05Geo', name: 'get_weather', input: { city: 'Hà Nội' } },
  ];

  /** Byte offsets that cut inside three multi-byte characters, checked to be continuation bytes. */
  function offsetsInsideCharacters(bytes: Buffer): number[] {
    const offsets = [bytes.indexOf(Buffer.from('日')) + 1, bytes.indexOf(Buffer.from('🚀')) + 2, bytes.indexOf(Buffer.from('Hà')) + 2];
    for (const offset of offsets) expect(bytes[offset]! & 0xc0).toBe(0x80);
    return offsets;
  }

  it('assembles an Anthropic stream', async () => {
    const events = streamEvents(
      [
        { type: 'text', pieces: ['naïve ', '日本語 ', '🚀 done'] },
        { type: 'tool_use', id: call.id, name: call.name, pieces: ['{"city":', '"Hà Nội"}'] },
      ],
      { id: 'msg_split', stopReason: 'tool_use' },
    );
    const bytes = Buffer.from(serializeEvents(events), 'utf8');
    const insideEventName = bytes.indexOf(Buffer.from('event: content_block_delta')) + 9;
    const afterDataField = bytes.indexOf(Buffer.from('data: '), bytes.indexOf(Buffer.from('event: message_delta'))) + 5;
    const betweenNewlines = bytes.lastIndexOf(Buffer.from('\n\n')) + 1;
    const split = splitAtOffsets(...offsetsInsideCharacters(bytes), insideEventName, afterDataField, betweenNewlines);
    anthropicReplies.push(() => ({ kind: 'stream', events, split }));

    const message = await client.messages.stream({ model: sonnet, max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage();
    expect(message.content).toEqual(expected);
    expect(message.stop_reason).toBe('tool_use');
  });

  it('assembles an OpenAI stream', async () => {
    const chunks = openAIChunks({ id: 'split', text, calls: [call] });
    const bytes = Buffer.from(sseText(chunks), 'utf8');
    const insideDelta = bytes.indexOf(Buffer.from('"delta"')) + 3;
    const afterDataField = bytes.indexOf(Buffer.from('data: '), 10) + 5;
    const splitAt = [...offsetsInsideCharacters(bytes), insideDelta, afterDataField].sort((a, b) => a - b);
    openai.next((_request, res) => sendStream(res, chunks, { splitAt }));

    const message = await client.messages.stream({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage();
    expect(message.content).toEqual(expected);
    expect(message.stop_reason).toBe('tool_use');
  });

  it('assembles an Ollama stream cut every 7 bytes', async () => {
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: ollamaChunks({ id: 'split', text, calls: [call] }), chunkBytes: 7 });
    const message = await client.messages.stream({ model: 'qwen', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage();
    expect(message.content).toEqual(expected);
    expect(message.stop_reason).toBe('tool_use');
  });
});
