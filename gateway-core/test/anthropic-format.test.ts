import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError, type ErrorKind } from '../src/errors';
import type { CanonicalRequest, CanonicalResponse, CanonicalStreamEvent } from '../src/formats/canonical';
import {
  anthropicStreamErrorEvent,
  anthropicStreamErrorFrame,
  renderAnthropicError,
  statusForAnthropicErrorType,
} from '../src/formats/anthropic-messages/errors';
import { anthropicRequestToCanonical, canonicalToAnthropicRequest } from '../src/formats/anthropic-messages/request';
import {
  anthropicResponseToCanonical,
  anthropicStopReasonToCanonical,
  canonicalToAnthropicResponse,
} from '../src/formats/anthropic-messages/response';
import {
  anthropicCountTokensSchema,
  anthropicRequestSchema,
  validateAnthropicBody,
  type AnthropicRequestBody,
} from '../src/formats/anthropic-messages/schema';
import {
  AnthropicStreamToCanonical,
  CanonicalToAnthropicStream,
  anthropicEventCarriesContent,
  formatAnthropicSseEvent,
  type AnthropicSseEvent,
  type AnthropicStreamEvent,
} from '../src/formats/anthropic-messages/stream';
import { anthropicPartialUsage, anthropicUsageToCanonical } from '../src/formats/anthropic-messages/usage';
import { startAnthropicStub, type AnthropicStub } from './stubs/anthropic';

const pngData = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

function parse(body: unknown): AnthropicRequestBody {
  return validateAnthropicBody(anthropicRequestSchema, body);
}

function toCanonical(body: unknown): CanonicalRequest {
  return anthropicRequestToCanonical(parse(body));
}

function gatewayError(run: () => unknown): GatewayError {
  try {
    run();
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a GatewayError');
}

/** A request using every field the adapter maps, in the order the adapter writes them. */
const richRequest = {
  model: 'claude-sonnet-4-5',
  max_tokens: 2048,
  system: [
    { type: 'text', text: 'You are a weather bot.' },
    { type: 'text', text: 'Answer in English.' },
  ],
  messages: [
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Weather in Oslo and Rome? Here is a map:' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: pngData } },
        { type: 'image', source: { type: 'url', url: 'https://maps.example.invalid/europe.png' } },
      ],
    },
    {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'Two cities, two calls.', signature: 'sig-1' },
        { type: 'redacted_thinking', data: 'EncryptedBlob==' },
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'toolu_oslo', name: 'get_weather', input: { city: 'Oslo', units: 'metric' } },
        { type: 'tool_use', id: 'toolu_rome', name: 'get_weather', input: { city: 'Rome' } },
      ],
    },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_oslo', content: [{ type: 'text', text: '4 °C, snow' }] },
        {
          type: 'tool_result',
          tool_use_id: 'toolu_rome',
          content: [
            { type: 'text', text: 'service down' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: pngData } },
          ],
          is_error: true,
        },
        { type: 'text', text: 'Summarize.' },
      ],
    },
  ],
  tools: [
    {
      name: 'get_weather',
      description: 'Current weather for a city',
      input_schema: { type: 'object', properties: { city: { type: 'string' }, units: { type: 'string' } }, required: ['city'] },
    },
  ],
  tool_choice: { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true },
  stop_sequences: ['###'],
  temperature: 0.3,
  top_p: 0.9,
  top_k: 40,
  metadata: { user_id: 'dev-42' },
  output_config: { effort: 'high' },
  stream: true,
};

