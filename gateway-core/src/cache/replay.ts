/**
 * Replays a stored response as a stream in its own format, for a cache hit on a streaming
 * request. The events are the ones the provider would have sent for that response: OpenAI chunks
 * ending with `data: [DONE]`, or Anthropic's message_start, content blocks, message_delta and
 * message_stop. Text is sent in one delta per block, which every client accepts.
 */

type JsonObject = Record<string, unknown>;

function sse(data: unknown, event?: string): string {
  return `${event === undefined ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface OpenAIToolCall {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

/**
 * Returns the SSE text of an OpenAI chat.completion as chunks: per choice a role chunk, the
 * content, refusal and reasoning, each tool call, then a chunk with finish_reason. The usage
 * chunk follows when the client asked for it with stream_options.include_usage.
 */
export function replayOpenAIStream(completion: JsonObject, includeUsage: boolean): string {
  const base = {
    id: completion.id,
    object: 'chat.completion.chunk',
    created: completion.created,
    model: completion.model,
    ...(completion.system_fingerprint === undefined ? {} : { system_fingerprint: completion.system_fingerprint }),
  };
  const usageField = includeUsage ? { usage: null } : {};
  const chunk = (index: number, delta: JsonObject, finishReason: unknown = null): string =>
    sse({ ...base, choices: [{ index, delta, logprobs: null, finish_reason: finishReason }], ...usageField });

  const parts: string[] = [];
  const choices = Array.isArray(completion.choices) ? (completion.choices as JsonObject[]) : [];
  choices.forEach((choice, position) => {
    const index = typeof choice.index === 'number' ? choice.index : position;
    const message = isObject(choice.message) ? choice.message : {};
    parts.push(chunk(index, { role: 'assistant', content: '' }));
    if (typeof message.reasoning_content === 'string' && message.reasoning_content !== '') {
      parts.push(chunk(index, { reasoning_content: message.reasoning_content }));
    }
    if (typeof message.content === 'string' && message.content !== '') parts.push(chunk(index, { content: message.content }));
    if (typeof message.refusal === 'string' && message.refusal !== '') parts.push(chunk(index, { refusal: message.refusal }));
    const calls = Array.isArray(message.tool_calls) ? (message.tool_calls as OpenAIToolCall[]) : [];
    calls.forEach((call, callIndex) => {
      parts.push(
        chunk(index, {
          tool_calls: [{ index: callIndex, id: call.id, type: call.type ?? 'function', function: { name: call.function?.name, arguments: call.function?.arguments ?? '' } }],
        }),
      );
    });
    parts.push(chunk(index, {}, choice.finish_reason ?? 'stop'));
  });
  if (includeUsage && completion.usage !== undefined) parts.push(sse({ ...base, choices: [], usage: completion.usage }));
  parts.push('data: [DONE]\n\n');
  return parts.join('');
}

/**
 * Returns the SSE text of an Anthropic message: message_start with empty content and the input
 * usage, one start, delta and stop per content block, message_delta with the stop reason and the
 * output tokens, and message_stop.
 */
export function replayAnthropicStream(message: JsonObject): string {
  const usage = isObject(message.usage) ? message.usage : {};
  const start = { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } };
  const parts: string[] = [sse({ type: 'message_start', message: start }, 'message_start')];

  const blocks = Array.isArray(message.content) ? (message.content as JsonObject[]) : [];
  blocks.forEach((block, index) => {
    const event = (type: string, data: JsonObject): void => {
      parts.push(sse({ type, index, ...data }, type));
    };
    switch (block.type) {
      case 'text':
        event('content_block_start', { content_block: { type: 'text', text: '' } });
        if (typeof block.text === 'string' && block.text !== '') event('content_block_delta', { delta: { type: 'text_delta', text: block.text } });
        break;
      case 'tool_use':
      case 'server_tool_use':
        event('content_block_start', { content_block: { type: block.type, id: block.id, name: block.name, input: {} } });
        event('content_block_delta', { delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input ?? {}) } });
        break;
      case 'thinking':
        event('content_block_start', { content_block: { type: 'thinking', thinking: '', signature: '' } });
        if (typeof block.thinking === 'string' && block.thinking !== '') event('content_block_delta', { delta: { type: 'thinking_delta', thinking: block.thinking } });
        if (typeof block.signature === 'string') event('content_block_delta', { delta: { type: 'signature_delta', signature: block.signature } });
        break;
      default:
        // redacted_thinking and block types this replay does not model are sent whole in the start event.
        event('content_block_start', { content_block: block });
    }
    event('content_block_stop', {});
  });

  parts.push(
    sse(
      {
        type: 'message_delta',
        delta: { stop_reason: message.stop_reason ?? 'end_turn', stop_sequence: message.stop_sequence ?? null },
        usage: { output_tokens: typeof usage.output_tokens === 'number' ? usage.output_tokens : 0 },
      },
      'message_delta',
    ),
  );
  parts.push(sse({ type: 'message_stop' }, 'message_stop'));
  return parts.join('');
}
