/**
 * Collects every text a provider would see in a request body, in either inbound format, each with
 * its location and a setter that writes a redacted text back into the same body object.
 *
 * Texts kept as JSON text by the format (OpenAI `tool_calls[].function.arguments`) are one part
 * each: the detectors see the JSON text, and a placeholder replaces characters inside it, so the
 * value stays a string. Structured JSON values (Anthropic `tool_use.input`, tool schemas) are
 * walked instead, and every string leaf, number leaf and object key is its own part:
 * - a string leaf's `apply` sets that property or array element to the new string;
 * - a number leaf is scanned as its decimal text, and an `apply` with a different text replaces
 *   the number with that string, because a placeholder cannot be a number;
 * - an object key's `apply` renames the key and keeps the key order, and the parts under that key
 *   follow the rename.
 * Walking leaves keeps the object valid whatever a finding covers, which replacing inside the
 * serialized JSON would not.
 *
 * NOTE: a leaf is scanned without its key, so a detector that needs a label next to the value
 * (such as `"password": "..."`) does not fire on `{"password": "..."}` inside tool_use.input.
 */
import type { WireFormat } from '../providers/types';

export interface PartLocation {
  /** JavaScript-style path into the body, such as `messages[3].content[0].text`. */
  path: string;
  /** Index into `messages`, or null for the system prompt of Anthropic bodies and tool definitions. */
  messageIndex: number | null;
  /** The message's role, `system` for Anthropic's top-level system prompt, null for tool definitions. */
  role: string | null;
}