describe('Anthropic request to canonical', () => {
  it('maps every modelled field', () => {
    const canonical = toCanonical(richRequest);

    expect(canonical.system).toEqual([
      { type: 'text', text: 'You are a weather bot.' },
      { type: 'text', text: 'Answer in English.' },
    ]);
    expect(canonical.messages[0]!.content).toEqual([
      { type: 'text', text: 'Weather in Oslo and Rome? Here is a map:' },
      { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: pngData } },
      { type: 'image', source: { kind: 'url', url: 'https://maps.example.invalid/europe.png' } },
    ]);
    expect(canonical.messages[1]!.content).toEqual([
      { type: 'thinking', text: 'Two cities, two calls.', signature: 'sig-1' },
      { type: 'redacted_thinking', data: 'EncryptedBlob==' },
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_call', id: 'toolu_oslo', name: 'get_weather', arguments: '{"city":"Oslo","units":"metric"}' },
      { type: 'tool_call', id: 'toolu_rome', name: 'get_weather', arguments: '{"city":"Rome"}' },
    ]);
    expect(canonical.messages[2]!.content).toEqual([
      { type: 'tool_result', toolCallId: 'toolu_oslo', content: [{ type: 'text', text: '4 °C, snow' }], isError: false },
      {
        type: 'tool_result',
        toolCallId: 'toolu_rome',
        content: [
          { type: 'text', text: 'service down' },
          { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: pngData } },
        ],
        isError: true,
      },
      { type: 'text', text: 'Summarize.' },
    ]);
    expect(canonical.tools).toEqual([
      { name: 'get_weather', description: 'Current weather for a city', parameters: richRequest.tools[0]!.input_schema },
    ]);
    expect(canonical.toolChoice).toEqual({ type: 'tool', name: 'get_weather' });
    expect(canonical.parallelToolCalls).toBe(false);
    expect(canonical.maxTokens).toBe(2048);
    expect(canonical.temperature).toBe(0.3);
    expect(canonical.topP).toBe(0.9);
    expect(canonical.topK).toBe(40);
    expect(canonical.stop).toEqual(['###']);
    expect(canonical.user).toBe('dev-42');
    expect(canonical.reasoningEffort).toBe('high');
    expect(canonical.stream).toBe(true);
  });

  it('reads a string system prompt and string content', () => {
    const canonical = toCanonical({ model: 'm', max_tokens: 10, system: 'Be kind.', messages: [{ role: 'user', content: 'hi' }] });
    expect(canonical.system).toEqual([{ type: 'text', text: 'Be kind.' }]);
    expect(canonical.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'hi' }] }]);
    expect(canonical.stream).toBe(false);
  });

  it('maps each tool_choice type', () => {
    const cases = [
      [{ type: 'auto' }, { type: 'auto' }],
      [{ type: 'any' }, { type: 'required' }],
      [{ type: 'none' }, { type: 'none' }],
      [{ type: 'tool', name: 'f' }, { type: 'tool', name: 'f' }],
    ] as const;
    for (const [anthropic, canonical] of cases) {
      const request = toCanonical({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'x' }], tool_choice: anthropic });
      expect(request.toolChoice).toEqual(canonical);
      expect(request.parallelToolCalls).toBeUndefined();
    }
  });

  it('rejects blocks only Anthropic can serve', () => {
    const cases = [
      { content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' } }], param: 'messages.0.content.0' },
      { content: [{ type: 'image', source: { type: 'file', file_id: 'file_1' } }], param: 'messages.0.content.0.source' },
      {
        content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'search_result', source: 's', title: 't', content: [] }] }],
        param: 'messages.0.content.0.content.0',
      },
    ];
    for (const { content, param } of cases) {
      const error = gatewayError(() => toCanonical({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content }] }));
      expect(error.kind).toBe('unsupported_parameter');
      expect(error.param).toBe(param);
    }
  });

  it('rejects a system message, a server tool and mcp_servers', () => {
    const base = { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] };
    const systemMessage = gatewayError(() => toCanonical({ ...base, messages: [...base.messages, { role: 'system', content: 'late rule' }] }));
    expect(systemMessage.param).toBe('messages.1.role');
    const serverTool = gatewayError(() => toCanonical({ ...base, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }));
    expect(serverTool.param).toBe('tools.0');
    const mcp = gatewayError(() => toCanonical({ ...base, mcp_servers: [{ type: 'url', url: 'https://mcp.example.invalid', name: 'x' }] }));
    expect(mcp.param).toBe('mcp_servers');
    for (const error of [systemMessage, serverTool, mcp]) expect(error.kind).toBe('unsupported_parameter');
  });
});

