import type { ChatRequest, Message, Options, Tool, ToolCall } from 'ollama';
import { GatewayError } from '../../errors';
import type { CanonicalImageSource, CanonicalMessage, CanonicalPart, CanonicalRequest, CanonicalTool } from '../../formats/canonical';
import type { EmulatedParams } from '../types';

/** An /api/chat body (without `stream`) and the parameters served other than by passing them. */
export interface OllamaChatPlan {
  body: ChatRequest;
  emulated: EmulatedParams;
}

type ThinkSetting = NonNullable<ChatRequest['think']>;

/**
 * Mapping from OpenAI's reasoning_effort to Ollama's `think`, which takes a boolean or one of
 * "low", "medium", "high". The levels Ollama lacks move to the nearest one and are reported
 * as emulated.
 */
const thinkForEffort: Record<string, { think: ThinkSetting; emulated: boolean }> = {
  none: { think: false, emulated: false },
  minimal: { think: 'low', emulated: true },
  low: { think: 'low', emulated: false },
  medium: { think: 'medium', emulated: false },
  high: { think: 'high', emulated: false },
  xhigh: { think: 'high', emulated: true },
};

/**
 * Translates a canonical request into Ollama's /api/chat body. Throws a GatewayError for what
 * Ollama cannot serve (n > 1, a forced tool choice, image URLs) and for invalid tool-call
 * arguments, before anything is sent.
 */
export function toOllamaChatRequest(request: CanonicalRequest, deploymentId: string): OllamaChatPlan {
  const emulated: EmulatedParams = [];
  rejectUnsupported(request, deploymentId);

  const messages: Message[] = [];
  const systemText = request.system.map((part) => part.text).join('\n');
  if (systemText.length > 0) messages.push({ role: 'system', content: systemText });
  messages.push(...toOllamaMessages(request.messages, deploymentId));

  const body: ChatRequest = { model: request.model, messages };

  const sendTools = request.tools !== undefined && request.tools.length > 0 && request.toolChoice?.type !== 'none';
  if (sendTools && request.tools) body.tools = request.tools.map(toOllamaTool);
  // NOTE: Ollama has no switch for parallel tool calls, so parallelToolCalls is not sent and
  // a model may still return several calls in one turn.

  if (request.responseFormat?.type === 'json_object') body.format = 'json';
  if (request.responseFormat?.type === 'json_schema') body.format = request.responseFormat.schema;

  const options = toOllamaOptions(request);
  if (Object.keys(options).length > 0) body.options = options;

  if (request.reasoningEffort !== undefined) {
    const mapping = thinkForEffort[request.reasoningEffort];
    if (!mapping) {
      throw new GatewayError(
        'unsupported_parameter',
        `reasoning_effort '${request.reasoningEffort}' cannot be sent to Ollama deployment '${deploymentId}': use none, minimal, low, medium, high or xhigh`,
        { param: 'reasoning_effort' },
      );
    }
    body.think = mapping.think;
    if (mapping.emulated) emulated.push('reasoning_effort');
  }

  return { body, emulated };
}

/** Names a message in error texts. The index does not count system messages. */
function messageLabel(index: number): string {
  return `message ${index} (counted from 0, without system messages)`;
}

function rejectUnsupported(request: CanonicalRequest, deploymentId: string): void {
  if (request.n !== undefined && request.n > 1) {
    throw new GatewayError(
      'unsupported_parameter',
      `n=${request.n} is not supported by Ollama deployment '${deploymentId}': Ollama returns one choice per request`,
      { param: 'n' },
    );
  }
  const choice = request.toolChoice?.type;
  if (choice === 'required' || choice === 'tool') {
    throw new GatewayError(
      'unsupported_parameter',
      `tool_choice '${choice}' is not supported by Ollama deployment '${deploymentId}': Ollama cannot force a tool call. Use tool_choice 'auto' or 'none'.`,
      { param: 'tool_choice' },
    );
  }
}

function toOllamaTool(tool: CanonicalTool): Tool {
  return {
    type: 'function',
    function: {
      name: tool.name,
      description: tool.description,
      // ollama-js types `parameters` as a narrow subset of JSON Schema, but Ollama accepts the
      // whole schema object, so it is passed unchanged.
      parameters: tool.parameters as Tool['function']['parameters'],
    },
  };
}

function toOllamaOptions(request: CanonicalRequest): Partial<Options> {
  const options: Partial<Options> = {};
  if (request.temperature !== undefined) options.temperature = request.temperature;
  if (request.topP !== undefined) options.top_p = request.topP;
  if (request.topK !== undefined) options.top_k = request.topK;
  if (request.seed !== undefined) options.seed = request.seed;
  if (request.stop !== undefined && request.stop.length > 0) options.stop = request.stop;
  if (request.maxTokens !== undefined) options.num_predict = request.maxTokens;
  if (request.presencePenalty !== undefined) options.presence_penalty = request.presencePenalty;
  if (request.frequencyPenalty !== undefined) options.frequency_penalty = request.frequencyPenalty;
  return options;
}

/**
 * Translates the conversation. A user message's tool results become `role: 'tool'` messages in
 * place, so the order of results and text is kept.
 */
function toOllamaMessages(messages: CanonicalMessage[], deploymentId: string): Message[] {
  const toolNames = new Map<string, string>();
  for (const message of messages) {
    for (const part of message.content) {
      if (part.type === 'tool_call') toolNames.set(part.id, part.name);
    }
  }

  const out: Message[] = [];
  messages.forEach((message, index) => {
    if (message.role === 'assistant') {
      out.push(toAssistantMessage(message.content, index, deploymentId));
    } else {
      out.push(...toUserMessages(message.content, index, toolNames, deploymentId));
    }
  });
  return out;
}

