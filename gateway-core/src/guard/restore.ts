/**
 * Puts redacted values back into the provider's response: whole response bodies, and streams
 * in the canonical form or in either provider format. A placeholder may arrive split across
 * stream events, so every text stream has its own restorer that holds back a possible placeholder
 * start until the next event, and the held text is sent before the block or choice ends.
 */
import type { CanonicalStreamEvent } from '../formats/canonical';
import type { NativeStreamEvent, StreamHandle, WireFormat } from '../providers/types';
import { createRestorer, encodeJsonStringContent, restoreText, type RedactionMapping, type Restorer } from './redact';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Restores every string in a response body, in place. OpenAI's `arguments` strings are JSON text,
 * so an original written into them is escaped as JSON string content. Every other string gets
 * the original unchanged.
 */
export function restoreResponseBody(body: JsonObject, mapping: RedactionMapping): JsonObject {
  if (mapping.size === 0) return body;
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      value.forEach((element, index) => {
        if (typeof element === 'string') value[index] = restoreText(element, mapping);
        else stack.push(element);
      });
    } else if (isObject(value)) {
      for (const [key, child] of Object.entries(value)) {
        if (typeof child === 'string') {
          value[key] = restoreText(child, mapping, key === 'arguments' ? { encode: encodeJsonStringContent } : {});
        } else {
          stack.push(child);
        }
      }
    }
  }
  return body;
}

/**
 * Rewrites every string value under `root` in place. `rewrite` receives the text and, for an
 * object field, the field's key. Object keys are rewritten only in JSON that a model wrote, which
 * may use a value as a key: under `root` when `keys` is true, else under any `input` field (tool
 * input). Other keys are names the wire format defines.
 */
function rewriteStrings(root: unknown, rewrite: (text: string, key: string | null) => string, keys: boolean): void {
  const stack: Array<{ value: unknown; keys: boolean }> = [{ value: root, keys }];
  while (stack.length > 0) {
    const { value, keys: renameKeys } = stack.pop()!;
    if (Array.isArray(value)) {
      value.forEach((element, index) => {
        if (typeof element === 'string') value[index] = rewrite(element, null);
        else stack.push({ value: element, keys: renameKeys });
      });
    } else if (isObject(value)) {
      const entries = Object.entries(value);
      const renamed = renameKeys && entries.some(([key]) => rewrite(key, null) !== key);
      // Deleting and adding every key again keeps their order.
      if (renamed) for (const [key] of entries) delete value[key];
      for (const [key, child] of entries) {
        const name = renamed ? rewrite(key, null) : key;
        if (typeof child === 'string') {
          value[name] = rewrite(child, key);
        } else {
          value[name] = child;
          stack.push({ value: child, keys: renameKeys || key === 'input' });
        }
      }
    }
  }
}

/**
 * Replaces each original value of `mapping` in a response body with its placeholder, in place,
 * so that a stored response keeps none of the request's values: the inverse of
 * restoreResponseBody. An OpenAI `arguments` string is JSON text, so it is parsed, its strings
 * and keys are replaced and it is serialised again, which drops its whitespace only when
 * something was replaced. Arguments that are not valid JSON get the JSON-escaped form of each
 * value replaced.
 *
 * A value is replaced in any letter case, because the guard matches code names in any case
 * ("NIGHTJAR", "nightjar_db"); the restored answer then has the request's spelling.
 *
 * NOTE: a value is replaced wherever it occurs, also inside a longer word, so a short value such
 * as a code name that is part of another word changes that word too. This errs toward storing
 * no value.
 */