describe('Anthropic request validation', () => {
  it('names a missing max_tokens', () => {
    const error = gatewayError(() => parse({ model: 'm', messages: [{ role: 'user', content: 'x' }] }));
    expect(error.kind).toBe('invalid_value');
    expect(error.param).toBe('max_tokens');
    expect(error.message).toBe("Missing required field 'max_tokens'.");
  });

  it('names the field of a malformed known block', () => {
    const body = { model: 'm', max_tokens: 5, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 't1', input: {} }] }] };
    const error = gatewayError(() => parse(body));
    expect(error.param).toBe('messages.0.content.0.name');
  });

  it('rejects an unknown role and a body that is not an object', () => {
    expect(gatewayError(() => parse({ model: 'm', max_tokens: 5, messages: [{ role: 'tool', content: 'x' }] })).param).toBe('messages.0.role');
    expect(gatewayError(() => parse([1, 2])).message).toBe('The request body must be a JSON object.');
  });

  it('keeps unknown blocks and fields', () => {
    const body = {
      model: 'm',
      max_tokens: 5,
      messages: [{ role: 'user', content: [{ type: 'future_block', payload: { a: 1 } }] }],
      some_new_option: { enabled: true },
    };
    expect(parse(body)).toEqual(body);
  });

  it('accepts a count_tokens body without max_tokens', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
    expect(validateAnthropicBody(anthropicCountTokensSchema, body)).toEqual(body);
  });
});

describe('canonical request to Anthropic', () => {
  it('round-trips a rich request', () => {
    const back = canonicalToAnthropicRequest(toCanonical(richRequest), { defaultMaxTokens: 4096 });
    expect(back).toEqual(richRequest);
  });

  it('uses the default max_tokens when the request has none', () => {
    const request: CanonicalRequest = { model: 'm', system: [], messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }], stream: false };
    expect(canonicalToAnthropicRequest(request, { defaultMaxTokens: 64000 }).max_tokens).toBe(64000);
  });

  it('merges tool results into one user message, results first', () => {
    const request: CanonicalRequest = {
      model: 'm',
      system: [],
      stream: false,
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'go' }] },
        {
          role: 'assistant',
          content: [
            { type: 'tool_call', id: 'call_a', name: 'f', arguments: '{"n":1}' },
            { type: 'tool_call', id: 'call_b', name: 'f', arguments: '' },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_a', content: [{ type: 'text', text: 'one' }], isError: false }] },
        { role: 'user', content: [{ type: 'text', text: 'and then' }] },
        { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_b', content: [], isError: true }] },
      ],
    };
    const body = canonicalToAnthropicRequest(request, { defaultMaxTokens: 100 });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'go' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'call_a', name: 'f', input: { n: 1 } },
          { type: 'tool_use', id: 'call_b', name: 'f', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_a', content: [{ type: 'text', text: 'one' }] },
          { type: 'tool_result', tool_use_id: 'call_b', is_error: true },
          { type: 'text', text: 'and then' },
        ],
      },
    ]);
  });

  it('maps tool choice and parallel tool calls', () => {
    const base: CanonicalRequest = { model: 'm', system: [], messages: [], stream: false };
    const choice = (overrides: Partial<CanonicalRequest>) => canonicalToAnthropicRequest({ ...base, ...overrides }, { defaultMaxTokens: 1 }).tool_choice;
    expect(choice({ toolChoice: { type: 'auto' } })).toEqual({ type: 'auto' });
    expect(choice({ toolChoice: { type: 'required' }, parallelToolCalls: false })).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(choice({ toolChoice: { type: 'none' }, parallelToolCalls: false })).toEqual({ type: 'none' });
    expect(choice({ parallelToolCalls: false })).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(choice({ parallelToolCalls: true })).toBeUndefined();
  });

  it('converts data URLs, drops empty text and unsigned thinking', () => {
    const request: CanonicalRequest = {
      model: 'm',
      system: [{ type: 'text', text: '' }],
      stream: false,
      reasoningEffort: 'minimal',
      messages: [
        { role: 'user', content: [{ type: 'text', text: '' }, { type: 'image', source: { kind: 'url', url: `data:image/png;base64,${pngData}` } }] },
        { role: 'assistant', content: [{ type: 'thinking', text: 'from another provider' }, { type: 'text', text: 'ok' }] },
      ],
    };
    const body = canonicalToAnthropicRequest(request, { defaultMaxTokens: 1 });
    expect(body.system).toBeUndefined();
    expect(body.output_config).toEqual({ effort: 'low' });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: pngData } }] },
      { role: 'assistant', content: [{ type: 'text', text: 'ok' }] },
    ]);
  });

  it('rejects tool-call arguments that are not a JSON object', () => {
    for (const args of ['{"a":', '[1,2]']) {
      const request: CanonicalRequest = {
        model: 'm',
        system: [],
        stream: false,
        messages: [{ role: 'assistant', content: [{ type: 'tool_call', id: 'call_x', name: 'f', arguments: args }] }],
      };
      const error = gatewayError(() => canonicalToAnthropicRequest(request, { defaultMaxTokens: 1 }));
      expect(error.kind).toBe('invalid_value');
      expect(error.message).toContain('call_x');
    }
  });
});

