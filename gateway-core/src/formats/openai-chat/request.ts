import { GatewayError } from '../../errors';
import type {
  CanonicalImageSource,
  CanonicalMessage,
  CanonicalPart,
  CanonicalRequest,
  CanonicalResponseFormat,
  CanonicalToolChoice,
} from '../canonical';
import type { ChatContentPart, ChatMessage, ChatRequestBody } from './schema';

/**
 * OpenAI-only request fields that change the output and that no other format can carry.
 * Crossing formats with one of them set is a 400 unsupported_parameter rather than a silent drop.
 */
const openAIOnlyFields = ['logprobs', 'top_logprobs', 'logit_bias', 'audio', 'prediction', 'web_search_options', 'functions', 'function_call'];

/** Convert a validated OpenAI Chat Completions body to the canonical request. */
export function openAIRequestToCanonical(body: ChatRequestBody): CanonicalRequest {
  for (const field of openAIOnlyFields) {
    const value = (body as Record<string, unknown>)[field];
    if (value !== undefined && value !== null && value !== false) {
      throw new GatewayError(
        'unsupported_parameter',
        `'${field}' is only supported by OpenAI-format deployments; remove it or choose a model served by an OpenAI-compatible provider.`,
        { param: field },
      );
    }
  }
  const modalities = (body as Record<string, unknown>).modalities;
  if (Array.isArray(modalities) && modalities.some((m) => m !== 'text')) {
    throw new GatewayError('unsupported_parameter', `'modalities' other than "text" are only supported by OpenAI deployments.`, {
      param: 'modalities',
    });
  }

  const request: CanonicalRequest = {
    model: body.model,
    system: [],
    messages: [],
    stream: body.stream === true,
  };
  body.messages.forEach((message, index) => appendMessage(request, message, index));

  if (body.tools && body.tools.length > 0) {
    request.tools = body.tools.map((tool) => ({
      name: tool.function.name,
      ...(tool.function.description !== undefined ? { description: tool.function.description } : {}),
      parameters: tool.function.parameters ?? { type: 'object', properties: {} },
      ...(typeof tool.function.strict === 'boolean' ? { strict: tool.function.strict } : {}),
    }));
  }
  if (body.tool_choice !== undefined) request.toolChoice = toCanonicalToolChoice(body.tool_choice);
  if (body.parallel_tool_calls !== undefined) request.parallelToolCalls = body.parallel_tool_calls;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens !== null && maxTokens !== undefined) request.maxTokens = maxTokens;
  if (body.temperature !== null && body.temperature !== undefined) request.temperature = body.temperature;
  if (body.top_p !== null && body.top_p !== undefined) request.topP = body.top_p;
  if (body.stop !== null && body.stop !== undefined) request.stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  if (body.seed !== null && body.seed !== undefined) request.seed = body.seed;
  if (body.n !== null && body.n !== undefined) request.n = body.n;
  if (body.presence_penalty !== null && body.presence_penalty !== undefined) request.presencePenalty = body.presence_penalty;
  if (body.frequency_penalty !== null && body.frequency_penalty !== undefined) request.frequencyPenalty = body.frequency_penalty;
  if (body.response_format !== undefined) request.responseFormat = toCanonicalResponseFormat(body.response_format);
  if (body.user !== undefined) request.user = body.user;
  if (typeof body.reasoning_effort === 'string') request.reasoningEffort = body.reasoning_effort;
  return request;
}