function toAssistantMessage(parts: CanonicalPart[], index: number, deploymentId: string): Message {
  const texts: string[] = [];
  const thinking: string[] = [];
  const images: Uint8Array[] = [];
  const toolCalls: ToolCall[] = [];
  for (const part of parts) {
    switch (part.type) {
      case 'text':
        texts.push(part.text);
        break;
      case 'thinking':
        thinking.push(part.text);
        break;
      case 'redacted_thinking':
        // Encrypted reasoning that only its own provider can read, so it is dropped.
        break;
      case 'image':
        images.push(imageBytes(part.source, index, deploymentId));
        break;
      case 'tool_call':
        toolCalls.push({ function: { name: part.name, arguments: parseToolArguments(part, index) } });
        break;
      case 'tool_result':
        throw new GatewayError('invalid_value', `${messageLabel(index)} is an assistant message but contains a tool result`, {
          param: 'messages',
        });
    }
  }
  const message: Message = { role: 'assistant', content: texts.join('\n') };
  if (thinking.length > 0) message.thinking = thinking.join('');
  if (images.length > 0) message.images = images;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return message;
}

function toUserMessages(
  parts: CanonicalPart[],
  index: number,
  toolNames: Map<string, string>,
  deploymentId: string,
): Message[] {
  const out: Message[] = [];
  let texts: string[] = [];
  let images: Uint8Array[] = [];
  let sawToolResult = false;

  const flushUserMessage = () => {
    if (texts.length === 0 && images.length === 0) return;
    const message: Message = { role: 'user', content: texts.join('\n') };
    if (images.length > 0) message.images = images;
    out.push(message);
    texts = [];
    images = [];
  };

  for (const part of parts) {
    switch (part.type) {
      case 'text':
        texts.push(part.text);
        break;
      case 'image':
        images.push(imageBytes(part.source, index, deploymentId));
        break;
      case 'tool_result': {
        flushUserMessage();
        sawToolResult = true;
        out.push(toToolMessage(part, index, toolNames, deploymentId));
        break;
      }
      case 'tool_call':
      case 'thinking':
      case 'redacted_thinking':
        throw new GatewayError('invalid_value', `${messageLabel(index)} is a user message but contains a ${part.type} part`, {
          param: 'messages',
        });
    }
  }
  flushUserMessage();
  // An empty user turn is kept as one, so the turn order the client sent stays intact.
  if (out.length === 0 && !sawToolResult) out.push({ role: 'user', content: '' });
  return out;
}

function toToolMessage(
  part: Extract<CanonicalPart, { type: 'tool_result' }>,
  index: number,
  toolNames: Map<string, string>,
  deploymentId: string,
): Message {
  const texts: string[] = [];
  const images: Uint8Array[] = [];
  for (const item of part.content) {
    if (item.type === 'text') texts.push(item.text);
    else images.push(imageBytes(item.source, index, deploymentId));
  }
  // NOTE: Ollama has no error flag for tool results, so isError is not passed on.
  const message: Message = { role: 'tool', content: texts.join('\n') };
  const toolName = toolNames.get(part.toolCallId);
  if (toolName !== undefined) message.tool_name = toolName;
  if (images.length > 0) message.images = images;
  return message;
}

/** Parses a tool call's JSON text into the object Ollama expects. Empty text means no arguments. */
function parseToolArguments(part: Extract<CanonicalPart, { type: 'tool_call' }>, index: number): Record<string, unknown> {
  if (part.arguments.trim().length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(part.arguments);
  } catch (error) {
    throw new GatewayError(
      'invalid_value',
      `the arguments of tool call '${part.id}' (${part.name}) in ${messageLabel(index)} are not valid JSON: ${(error as Error).message}`,
      { param: 'messages', cause: error },
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new GatewayError(
      'invalid_value',
      `the arguments of tool call '${part.id}' (${part.name}) in ${messageLabel(index)} must be a JSON object`,
      { param: 'messages' },
    );
  }
  return parsed as Record<string, unknown>;
}

const BASE64_DATA_URL = /^data:[^,;]*(?:;[^,;=]+=[^,;]*)*;base64,(.*)$/is;
const BASE64_TEXT = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * Decodes an image to bytes. The bytes, not a string, go to ollama-js, because ollama-js 0.6
 * reads any image string that names an existing file from disk and sends that file instead.
 */
function imageBytes(source: CanonicalImageSource, index: number, deploymentId: string): Uint8Array {
  let data: string;
  if (source.kind === 'base64') {
    data = source.data;
  } else {
    const match = BASE64_DATA_URL.exec(source.url);
    if (!match) {
      throw new GatewayError(
        'unsupported_parameter',
        `${messageLabel(index)} refers to an image by URL, which Ollama deployment '${deploymentId}' cannot receive: ` +
          `the gateway does not fetch image URLs on a provider's behalf. Send the image as base64 in a data URL (data:image/png;base64,...).`,
        { param: 'messages' },
      );
    }
    data = match[1] ?? '';
  }

  const compact = data.replace(/\s+/g, '');
  if (!BASE64_TEXT.test(compact) || compact.length % 4 === 1) {
    throw new GatewayError('invalid_value', `an image in ${messageLabel(index)} is not valid base64 data`, { param: 'messages' });
  }
  return Buffer.from(compact, 'base64');
}