describe('Anthropic responses', () => {
  it('maps each stop reason', () => {
    const expected = {
      end_turn: 'end_turn',
      max_tokens: 'max_tokens',
      stop_sequence: 'stop_sequence',
      tool_use: 'tool_use',
      pause_turn: 'pause_turn',
      refusal: 'refusal',
      model_context_window_exceeded: 'max_tokens',
    };
    for (const [anthropic, canonical] of Object.entries(expected)) expect(anthropicStopReasonToCanonical(anthropic)).toBe(canonical);
    expect(anthropicStopReasonToCanonical(null)).toBe('end_turn');
  });

  it('counts input without cache reads and writes', () => {
    const usage = anthropicUsageToCanonical({
      input_tokens: 50,
      cache_read_input_tokens: 1000,
      cache_creation_input_tokens: 300,
      cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 200 },
      output_tokens: 80,
      output_tokens_details: { thinking_tokens: 30 },
    });
    expect(usage).toEqual({ inputTokens: 50, cacheReadTokens: 1000, cacheWrite5mTokens: 100, cacheWrite1hTokens: 200, outputTokens: 80, reasoningTokens: 30 });
  });

  it('counts cache writes without a split as 5-minute writes', () => {
    const usage = anthropicUsageToCanonical({ input_tokens: 5, cache_creation_input_tokens: 300, cache_read_input_tokens: null, output_tokens: 1 });
    expect(usage.cacheWrite5mTokens).toBe(300);
    expect(usage.cacheWrite1hTokens).toBe(0);
    expect(usage.cacheReadTokens).toBe(0);
    expect(usage.reasoningTokens).toBeNull();
  });

  it('keeps only reported counts of a delta', () => {
    expect(anthropicPartialUsage({ output_tokens: 42, input_tokens: null, cache_read_input_tokens: null })).toEqual({ outputTokens: 42 });
  });

  it('round-trips a response', () => {
    const message = {
      id: 'msg_01',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [
        { type: 'thinking', thinking: 'hmm', signature: 'sig' },
        { type: 'text', text: 'Calling.' },
        { type: 'tool_use', id: 'toolu_1', name: 'f', input: { x: [1, 2] } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {
        input_tokens: 10,
        cache_creation_input_tokens: 7,
        cache_read_input_tokens: 3,
        cache_creation: { ephemeral_5m_input_tokens: 2, ephemeral_1h_input_tokens: 5 },
        output_tokens: 20,
      },
    };
    const canonical = anthropicResponseToCanonical(message);
    expect(canonical.content[2]).toEqual({ type: 'tool_call', id: 'toolu_1', name: 'f', arguments: '{"x":[1,2]}' });
    expect(canonicalToAnthropicResponse(canonical)).toEqual(message);
  });

  it('derives tool_use and refusal for responses of other providers', () => {
    const response: CanonicalResponse = {
      id: 'chatcmpl-1',
      model: 'gpt-4o',
      content: [{ type: 'tool_call', id: 'call_1', name: 'f', arguments: '{"a":' }],
      stopReason: 'end_turn',
      stopSequence: null,
      usage: null,
    };
    const body = canonicalToAnthropicResponse(response);
    expect(body.id).toBe('msg_chatcmpl-1');
    expect(body.stop_reason).toBe('tool_use');
    expect(body.content).toEqual([{ type: 'tool_use', id: 'call_1', name: 'f', input: {} }]);
    expect(canonicalToAnthropicResponse({ ...response, content: [], stopReason: 'content_filter' }).stop_reason).toBe('refusal');
  });

  it('leaves out server tool blocks', () => {
    const canonical = anthropicResponseToCanonical({
      content: [
        { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'x' } },
        { type: 'text', text: 'Found it.' },
      ],
      stop_reason: 'end_turn',
    });
    expect(canonical.content).toEqual([{ type: 'text', text: 'Found it.' }]);
  });
});

