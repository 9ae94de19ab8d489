/**
 * The canonical chat representation that sits between formats that differ. Each wire format
 * has one adapter to and from it; no adapter converts to another format directly.
 * It models what both OpenAI Chat Completions and Anthropic Messages can express; a request
 * that uses something only one side has is passed through natively instead (same format) or
 * handled by the provider's parameter table (different formats).
 */

export type CanonicalImageSource =
  | { kind: 'url'; url: string }
  | { kind: 'base64'; mediaType: string; data: string };

export type CanonicalPart =
  | { type: 'text'; text: string }
  | { type: 'image'; source: CanonicalImageSource; detail?: string }
  | { type: 'tool_call'; id: string; name: string; /** JSON text, as the model produced it. */ arguments: string }
  | {
      type: 'tool_result';
      toolCallId: string;
      content: Array<{ type: 'text'; text: string } | { type: 'image'; source: CanonicalImageSource }>;
      isError: boolean;
    }
  | { type: 'thinking'; text: string; signature?: string }
  | { type: 'redacted_thinking'; data: string };

export interface CanonicalMessage {
  role: 'user' | 'assistant';
  content: CanonicalPart[];
}

export interface CanonicalTool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
  strict?: boolean;
}

export type CanonicalToolChoice =
  | { type: 'auto' }
  | { type: 'none' }
  /** The model must call some tool (OpenAI "required", Anthropic "any"). */
  | { type: 'required' }
  | { type: 'tool'; name: string };

export type CanonicalResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown>; strict?: boolean; description?: string };

export interface CanonicalRequest {
  /** The provider model name, filled in by the pipeline for the chosen deployment. */
  model: string;
  system: Array<{ type: 'text'; text: string }>;
  messages: CanonicalMessage[];
  tools?: CanonicalTool[];
  toolChoice?: CanonicalToolChoice;
  parallelToolCalls?: boolean;
  /** Output token limit; undefined means the provider's default. */
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  seed?: number;
  /** Number of choices; only 1 crosses formats. */
  n?: number;
  responseFormat?: CanonicalResponseFormat;
  presencePenalty?: number;
  frequencyPenalty?: number;
  user?: string;
  stream: boolean;
  /** Reasoning effort hint (OpenAI reasoning models). */
  reasoningEffort?: string;
  /** Inbound parameters with no canonical form, left out and reported to the client in a header. */
  ignoredParams?: string[];
}

export type CanonicalStopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'content_filter'
  | 'refusal'
  | 'pause_turn';

/** Token counts as a provider reports them, before normalisation into a UsageRecord. */
export interface CanonicalUsage {
  /** Input tokens that were neither read from nor written to a prompt cache. */
  inputTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  outputTokens: number;
  reasoningTokens: number | null;
}

export interface CanonicalResponse {
  id: string;
  model: string;
  content: CanonicalPart[];
  stopReason: CanonicalStopReason;
  stopSequence: string | null;
  usage: CanonicalUsage | null;
  created?: number;
}

/**
 * Stream events. Blocks are numbered in the order they start and never overlap: a block stops
 * before the next one starts, as in Anthropic's stream.
 */
export type CanonicalStreamEvent =
  | { type: 'message_start'; id: string; model: string; usage: Partial<CanonicalUsage> | null }
  | { type: 'block_start'; index: number; block: CanonicalBlockStart }
  | { type: 'text_delta'; index: number; text: string }
  | { type: 'tool_arguments_delta'; index: number; partialJson: string }
  | { type: 'thinking_delta'; index: number; text: string }
  | { type: 'signature_delta'; index: number; signature: string }
  | { type: 'block_stop'; index: number }
  | { type: 'message_delta'; stopReason: CanonicalStopReason | null; stopSequence: string | null; usage: Partial<CanonicalUsage> | null }
  | { type: 'message_stop' };

export type CanonicalBlockStart =
  | { type: 'text' }
  | { type: 'tool_call'; id: string; name: string }
  | { type: 'thinking' }
  | { type: 'redacted_thinking'; data: string };

/** Return whether an event carries content, which commits a stream to the client. */
export function eventCarriesContent(event: CanonicalStreamEvent): boolean {
  switch (event.type) {
    case 'block_start':
      return event.block.type === 'tool_call' || event.block.type === 'redacted_thinking';
    case 'text_delta':
    case 'thinking_delta':
      return event.text.length > 0;
    case 'tool_arguments_delta':
      return event.partialJson.length > 0;
    case 'signature_delta':
    case 'message_delta':
    case 'message_stop':
      return true;
    case 'message_start':
    case 'block_stop':
      return false;
  }
}

export function emptyUsage(): CanonicalUsage {
  return { inputTokens: 0, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, outputTokens: 0, reasoningTokens: null };
}
