import type { GatewayError } from '../errors';
import type { CanonicalRequest, CanonicalResponse, CanonicalStreamEvent } from '../formats/canonical';
import type { NativeStreamEvent, WireFormat } from '../providers/types';

export interface RenderedError {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** How one inbound API renders errors, before and after a stream was committed. */
export interface ErrorSurface {
  renderError(error: GatewayError): RenderedError;
  streamErrorFrame(error: GatewayError): string;
}

/** A chat request as one inbound API parsed it. */
export interface ParsedChatRequest {
  alias: string;
  stream: boolean;
  /** The validated body as the client sent it, for passthrough to a provider of the same format. */
  body: Record<string, unknown>;
  /** The canonical form, built on first use (only when the provider's format differs). */
  canonical(): CanonicalRequest;
  /** All text a provider would see, for token estimates. */
  promptText(): string;
  /** What the routing policy reads besides the token count. */
  routingView(): RoutingView;
}

export interface RoutingView {
  systemText: string;
  /** The text of the last user message, tool results excluded. */
  lastUserText: string;
  hasImages: boolean;
  hasTools: boolean;
}

/** Writes one streamed response as SSE text in the inbound API's format. */
export interface StreamEncoder<E> {
  /** SSE text for an event; an empty string when the event sends nothing to the client. */
  encode(event: E): string;
  /** Text after the last event (OpenAI's `data: [DONE]`). */
  end(): string;
}

/** One inbound chat API: parsing, response rendering and stream encoding. */
export interface ChatSurface extends ErrorSurface {
  readonly format: WireFormat;
  parse(body: unknown): ParsedChatRequest;
  renderCanonical(response: CanonicalResponse, request: ParsedChatRequest): Record<string, unknown>;
  canonicalStreamEncoder(request: ParsedChatRequest): StreamEncoder<CanonicalStreamEvent>;
  nativeStreamEncoder(request: ParsedChatRequest): StreamEncoder<NativeStreamEvent>;
  /** Request headers forwarded to a provider of the same format. */
  forwardedHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string>;
}

/**
 * Build a ParsedChatRequest whose canonical form and prompt text are computed on first use and
 * kept. `body` is the raw object, not zod's output, because zod reorders keys and passthrough
 * keeps the client's order.
 */
export function lazyParsedRequest(fields: {
  alias: string;
  stream: boolean;
  body: Record<string, unknown>;
  toCanonical: () => CanonicalRequest;
  promptText: () => string;
  routingView: () => RoutingView;
}): ParsedChatRequest {
  let canonical: CanonicalRequest | undefined;
  let text: string | undefined;
  return {
    alias: fields.alias,
    stream: fields.stream,
    body: fields.body,
    canonical: () => (canonical ??= fields.toCanonical()),
    promptText: () => (text ??= fields.promptText()),
    routingView: fields.routingView,
  };
}