/** A realistic upstream stream with a server tool block that the canonical stream leaves out. */
const upstreamEvents = [
  { type: 'message_start', message: { id: 'msg_9', model: 'claude-x', usage: { input_tokens: 9, cache_read_input_tokens: 4, cache_creation_input_tokens: 0, output_tokens: 1 } } },
  { type: 'content_block_start', index: 0, content_block: { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} } },
  { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"query":"x"}' } },
  { type: 'content_block_stop', index: 0 },
  { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
  { type: 'ping' },
  { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Hi' } },
  { type: 'content_block_delta', index: 1, delta: { type: 'citations_delta', citation: { type: 'char_location' } } },
  { type: 'content_block_stop', index: 1 },
  { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_7', name: 'f', input: {} } },
  { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } },
  { type: 'content_block_stop', index: 2 },
  { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 15 } },
  { type: 'message_stop' },
] as AnthropicStreamEvent[];

describe('Anthropic stream to canonical', () => {
  it('renumbers blocks and drops what it cannot carry', () => {
    const converter = new AnthropicStreamToCanonical();
    const events = upstreamEvents.flatMap((event) => converter.push(event));
    expect(events).toEqual([
      { type: 'message_start', id: 'msg_9', model: 'claude-x', usage: { inputTokens: 9, cacheReadTokens: 4, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, outputTokens: 1 } },
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'text_delta', index: 0, text: 'Hi' },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'tool_call', id: 'toolu_7', name: 'f' } },
      { type: 'tool_arguments_delta', index: 1, partialJson: '{"a":1}' },
      { type: 'block_stop', index: 1 },
      { type: 'message_delta', stopReason: 'tool_use', stopSequence: null, usage: { outputTokens: 15 } },
      { type: 'message_stop' },
    ]);
  });

  it('flags content events like the canonical rule', () => {
    const flags = upstreamEvents.map((event) => anthropicEventCarriesContent(event));
    expect(flags).toEqual([false, false, true, false, false, false, true, false, false, true, true, false, true, true]);
  });
});