export function redactResponseBody(body: JsonObject, mapping: RedactionMapping): JsonObject {
  if (mapping.size === 0) return body;
  // Longest first, so that a value containing another value is replaced whole.
  const pairs = [...mapping]
    .map(([placeholder, original]) => ({ placeholder, original }))
    .filter((pair) => pair.original !== '')
    .sort((left, right) => right.original.length - left.original.length);
  const replace = (text: string, encode: (original: string) => string): string => {
    let result = text;
    for (const { placeholder, original } of pairs) {
      const pattern = new RegExp(encode(original).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'giu');
      // A function, so that a "$" in a placeholder is never read as a replacement pattern.
      result = result.replace(pattern, () => placeholder);
    }
    return result;
  };
  const plain = (text: string): string => replace(text, (original) => original);

  const jsonText = (text: string): string => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return replace(text, encodeJsonStringContent);
    }
    // An array holder, because the parsed value may itself be a string.
    const holder = [parsed];
    let changed = false;
    const rewrite = (inner: string): string => {
      const replaced = plain(inner);
      if (replaced !== inner) changed = true;
      return replaced;
    };
    rewriteStrings(holder, rewrite, true);
    return changed ? JSON.stringify(holder[0]) : text;
  };

  rewriteStrings(body, (text, key) => (key === 'arguments' ? jsonText(text) : plain(text)), false);
  return body;
}

/** Restorers keyed by text stream (a content block, or one field of one choice). */
class RestorerSet {
  private readonly restorers = new Map<string, Restorer>();

  constructor(private readonly mapping: RedactionMapping) {}

  push(key: string, text: string, json = false): string {
    let restorer = this.restorers.get(key);
    if (!restorer) {
      restorer = createRestorer(this.mapping, json ? { encode: encodeJsonStringContent } : {});
      this.restorers.set(key, restorer);
    }
    return restorer.push(text);
  }

  /** Returns the held text of one stream ('' when there is none) and drops its restorer. */
  flush(key: string): string {
    const restorer = this.restorers.get(key);
    if (!restorer) return '';
    this.restorers.delete(key);
    return restorer.flush();
  }

  /** Keys that still exist, for flushing everything at the end of a message. */
  keys(): string[] {
    return [...this.restorers.keys()];
  }
}

/** Canonical events: text, thinking and tool-argument deltas per block index. */
export function* restoreCanonicalEvent(event: CanonicalStreamEvent, set: RestorerSet, kinds: Map<number, 'text' | 'thinking' | 'json'>): Generator<CanonicalStreamEvent> {
  const held = (index: number): CanonicalStreamEvent | null => {
    const text = set.flush(String(index));
    if (text === '') return null;
    const kind = kinds.get(index);
    if (kind === 'json') return { type: 'tool_arguments_delta', index, partialJson: text };
    if (kind === 'thinking') return { type: 'thinking_delta', index, text };
    return { type: 'text_delta', index, text };
  };

  switch (event.type) {
    case 'text_delta':
      kinds.set(event.index, 'text');
      yield { ...event, text: set.push(String(event.index), event.text) };
      return;
    case 'thinking_delta':
      kinds.set(event.index, 'thinking');
      yield { ...event, text: set.push(String(event.index), event.text) };
      return;
    case 'tool_arguments_delta':
      kinds.set(event.index, 'json');
      yield { ...event, partialJson: set.push(String(event.index), event.partialJson, true) };
      return;
    case 'block_stop': {
      const flushed = held(event.index);
      if (flushed) yield flushed;
      yield event;
      return;
    }
    case 'message_delta':
    case 'message_stop':
      for (const key of set.keys()) {
        const flushed = held(Number(key));
        if (flushed) yield flushed;
      }
      yield event;
      return;
    default:
      yield event;
  }
}

interface OpenAIDelta {
  content?: string | null;
  refusal?: string | null;
  reasoning_content?: string | null;
  tool_calls?: Array<{ index?: number; function?: { arguments?: string } }>;
}

interface OpenAIChoiceChunk {
  index?: number;
  delta?: OpenAIDelta;
  finish_reason?: string | null;
}

const OPENAI_TEXT_FIELDS = ['content', 'refusal', 'reasoning_content'] as const;