function appendMessage(request: CanonicalRequest, message: ChatMessage, index: number): void {
  switch (message.role) {
    case 'system':
    case 'developer':
      for (const part of contentParts(message.content, index)) {
        if (part.type !== 'text') {
          throw new GatewayError('invalid_value', `messages[${index}]: a ${message.role} message can only contain text.`, {
            param: `messages[${index}].content`,
          });
        }
        request.system.push(part);
      }
      return;
    case 'user':
      pushParts(request.messages, 'user', contentParts(message.content, index));
      return;
    case 'assistant': {
      const parts: CanonicalPart[] = message.content == null ? [] : contentParts(message.content, index);
      for (const call of message.tool_calls ?? []) {
        parts.push({ type: 'tool_call', id: call.id, name: call.function.name, arguments: call.function.arguments });
      }
      pushParts(request.messages, 'assistant', parts);
      return;
    }
    case 'tool': {
      const content = contentParts(message.content, index).filter((p) => p.type === 'text' || p.type === 'image');
      pushParts(request.messages, 'user', [
        {
          type: 'tool_result',
          toolCallId: message.tool_call_id,
          content: content as Array<{ type: 'text'; text: string } | { type: 'image'; source: CanonicalImageSource }>,
          isError: false,
        },
      ]);
      return;
    }
    case 'function':
      throw new GatewayError(
        'unsupported_parameter',
        `messages[${index}]: the legacy "function" role is only supported by OpenAI deployments; use "tool" messages with tool_call_id.`,
        { param: `messages[${index}].role` },
      );
  }
}

/** Append parts, merging with the previous message of the same role (tool results join the user turn). */
function pushParts(messages: CanonicalMessage[], role: 'user' | 'assistant', parts: CanonicalPart[]): void {
  const last = messages[messages.length - 1];
  if (last && last.role === role) {
    last.content.push(...parts);
    return;
  }
  messages.push({ role, content: parts });
}

function contentParts(content: string | ChatContentPart[], index: number): CanonicalPart[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return content.map((part, partIndex) => {
    const param = `messages[${index}].content[${partIndex}]`;
    switch (part.type) {
      case 'text':
        return { type: 'text', text: part.text } as const;
      case 'refusal':
        return { type: 'text', text: part.refusal } as const;
      case 'image_url':
        return {
          type: 'image',
          source: parseImageUrl(part.image_url.url, param),
          ...(part.image_url.detail !== undefined ? { detail: part.image_url.detail } : {}),
        } as const;
      case 'input_audio':
      case 'file':
        throw new GatewayError('unsupported_parameter', `${param}: '${part.type}' content is only supported by OpenAI deployments.`, {
          param,
        });
    }
  });
}

/** Split a data: URL into media type and base64 data; any other URL stays a URL. */
export function parseImageUrl(url: string, param: string): CanonicalImageSource {
  if (!url.startsWith('data:')) return { kind: 'url', url };
  const match = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s.exec(url);
  if (!match) {
    throw new GatewayError('invalid_value', `${param}: an image data URL must look like data:image/png;base64,<data>.`, {
      param: `${param}.image_url.url`,
    });
  }
  return { kind: 'base64', mediaType: match[1]!, data: match[2]! };
}

function toCanonicalToolChoice(choice: NonNullable<ChatRequestBody['tool_choice']>): CanonicalToolChoice {
  if (choice === 'none') return { type: 'none' };
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'required') return { type: 'required' };
  return { type: 'tool', name: choice.function.name };
}

function toCanonicalResponseFormat(format: NonNullable<ChatRequestBody['response_format']>): CanonicalResponseFormat {
  if (format.type === 'json_schema') {
    const spec = (format as { json_schema: { name: string; schema?: Record<string, unknown>; strict?: boolean | null; description?: string } })
      .json_schema;
    return {
      type: 'json_schema',
      name: spec.name,
      schema: spec.schema ?? { type: 'object' },
      ...(typeof spec.strict === 'boolean' ? { strict: spec.strict } : {}),
      ...(spec.description !== undefined ? { description: spec.description } : {}),
    };
  }
  return { type: format.type as 'text' | 'json_object' };
}

export interface OpenAIRequestOptions {
  /** Real OpenAI wants max_completion_tokens (reasoning models reject max_tokens); older compatible servers know only max_tokens. */
  maxTokensField: 'max_completion_tokens' | 'max_tokens';
}