export interface TextPart {
  location: PartLocation;
  text: string;
  /** Writes `newText` in place of this part's text in the body object. */
  apply(newText: string): void;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Sets an own property without invoking setters, so that a key such as `__proto__` (which
 * JSON.parse creates as an ordinary property) stays an ordinary property.
 */
function setOwn(target: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Renames `oldKey` to `newKey` in place, keeping the order of the other keys. */
function renameKey(target: JsonObject, oldKey: string, newKey: string): void {
  if (oldKey === newKey) return;
  if (Object.hasOwn(target, newKey)) {
    throw new Error(`cannot rename an object key to ${JSON.stringify(newKey)}: the object already has that key`);
  }
  const entries = Object.entries(target);
  for (const [key] of entries) delete target[key];
  for (const [key, value] of entries) setOwn(target, key === oldKey ? newKey : key, value);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;

/**
 * Path segment for an object key. Keys that are not short identifiers appear as their position
 * (`[#2]`), so that a sensitive key, such as an e-mail address used as a key, is not copied into
 * a path that guard events store.
 */
function keySegment(key: string, position: number): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[#${position}]`;
}

interface Where {
  messageIndex: number | null;
  role: string | null;
}

/**
 * Keys whose string values are identifiers, enumerations or binary payloads rather than text a
 * person wrote, so the sweep over the rest of the body leaves them out. Base64 payloads (`data`,
 * `file_data`, data: URLs) are large and hold no text to find.
 */
const NON_TEXT_KEYS: ReadonlySet<string> = new Set([
  'model',
  'role',
  'type',
  'id',
  'tool_call_id',
  'tool_use_id',
  'signature',
  'media_type',
  'detail',
  'encoding_format',
  'format',
  'data',
  'file_data',
  'cache_control',
]);

class PartCollector {
  readonly parts: TextPart[] = [];
  /** Holder objects and keys already collected, which the sweep skips. */
  private readonly covered = new WeakMap<object, Set<string>>();

  cover(holder: JsonObject, key: string): void {
    const keys = this.covered.get(holder) ?? new Set<string>();
    keys.add(key);
    this.covered.set(holder, keys);
  }

  isCovered(holder: JsonObject, key: string): boolean {
    return this.covered.get(holder)?.has(key) === true;
  }

  /** Adds `array[index]` when it is a non-empty string that is not a data: URL. */
  addArrayString(array: unknown[], index: number, path: string, where: Where): void {
    const text = array[index];
    if (typeof text !== 'string' || text.length === 0 || text.startsWith('data:')) return;
    this.parts.push({ location: { path, ...where }, text, apply: (newText) => { array[index] = newText; } });
  }

  /** Adds `holder[key]` when it is a non-empty string. */
  addString(holder: unknown, key: string, path: string, where: Where): void {
    if (!isObject(holder)) return;
    this.cover(holder, key);
    const text = holder[key];
    if (typeof text !== 'string' || text.length === 0) return;
    this.parts.push({
      location: { path, ...where },
      text,
      apply: (newText) => setOwn(holder, key, newText),
    });
  }

  /** Adds the string leaves, number leaves and object keys of the JSON value at `holder[key]`. */
  addJson(holder: unknown, key: string, path: string, where: Where): void {
    if (!isObject(holder) || !(key in holder)) return;
    this.cover(holder, key);
    const location = (leafPath: string): PartLocation => ({ path: leafPath, ...where });

    // An explicit stack in place of recursion: a deeply nested value must not overflow the call
    // stack. An item is either a value to walk or an object key's finished part, so that each key
    // comes right before its value in document order.
    type Item = { value: unknown; path: string; set: (value: unknown) => void } | { keyPart: TextPart };
    const stack: Item[] = [{ value: holder[key], path, set: (value) => setOwn(holder, key, value) }];
    while (stack.length > 0) {
      const item = stack.pop()!;
      if ('keyPart' in item) {
        this.parts.push(item.keyPart);
        continue;
      }
      const { value, path: itemPath, set } = item;

      if (typeof value === 'string') {
        if (value.length > 0) this.parts.push({ location: location(itemPath), text: value, apply: (newText) => set(newText) });
      } else if (typeof value === 'number') {
        if (!Number.isFinite(value)) continue;
        const text = String(value);
        this.parts.push({ location: location(itemPath), text, apply: (newText) => { if (newText !== text) set(newText); } });
      } else if (Array.isArray(value)) {
        for (let index = value.length - 1; index >= 0; index--) {
          stack.push({ value: value[index], path: `${itemPath}[${index}]`, set: (element) => { value[index] = element; } });
        }
      } else if (isObject(value)) {
        const keys = Object.keys(value);
        for (let position = keys.length - 1; position >= 0; position--) {
          const childKey = keys[position]!;
          // The slot follows a rename made by the key part's apply, so the value's setter still finds it.
          const slot = { key: childKey };
          const childPath = `${itemPath}${keySegment(childKey, position)}`;
          stack.push({ value: value[childKey], path: childPath, set: (child) => setOwn(value, slot.key, child) });
          stack.push({
            keyPart: {
              location: location(`${childPath}#key`),
              text: childKey,
              apply: (newKey) => {
                renameKey(value, slot.key, newKey);
                slot.key = newKey;
              },
            },
          });
        }
      }
    }
  }
}

/**
 * Adds every string in `value` that no format rule collected, so fields the rules do not name
 * (a message's `name`, `user`, `metadata`, `stop`, `response_format`, `prediction`, image URLs,
 * fields added to the APIs later) are scanned too. Keys in NON_TEXT_KEYS and data: URLs are left
 * out, and so are object keys and numbers.
 */
function sweep(collector: PartCollector, value: unknown, path: string, where: Where): void {
  // Array elements go through the stack as array and index, so strings keep document order.
  type Item = { value: unknown; path: string; array?: unknown[]; index?: number };
  const stack: Item[] = [{ value, path }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const current = item.value;
    if (typeof current === 'string' && item.array !== undefined) {
      collector.addArrayString(item.array, item.index!, item.path, where);
    } else if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index--) {
        stack.push({ value: current[index], path: `${item.path}[${index}]`, array: current, index });
      }
    } else if (isObject(current)) {
      const keys = Object.keys(current);
      for (let position = keys.length - 1; position >= 0; position--) {
        const key = keys[position]!;
        if (NON_TEXT_KEYS.has(key) || collector.isCovered(current, key)) continue;
        const childPath = `${item.path}${keySegment(key, position)}`;
        const child = current[key];
        if (typeof child === 'string') {
          if (!child.startsWith('data:')) collector.addString(current, key, childPath, where);
        } else {
          stack.push({ value: child, path: childPath });
        }
      }
    }
  }
}

/** Sweeps the body: each message with its index and role, then the other top-level fields. */
function sweepBody(collector: PartCollector, body: JsonObject): void {
  const keys = Object.keys(body);
  keys.forEach((key, position) => {
    if (NON_TEXT_KEYS.has(key) || collector.isCovered(body, key)) return;
    if (key === 'messages' && Array.isArray(body.messages)) {
      body.messages.forEach((message, messageIndex) => {
        if (isObject(message)) sweep(collector, message, `messages[${messageIndex}]`, { messageIndex, role: roleOf(message) });
      });
      return;
    }
    const value = body[key];
    const path = keySegment(key, position).replace(/^\./, '');
    if (typeof value === 'string') collector.addString(body, key, path, TOOL_DEFINITION);
    else sweep(collector, value, path, TOOL_DEFINITION);
  });
}

function roleOf(message: JsonObject): string | null {
  return typeof message.role === 'string' ? message.role : null;
}

const TOOL_DEFINITION: Where = { messageIndex: null, role: null };

/** OpenAI Chat Completions: messages of every role, tool calls and tool definitions. */
export function collectOpenAIChatParts(body: unknown): TextPart[] {
  const collector = new PartCollector();
  if (!isObject(body)) return collector.parts;

  const messages = Array.isArray(body.messages) ? body.messages : [];
  messages.forEach((message, messageIndex) => {
    if (!isObject(message)) return;
    const where: Where = { messageIndex, role: roleOf(message) };
    const base = `messages[${messageIndex}]`;

    if (Array.isArray(message.content)) {
      message.content.forEach((part, partIndex) => {
        if (!isObject(part)) return;
        // Images, audio and files are not text; a `file` part's base64 data is not scanned.
        if (part.type === 'text') collector.addString(part, 'text', `${base}.content[${partIndex}].text`, where);
        if (part.type === 'refusal') collector.addString(part, 'refusal', `${base}.content[${partIndex}].refusal`, where);
      });
    } else {
      collector.addString(message, 'content', `${base}.content`, where);
    }
    collector.addString(message, 'refusal', `${base}.refusal`, where);

    if (Array.isArray(message.tool_calls)) {
      message.tool_calls.forEach((call, callIndex) => {
        if (isObject(call)) collector.addString(call.function, 'arguments', `${base}.tool_calls[${callIndex}].function.arguments`, where);
      });
    }
    // The deprecated single function call that older clients still send.
    collector.addString(message.function_call, 'arguments', `${base}.function_call.arguments`, where);
  });

  if (Array.isArray(body.tools)) {
    body.tools.forEach((tool, toolIndex) => {
      if (!isObject(tool)) return;
      const base = `tools[${toolIndex}].function`;
      collector.addString(tool.function, 'description', `${base}.description`, TOOL_DEFINITION);
      collector.addJson(tool.function, 'parameters', `${base}.parameters`, TOOL_DEFINITION);
    });
  }
  if (Array.isArray(body.functions)) {
    body.functions.forEach((definition, index) => {
      collector.addString(definition, 'description', `functions[${index}].description`, TOOL_DEFINITION);
      collector.addJson(definition, 'parameters', `functions[${index}].parameters`, TOOL_DEFINITION);
    });
  }
  sweepBody(collector, body);
  return collector.parts;
}

/** Adds the texts of one Anthropic content block; `tool_result` blocks recurse into their content. */
function addAnthropicBlock(collector: PartCollector, block: unknown, path: string, where: Where): void {
  if (!isObject(block)) return;
  switch (block.type) {
    case 'text':
      collector.addString(block, 'text', `${path}.text`, where);
      break;
    case 'thinking':
      // The provider checks a thinking block's signature, so a redacted thinking block would be
      // rejected upstream. RequestScan turns redact into block for these parts.
      collector.addString(block, 'thinking', `${path}.thinking`, where);
      break;
    case 'tool_use':
    case 'server_tool_use':
      collector.addJson(block, 'input', `${path}.input`, where);
      break;
    case 'tool_result':
      if (Array.isArray(block.content)) {
        block.content.forEach((inner, index) => addAnthropicBlock(collector, inner, `${path}.content[${index}]`, where));
      } else {
        collector.addString(block, 'content', `${path}.content`, where);
      }
      break;
    case 'document': {
      collector.addString(block, 'title', `${path}.title`, where);
      collector.addString(block, 'context', `${path}.context`, where);
      const source = block.source;
      if (!isObject(source)) break;
      if (source.type === 'text') collector.addString(source, 'data', `${path}.source.data`, where);
      if (source.type === 'content') {
        if (Array.isArray(source.content)) {
          source.content.forEach((inner, index) => addAnthropicBlock(collector, inner, `${path}.source.content[${index}]`, where));
        } else {
          collector.addString(source, 'content', `${path}.source.content`, where);
        }
      }
      break;
    }
    // Images, base64 and URL documents, and redacted_thinking (encrypted) carry no scannable text.
  }
}

/** Anthropic Messages: the system prompt, every message's blocks and tool definitions. */
export function collectAnthropicMessagesParts(body: unknown): TextPart[] {
  const collector = new PartCollector();
  if (!isObject(body)) return collector.parts;

  const system: Where = { messageIndex: null, role: 'system' };
  if (Array.isArray(body.system)) {
    body.system.forEach((block, index) => addAnthropicBlock(collector, block, `system[${index}]`, system));
  } else {
    collector.addString(body, 'system', 'system', system);
  }

  const messages = Array.isArray(body.messages) ? body.messages : [];
  messages.forEach((message, messageIndex) => {
    if (!isObject(message)) return;
    const where: Where = { messageIndex, role: roleOf(message) };
    const base = `messages[${messageIndex}]`;
    if (Array.isArray(message.content)) {
      message.content.forEach((block, blockIndex) => addAnthropicBlock(collector, block, `${base}.content[${blockIndex}]`, where));
    } else {
      collector.addString(message, 'content', `${base}.content`, where);
    }
  });

  if (Array.isArray(body.tools)) {
    body.tools.forEach((tool, toolIndex) => {
      collector.addString(tool, 'description', `tools[${toolIndex}].description`, TOOL_DEFINITION);
      collector.addJson(tool, 'input_schema', `tools[${toolIndex}].input_schema`, TOOL_DEFINITION);
    });
  }
  sweepBody(collector, body);
  return collector.parts;
}

/** OpenAI Embeddings: the input string, or each string of an input array; token arrays carry no text. */
export function collectEmbeddingParts(body: unknown): TextPart[] {
  const collector = new PartCollector();
  if (!isObject(body)) return collector.parts;
  const where: Where = { messageIndex: null, role: 'user' };
  const input = body.input;
  if (Array.isArray(input)) {
    input.forEach((_item, index) => collector.addArrayString(input, index, `input[${index}]`, where));
    collector.cover(body, 'input');
  } else {
    collector.addString(body, 'input', 'input', where);
  }
  sweepBody(collector, body);
  return collector.parts;
}

/** Collects the parts of a request body in the given inbound format. */
export function collectParts(format: WireFormat, body: unknown): TextPart[] {
  return format === 'openai-chat' ? collectOpenAIChatParts(body) : collectAnthropicMessagesParts(body);
}