describe('canonical stream to Anthropic', () => {
  const canonicalEvents: CanonicalStreamEvent[] = [
    { type: 'message_start', id: 'chatcmpl-5', model: 'gpt-4o', usage: null },
    { type: 'block_start', index: 0, block: { type: 'thinking' } },
    { type: 'thinking_delta', index: 0, text: 'plan' },
    { type: 'signature_delta', index: 0, signature: 'sig' },
    { type: 'block_stop', index: 0 },
    { type: 'block_start', index: 1, block: { type: 'text' } },
    { type: 'text_delta', index: 1, text: 'Sure.' },
    { type: 'block_stop', index: 1 },
    { type: 'block_start', index: 2, block: { type: 'tool_call', id: 'call_1', name: 'f' } },
    { type: 'tool_arguments_delta', index: 2, partialJson: '{"q":' },
    { type: 'tool_arguments_delta', index: 2, partialJson: '2}' },
    { type: 'block_stop', index: 2 },
    {
      type: 'message_delta',
      stopReason: 'end_turn',
      stopSequence: null,
      usage: { inputTokens: 70, cacheReadTokens: 30, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, outputTokens: 25, reasoningTokens: null },
    },
    { type: 'message_stop' },
  ];

  function encodeAll(events: CanonicalStreamEvent[]): AnthropicSseEvent[] {
    const encoder = new CanonicalToAnthropicStream();
    return events.flatMap((event) => encoder.encode(event));
  }

  it('writes events in Anthropic order with one ping', () => {
    const names = encodeAll(canonicalEvents).map((event) => event.event);
    expect(names).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  it('starts with empty content and ends with cumulative usage', () => {
    const encoded = encodeAll(canonicalEvents);
    expect(encoded[0]!.data).toEqual({
      type: 'message_start',
      message: {
        id: 'msg_chatcmpl-5',
        type: 'message',
        role: 'assistant',
        model: 'gpt-4o',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: 0,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
          output_tokens: 0,
        },
      },
    });
    expect(encoded[encoded.length - 2]!.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { input_tokens: 70, cache_creation_input_tokens: 0, cache_read_input_tokens: 30, output_tokens: 25 },
    });
  });

  it('round-trips through the stream parser', () => {
    const parser = new AnthropicStreamToCanonical();
    const back = encodeAll(canonicalEvents).flatMap((event) => parser.push(event.data as AnthropicStreamEvent));
    const blockEvents = (events: CanonicalStreamEvent[]) => events.filter((event) => event.type !== 'message_start' && event.type !== 'message_delta');
    expect(blockEvents(back)).toEqual(blockEvents(canonicalEvents));
    expect(back.find((event) => event.type === 'message_delta')).toMatchObject({ stopReason: 'tool_use', usage: { outputTokens: 25, inputTokens: 70 } });
  });

  it('adds message_delta and closes open blocks when message_stop comes early', () => {
    const encoded = encodeAll([
      { type: 'message_start', id: 'msg_1', model: 'm', usage: { inputTokens: 3 } },
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'text_delta', index: 0, text: 'x' },
      { type: 'message_stop' },
    ]);
    expect(encoded.slice(-3).map((event) => event.event)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(encoded[encoded.length - 2]!.data).toMatchObject({ delta: { stop_reason: 'end_turn' }, usage: { input_tokens: 3 } });
  });

  it('serializes an event as event and data lines', () => {
    expect(formatAnthropicSseEvent({ event: 'ping', data: { type: 'ping' } })).toBe('event: ping\ndata: {"type":"ping"}\n\n');
  });
});