/** Restores one OpenAI chunk in place; a choice that finishes in it gets its held text appended. */
function restoreOpenAIChunk(chunk: JsonObject, set: RestorerSet): void {
  const choices = Array.isArray(chunk.choices) ? (chunk.choices as OpenAIChoiceChunk[]) : [];
  for (const choice of choices) {
    const choiceIndex = choice.index ?? 0;
    const delta = choice.delta;
    if (delta) {
      for (const field of OPENAI_TEXT_FIELDS) {
        const text = delta[field];
        if (typeof text === 'string' && text !== '') delta[field] = set.push(`${choiceIndex}:${field}`, text);
      }
      for (const call of delta.tool_calls ?? []) {
        const text = call.function?.arguments;
        if (typeof text === 'string' && text !== '') call.function!.arguments = set.push(`${choiceIndex}:tool:${call.index ?? 0}`, text, true);
      }
    }
    if (choice.finish_reason) flushOpenAIChoice(choice, choiceIndex, set);
  }
}

/** Appends a finishing choice's held text to its delta, so nothing is lost at the end. */
function flushOpenAIChoice(choice: OpenAIChoiceChunk, choiceIndex: number, set: RestorerSet): void {
  const prefix = `${choiceIndex}:`;
  for (const key of set.keys()) {
    if (!key.startsWith(prefix)) continue;
    const text = set.flush(key);
    if (text === '') continue;
    choice.delta ??= {};
    const field = key.slice(prefix.length);
    if (field.startsWith('tool:')) {
      const toolIndex = Number(field.slice('tool:'.length));
      (choice.delta.tool_calls ??= []).push({ index: toolIndex, function: { arguments: text } });
    } else {
      const name = field as (typeof OPENAI_TEXT_FIELDS)[number];
      choice.delta[name] = (choice.delta[name] ?? '') + text;
    }
  }
}

/** Restores one Anthropic event; a block that stops gets its held text sent in a delta first. */
function* restoreAnthropicEvent(event: NativeStreamEvent, set: RestorerSet): Generator<NativeStreamEvent> {
  const data = event.data as JsonObject;
  if (event.event === 'content_block_delta' && isObject(data.delta)) {
    const index = Number(data.index ?? 0);
    const delta = data.delta;
    if (delta.type === 'text_delta' && typeof delta.text === 'string') delta.text = set.push(`${index}:text_delta`, delta.text);
    if (delta.type === 'thinking_delta' && typeof delta.thinking === 'string') delta.thinking = set.push(`${index}:thinking_delta`, delta.thinking);
    if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string') {
      delta.partial_json = set.push(`${index}:input_json_delta`, delta.partial_json, true);
    }
    yield event;
    return;
  }
  const flushBlock = function* (index: number): Generator<NativeStreamEvent> {
    for (const [kind, field] of [['text_delta', 'text'], ['thinking_delta', 'thinking'], ['input_json_delta', 'partial_json']] as const) {
      const text = set.flush(`${index}:${kind}`);
      if (text !== '') {
        yield { event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: kind, [field]: text } }, content: true };
      }
    }
  };
  if (event.event === 'content_block_stop') {
    yield* flushBlock(Number(data.index ?? 0));
  } else if (event.event === 'message_delta' || event.event === 'message_stop') {
    const indexes = new Set(set.keys().map((key) => Number(key.split(':', 1)[0])));
    for (const index of indexes) yield* flushBlock(index);
  }
  yield event;
}

/**
 * Wraps a stream so that its events carry the originals in place of the placeholders. Returns the
 * handle unchanged when the mapping is empty.
 */
export function restoringStream<E>(handle: StreamHandle<E>, mapping: RedactionMapping, native: WireFormat | null): StreamHandle<E> {
  if (mapping.size === 0) return handle;
  const source = handle.events;
  const set = new RestorerSet(mapping);
  const kinds = new Map<number, 'text' | 'thinking' | 'json'>();

  async function* events(): AsyncGenerator<E> {
    for await (const event of source) {
      if (native === 'openai-chat') {
        const data = (event as NativeStreamEvent).data;
        if (isObject(data)) restoreOpenAIChunk(data, set);
        yield event;
      } else if (native === 'anthropic-messages') {
        yield* restoreAnthropicEvent(event as NativeStreamEvent, set) as Generator<E>;
      } else {
        yield* restoreCanonicalEvent(event as CanonicalStreamEvent, set, kinds) as Generator<E>;
      }
    }
  }
  return { ...handle, events: { [Symbol.asyncIterator]: () => events() } };
}

export { RestorerSet };
