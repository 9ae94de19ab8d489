import type { CanonicalStreamEvent } from '../../formats/canonical';
import { openAIStreamErrorFrame, renderOpenAIError } from '../../formats/openai-chat/errors';
import { openAIRequestToCanonical } from '../../formats/openai-chat/request';
import { canonicalToOpenAIResponse, generateCompletionId } from '../../formats/openai-chat/response';
import { chatRequestSchema, validateBody, type ChatRequestBody } from '../../formats/openai-chat/schema';
import { CanonicalToOpenAIStream, editPassthroughChunk, type OpenAIChunk } from '../../formats/openai-chat/stream';
import type { NativeStreamEvent } from '../../providers/types';
import { lazyParsedRequest, type ChatSurface, type ErrorSurface, type ParsedChatRequest, type RoutingView, type StreamEncoder } from '../../pipeline/surface';

export const openAIErrorSurface: ErrorSurface = {
  renderError: renderOpenAIError,
  streamErrorFrame: openAIStreamErrorFrame,
};

function sse(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

/** The OpenAI Chat Completions surface (/v1/chat/completions). */
export const openAIChatSurface: ChatSurface = {
  ...openAIErrorSurface,
  format: 'openai-chat',

  parse(raw: unknown): ParsedChatRequest {
    const body = validateBody(chatRequestSchema, raw);
    return lazyParsedRequest({
      alias: body.model,
      stream: body.stream === true,
      body: raw as Record<string, unknown>,
      toCanonical: () => openAIRequestToCanonical(body),
      promptText: () => promptText(body),
      routingView: () => routingView(body),
    });
  },

  renderCanonical(response) {
    return canonicalToOpenAIResponse(response);
  },

  canonicalStreamEncoder(request): StreamEncoder<CanonicalStreamEvent> {
    let encoder: CanonicalToOpenAIStream | null = null;
    const includeUsage = wantsUsage(request.body);
    return {
      encode(event) {
        if (event.type === 'message_start') {
          encoder = new CanonicalToOpenAIStream({
            id: event.id || generateCompletionId(),
            model: event.model,
            created: Math.floor(Date.now() / 1000),
            includeUsage,
          });
        }
        return encoder ? encoder.encode(event).map(sse).join('') : '';
      },
      end: () => 'data: [DONE]\n\n',
    };
  },

  nativeStreamEncoder(request): StreamEncoder<NativeStreamEvent> {
    const includeUsage = wantsUsage(request.body);
    return {
      encode(event) {
        const chunk = editPassthroughChunk(event.data as OpenAIChunk, includeUsage);
        return chunk === null ? '' : sse(chunk);
      },
      end: () => 'data: [DONE]\n\n',
    };
  },

  forwardedHeaders: () => ({}),
};

function wantsUsage(body: Record<string, unknown>): boolean {
  const options = body.stream_options as { include_usage?: unknown } | null | undefined;
  return options?.include_usage === true;
}

function promptText(body: ChatRequestBody): string {
  const parts: string[] = [];
  for (const message of body.messages) {
    const content = (message as { content?: unknown }).content;
    if (typeof content === 'string') parts.push(content);
    else if (Array.isArray(content)) {
      for (const part of content as Array<{ type?: string; text?: unknown }>) if (typeof part.text === 'string') parts.push(part.text);
    }
    for (const call of (message as { tool_calls?: Array<{ function?: { name?: string; arguments?: string } }> }).tool_calls ?? []) {
      parts.push(call.function?.name ?? '', call.function?.arguments ?? '');
    }
  }
  for (const tool of body.tools ?? []) parts.push(JSON.stringify(tool.function));
  return parts.join('\n');
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as Array<{ text?: unknown }>).flatMap((part) => (typeof part.text === 'string' ? [part.text] : [])).join('\n');
}

function routingView(body: ChatRequestBody): RoutingView {
  const system: string[] = [];
  let lastUserText = '';
  let hasImages = false;
  for (const message of body.messages) {
    const content = (message as { content?: unknown }).content;
    if (message.role === 'system' || message.role === 'developer') system.push(textOf(content));
    if (message.role === 'user') lastUserText = textOf(content);
    if (Array.isArray(content) && (content as Array<{ type?: string }>).some((part) => part.type === 'image_url')) hasImages = true;
  }
  return { systemText: system.join('\n'), lastUserText, hasImages, hasTools: (body.tools?.length ?? 0) > 0 };
}