describe('Anthropic error rendering', () => {
  const expected: Array<[ErrorKind, number, string]> = [
    ['invalid_json', 400, 'invalid_request_error'],
    ['invalid_value', 400, 'invalid_request_error'],
    ['unsupported_parameter', 400, 'invalid_request_error'],
    ['invalid_api_key', 401, 'authentication_error'],
    ['forbidden', 403, 'permission_error'],
    ['model_not_found', 404, 'not_found_error'],
    ['request_too_large', 413, 'request_too_large'],
    ['rate_limited', 429, 'rate_limit_error'],
    ['upstream_auth', 502, 'api_error'],
    ['upstream_error', 502, 'api_error'],
    ['upstream_timeout', 504, 'api_error'],
    ['overloaded', 529, 'overloaded_error'],
    ['internal', 500, 'api_error'],
  ];

  for (const [kind, status, type] of expected) {
    it(`renders ${kind} as ${status} ${type}`, () => {
      const rendered = renderAnthropicError(new GatewayError(kind, `failure of kind ${kind}`));
      expect(rendered.status).toBe(status);
      expect(rendered.body).toEqual({ type: 'error', error: { type, message: `failure of kind ${kind}` } });
    });
  }

  it('renders overloaded as 529 whatever its status', () => {
    expect(renderAnthropicError(new GatewayError('overloaded', 'busy', { status: 503 })).status).toBe(529);
  });

  it('keeps the error headers', () => {
    const error = new GatewayError('rate_limited', 'budget exhausted', { headers: { 'x-should-retry': 'false', 'retry-after': '60' } });
    expect(renderAnthropicError(error).headers).toEqual({ 'x-should-retry': 'false', 'retry-after': '60' });
  });

  it('writes the in-stream error frame', () => {
    const error = new GatewayError('overloaded', 'Overloaded');
    expect(anthropicStreamErrorEvent(error)).toEqual({ event: 'error', data: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    expect(anthropicStreamErrorFrame(error)).toBe('event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n');
  });

  it('maps error types of stream events to statuses', () => {
    expect(statusForAnthropicErrorType('overloaded_error')).toBe(529);
    expect(statusForAnthropicErrorType('rate_limit_error')).toBe(429);
    expect(statusForAnthropicErrorType('invalid_request_error')).toBe(400);
    expect(statusForAnthropicErrorType('something_new')).toBe(500);
  });
});

describe('encoder output read by the official SDK', () => {
  let stub: AnthropicStub;
  let client: Anthropic;

  beforeAll(async () => {
    stub = await startAnthropicStub();
    client = new Anthropic({ apiKey: 'test-key', baseURL: stub.url, maxRetries: 0 });
  });

  afterAll(async () => {
    await stub.close();
  });

  const request = { model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Weather?' }] };

  it('accumulates the final message', async () => {
    const encoder = new CanonicalToAnthropicStream();
    const events: CanonicalStreamEvent[] = [
      { type: 'message_start', id: 'chatcmpl-7', model: 'gpt-4o', usage: null },
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'text_delta', index: 0, text: 'Checking Oslo ' },
      { type: 'text_delta', index: 0, text: '❄️' },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'tool_call', id: 'call_9', name: 'get_weather' } },
      { type: 'tool_arguments_delta', index: 1, partialJson: '{"city":' },
      { type: 'tool_arguments_delta', index: 1, partialJson: '"Oslo"}' },
      { type: 'block_stop', index: 1 },
      {
        type: 'message_delta',
        stopReason: 'end_turn',
        stopSequence: null,
        usage: { inputTokens: 31, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, outputTokens: 9, reasoningTokens: null },
      },
      { type: 'message_stop' },
    ];
    const sse = events.flatMap((event) => encoder.encode(event));
    stub.enqueue({ kind: 'stream', events: sse.map((event) => ({ event: event.event, data: event.data })) });

    const message = await client.messages.stream(request).finalMessage();

    expect(message.id).toBe('msg_chatcmpl-7');
    expect(message.content).toEqual([
      expect.objectContaining({ type: 'text', text: 'Checking Oslo ❄️' }),
      expect.objectContaining({ type: 'tool_use', id: 'call_9', name: 'get_weather', input: { city: 'Oslo' } }),
    ]);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage.input_tokens).toBe(31);
    expect(message.usage.output_tokens).toBe(9);
  });

  it('raises the in-stream error frame', async () => {
    const encoder = new CanonicalToAnthropicStream();
    const start = encoder.encode({ type: 'message_start', id: 'msg_1', model: 'm', usage: null });
    const failure = anthropicStreamErrorEvent(new GatewayError('overloaded', 'Overloaded'));
    stub.enqueue({ kind: 'stream', events: [...start, failure] });

    const error = await client.messages
      .stream(request)
      .finalMessage()
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).type).toBe('overloaded_error');
  });

  it('raises the rendered error envelope', async () => {
    const rendered = renderAnthropicError(new GatewayError('rate_limited', 'budget exhausted', { headers: { 'x-should-retry': 'false' } }));
    stub.enqueue({
      kind: 'raw',
      status: rendered.status,
      headers: { 'content-type': 'application/json', ...rendered.headers },
      body: JSON.stringify(rendered.body),
    });

    const error = await client.messages.create(request).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect((error as InstanceType<typeof Anthropic.RateLimitError>).apiMessage).toBe('budget exhausted');
  });
});
