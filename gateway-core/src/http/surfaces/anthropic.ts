import type { CanonicalStreamEvent } from '../../formats/canonical';
import { anthropicStreamErrorFrame, renderAnthropicError } from '../../formats/anthropic-messages/errors';
import { anthropicRequestToCanonical } from '../../formats/anthropic-messages/request';
import { canonicalToAnthropicResponse } from '../../formats/anthropic-messages/response';
import { anthropicRequestSchema, validateAnthropicBody, type AnthropicRequestBody } from '../../formats/anthropic-messages/schema';
import { CanonicalToAnthropicStream, formatAnthropicSseEvent } from '../../formats/anthropic-messages/stream';
import type { NativeStreamEvent } from '../../providers/types';
import { lazyParsedRequest, type ChatSurface, type ErrorSurface, type ParsedChatRequest, type RoutingView, type StreamEncoder } from '../../pipeline/surface';

export const anthropicErrorSurface: ErrorSurface = {
  renderError: renderAnthropicError,
  streamErrorFrame: anthropicStreamErrorFrame,
};

/** Request headers that reach an Anthropic deployment unchanged. */
const forwardedHeaderNames = ['anthropic-version', 'anthropic-beta'];

/** The Anthropic Messages surface (/v1/messages). */
export const anthropicMessagesSurface: ChatSurface = {
  ...anthropicErrorSurface,
  format: 'anthropic-messages',

  parse(raw: unknown): ParsedChatRequest {
    const body = validateAnthropicBody(anthropicRequestSchema, raw);
    return lazyParsedRequest({
      alias: body.model,
      stream: body.stream === true,
      body: raw as Record<string, unknown>,
      toCanonical: () => anthropicRequestToCanonical(body),
      promptText: () => anthropicPromptText(body),
      routingView: () => anthropicRoutingView(body),
    });
  },

  renderCanonical(response) {
    return canonicalToAnthropicResponse(response);
  },

  canonicalStreamEncoder(): StreamEncoder<CanonicalStreamEvent> {
    const encoder = new CanonicalToAnthropicStream();
    return {
      encode: (event) => encoder.encode(event).map(formatAnthropicSseEvent).join(''),
      end: () => '',
    };
  },

  nativeStreamEncoder(): StreamEncoder<NativeStreamEvent> {
    return {
      encode(event) {
        const data = event.data as Record<string, unknown>;
        return formatAnthropicSseEvent({ event: event.event ?? String(data.type), data });
      },
      end: () => '',
    };
  },

  forwardedHeaders(headers) {
    const forwarded: Record<string, string> = {};
    for (const name of forwardedHeaderNames) {
      const value = headers[name];
      if (typeof value === 'string') forwarded[name] = value;
      else if (Array.isArray(value)) forwarded[name] = value.join(',');
    }
    return forwarded;
  },
};

/** Join all text a provider would see, for token estimates: system, messages and tool definitions. */
export function anthropicPromptText(body: Pick<AnthropicRequestBody, 'system' | 'messages' | 'tools'>): string {
  const parts: string[] = [];
  const collect = (value: unknown): void => {
    if (typeof value === 'string') parts.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value !== null && typeof value === 'object') {
      const block = value as Record<string, unknown>;
      if (block.type === 'image' || block.type === 'document') return;
      for (const key of ['text', 'content', 'input', 'thinking']) {
        const child = block[key];
        if (key === 'input' && child !== undefined) parts.push(JSON.stringify(child));
        else if (child !== undefined) collect(child);
      }
    }
  };
  collect(body.system);
  for (const message of body.messages) collect(message.content);
  for (const tool of body.tools ?? []) parts.push(JSON.stringify(tool));
  return parts.join('\n');
}

/** Extract the last user message's own text (tool results excluded) and the system prompt. */
function anthropicRoutingView(body: AnthropicRequestBody): RoutingView {
  const textOf = (content: unknown): string => {
    if (typeof content === 'string') return content;
    if (!Array.isArray(content)) return '';
    return (content as Array<{ type?: string; text?: unknown }>)
      .flatMap((block) => (block.type === 'text' && typeof block.text === 'string' ? [block.text] : []))
      .join('\n');
  };
  let lastUserText = '';
  let hasImages = false;
  for (const message of body.messages) {
    if (message.role === 'user') lastUserText = textOf(message.content);
    if (Array.isArray(message.content) && (message.content as Array<{ type?: string }>).some((block) => block.type === 'image')) hasImages = true;
  }
  return { systemText: textOf(body.system), lastUserText, hasImages, hasTools: (body.tools?.length ?? 0) > 0 };
}