/** Convert a canonical request to an OpenAI Chat Completions body. */
export function canonicalToOpenAIRequest(request: CanonicalRequest, options: OpenAIRequestOptions): Record<string, unknown> {
  const messages: Record<string, unknown>[] = [];
  if (request.system.length > 0) {
    messages.push({ role: 'system', content: request.system.map((p) => p.text).join('\n\n') });
  }
  for (const message of request.messages) {
    if (message.role === 'assistant') messages.push(assistantMessage(message.content));
    else messages.push(...userMessages(message.content));
  }

  const body: Record<string, unknown> = { model: request.model, messages };
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((tool) => ({
      type: 'function',
      function: {
        name: tool.name,
        ...(tool.description !== undefined ? { description: tool.description } : {}),
        parameters: tool.parameters,
        ...(tool.strict !== undefined ? { strict: tool.strict } : {}),
      },
    }));
  }
  if (request.toolChoice) body.tool_choice = fromCanonicalToolChoice(request.toolChoice);
  if (request.parallelToolCalls !== undefined && request.tools && request.tools.length > 0) {
    body.parallel_tool_calls = request.parallelToolCalls;
  }
  if (request.maxTokens !== undefined) body[options.maxTokensField] = request.maxTokens;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.stop !== undefined) body.stop = request.stop;
  if (request.seed !== undefined) body.seed = request.seed;
  if (request.n !== undefined) body.n = request.n;
  if (request.presencePenalty !== undefined) body.presence_penalty = request.presencePenalty;
  if (request.frequencyPenalty !== undefined) body.frequency_penalty = request.frequencyPenalty;
  if (request.responseFormat) body.response_format = fromCanonicalResponseFormat(request.responseFormat);
  if (request.user !== undefined) body.user = request.user;
  if (request.reasoningEffort !== undefined) body.reasoning_effort = request.reasoningEffort;
  if (request.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}

function imageUrl(source: CanonicalImageSource): string {
  return source.kind === 'url' ? source.url : `data:${source.mediaType};base64,${source.data}`;
}

function assistantMessage(parts: CanonicalPart[]): Record<string, unknown> {
  const text = parts.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join('');
  const toolCalls = parts.flatMap((p) =>
    p.type === 'tool_call' ? [{ id: p.id, type: 'function', function: { name: p.name, arguments: p.arguments } }] : [],
  );
  const message: Record<string, unknown> = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return message;
}

/** Tool results become tool messages, which must come right after the assistant turn, before other user content. */
function userMessages(parts: CanonicalPart[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const rest: Record<string, unknown>[] = [];
  for (const part of parts) {
    if (part.type === 'tool_result') {
      const text = part.content.flatMap((c) => (c.type === 'text' ? [c.text] : [])).join('\n');
      const images = part.content.flatMap((c) => (c.type === 'image' ? [c] : []));
      const prefix = part.isError ? 'Error: ' : '';
      out.push({ role: 'tool', tool_call_id: part.toolCallId, content: prefix + text });
      for (const image of images) rest.push({ type: 'image_url', image_url: { url: imageUrl(image.source) } });
    } else if (part.type === 'text') {
      rest.push({ type: 'text', text: part.text });
    } else if (part.type === 'image') {
      rest.push({ type: 'image_url', image_url: { url: imageUrl(part.source), ...(part.detail ? { detail: part.detail } : {}) } });
    }
  }
  if (rest.length > 0) {
    const onlyText = rest.every((p) => p.type === 'text');
    out.push({ role: 'user', content: onlyText ? rest.map((p) => p.text as string).join('\n') : rest });
  }
  return out;
}

function fromCanonicalToolChoice(choice: CanonicalToolChoice): unknown {
  switch (choice.type) {
    case 'auto':
    case 'none':
      return choice.type;
    case 'required':
      return 'required';
    case 'tool':
      return { type: 'function', function: { name: choice.name } };
  }
}

function fromCanonicalResponseFormat(format: CanonicalResponseFormat): unknown {
  if (format.type !== 'json_schema') return { type: format.type };
  return {
    type: 'json_schema',
    json_schema: {
      name: format.name,
      schema: format.schema,
      ...(format.strict !== undefined ? { strict: format.strict } : {}),
      ...(format.description !== undefined ? { description: format.description } : {}),
    },
  };
}
