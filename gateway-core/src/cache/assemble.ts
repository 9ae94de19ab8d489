/**
 * Assembles a whole response from the stream a client received, so a streamed answer can be
 * stored in the cache in the same form as a non-streaming one. The input is the SSE text the
 * gateway wrote, which is already in the client's format whatever the provider spoke.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { WireFormat } from '../providers/types';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseEvents(sseText: string): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  parser.feed(sseText);
  parser.feed('\n\n');
  return events;
}

function parseData(event: EventSourceMessage): unknown {
  try {
    return JSON.parse(event.data);
  } catch {
    return undefined;
  }
}

interface ChoiceState {
  index: number;
  role: string;
  content: string | null;
  refusal: string | null;
  reasoning: string | null;
  toolCalls: Map<number, { id?: string; type: string; name: string; arguments: string }>;
  finishReason: unknown;
}

/** Returns the chat.completion that OpenAI chunks add up to, or null when the stream is not complete. */
function assembleOpenAI(events: EventSourceMessage[]): JsonObject | null {
  let head: JsonObject | null = null;
  let usage: unknown = undefined;
  let done = false;
  const choices = new Map<number, ChoiceState>();
  for (const event of events) {
    if (event.data === '[DONE]') {
      done = true;
      continue;
    }
    const chunk = parseData(event);
    if (!isObject(chunk) || 'error' in chunk) return null;
    head ??= chunk;
    if (chunk.usage !== undefined && chunk.usage !== null) usage = chunk.usage;
    for (const choice of Array.isArray(chunk.choices) ? (chunk.choices as JsonObject[]) : []) {
      const index = typeof choice.index === 'number' ? choice.index : 0;
      let state = choices.get(index);
      if (!state) {
        state = { index, role: 'assistant', content: null, refusal: null, reasoning: null, toolCalls: new Map(), finishReason: null };
        choices.set(index, state);
      }
      const delta = isObject(choice.delta) ? choice.delta : {};
      if (typeof delta.content === 'string') state.content = (state.content ?? '') + delta.content;
      if (typeof delta.refusal === 'string') state.refusal = (state.refusal ?? '') + delta.refusal;
      if (typeof delta.reasoning_content === 'string') state.reasoning = (state.reasoning ?? '') + delta.reasoning_content;
      for (const call of Array.isArray(delta.tool_calls) ? (delta.tool_calls as JsonObject[]) : []) {
        const callIndex = typeof call.index === 'number' ? call.index : 0;
        const existing = state.toolCalls.get(callIndex) ?? { type: 'function', name: '', arguments: '' };
        const fn = isObject(call.function) ? call.function : {};
        if (typeof call.id === 'string') existing.id = call.id;
        if (typeof fn.name === 'string') existing.name += fn.name;
        if (typeof fn.arguments === 'string') existing.arguments += fn.arguments;
        state.toolCalls.set(callIndex, existing);
      }
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) state.finishReason = choice.finish_reason;
    }
  }
  if (!done || head === null) return null;
  const assembled: JsonObject = {
    id: head.id,
    object: 'chat.completion',
    created: head.created,
    model: head.model,
    choices: [...choices.values()]
      .sort((left, right) => left.index - right.index)
      .map((state) => ({
        index: state.index,
        message: {
          role: state.role,
          content: state.content,
          refusal: state.refusal,
          ...(state.reasoning === null ? {} : { reasoning_content: state.reasoning }),
          ...(state.toolCalls.size === 0
            ? {}
            : {
                tool_calls: [...state.toolCalls.entries()]
                  .sort(([left], [right]) => left - right)
                  .map(([, call]) => ({ id: call.id, type: call.type, function: { name: call.name, arguments: call.arguments } })),
              }),
        },
        logprobs: null,
        finish_reason: state.finishReason ?? 'stop',
      })),
  };
  if (usage !== undefined) assembled.usage = usage;
  if (head.system_fingerprint !== undefined) assembled.system_fingerprint = head.system_fingerprint;
  return assembled;
}

/** Returns the message that Anthropic's events add up to, or null when the stream is not complete. */
function assembleAnthropic(events: EventSourceMessage[]): JsonObject | null {
  let message: JsonObject | null = null;
  const blocks: JsonObject[] = [];
  const partialJson = new Map<number, string>();
  let stopped = false;
  for (const event of events) {
    const data = parseData(event);
    if (!isObject(data)) continue;
    switch (data.type) {
      case 'message_start':
        if (isObject(data.message)) message = { ...data.message, content: [] };
        break;
      case 'content_block_start':
        if (typeof data.index === 'number' && isObject(data.content_block)) blocks[data.index] = { ...data.content_block };
        break;
      case 'content_block_delta': {
        const index = typeof data.index === 'number' ? data.index : -1;
        const block = blocks[index];
        const delta = isObject(data.delta) ? data.delta : {};
        if (!block) return null;
        if (delta.type === 'text_delta') block.text = String(block.text ?? '') + String(delta.text ?? '');
        if (delta.type === 'thinking_delta') block.thinking = String(block.thinking ?? '') + String(delta.thinking ?? '');
        if (delta.type === 'signature_delta') block.signature = String(delta.signature ?? '');
        if (delta.type === 'input_json_delta') partialJson.set(index, (partialJson.get(index) ?? '') + String(delta.partial_json ?? ''));
        break;
      }
      case 'message_delta':
        if (message === null) return null;
        if (isObject(data.delta)) Object.assign(message, data.delta);
        if (isObject(data.usage)) message.usage = { ...(isObject(message.usage) ? message.usage : {}), ...data.usage };
        break;
      case 'message_stop':
        stopped = true;
        break;
      case 'error':
        return null;
    }
  }
  if (!stopped || message === null) return null;
  for (const [index, text] of partialJson) {
    try {
      blocks[index]!.input = text === '' ? {} : JSON.parse(text);
    } catch {
      return null;
    }
  }
  message.content = blocks.filter((block) => block !== undefined);
  return message;
}

/**
 * Returns the whole response a complete stream adds up to, in the client's format. Returns null
 * for a stream that ended without its final event or carried an error, which must not be stored.
 */
export function assembleStream(format: WireFormat, sseText: string): JsonObject | null {
  const events = parseEvents(sseText);
  return format === 'openai-chat' ? assembleOpenAI(events) : assembleAnthropic(events);
}
