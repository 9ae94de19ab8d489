import { randomBytes } from 'node:crypto';
import { GatewayError } from '../../errors';
import type { CanonicalPart, CanonicalResponse, CanonicalStopReason } from '../canonical';
import { anthropicUsageToCanonical, canonicalUsageToAnthropic, type AnthropicUsage } from './usage';

/** One content block of an Anthropic response (only the fields the gateway reads). */
export interface AnthropicResponseBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  thinking?: string;
  signature?: string;
  data?: string;
}

/**
 * Convert an Anthropic message to the canonical response. Blocks that only Anthropic clients
 * understand (server tool calls and their results) are left out: a translated request cannot
 * have asked for them, because server tools are rejected on the way in.
 */
export function anthropicResponseToCanonical(body: Record<string, unknown>): CanonicalResponse {
  if (!Array.isArray(body.content)) {
    throw new GatewayError('upstream_error', 'The provider returned a message without a content array.');
  }
  const content: CanonicalPart[] = [];
  for (const block of body.content as AnthropicResponseBlock[]) {
    const part = responseBlockToCanonical(block);
    if (part) content.push(part);
  }
  return {
    id: typeof body.id === 'string' ? body.id : generateMessageId(),
    model: typeof body.model === 'string' ? body.model : '',
    content,
    stopReason: anthropicStopReasonToCanonical(typeof body.stop_reason === 'string' ? body.stop_reason : null),
    stopSequence: typeof body.stop_sequence === 'string' ? body.stop_sequence : null,
    usage: typeof body.usage === 'object' && body.usage !== null ? anthropicUsageToCanonical(body.usage as AnthropicUsage) : null,
  };
}

function responseBlockToCanonical(block: AnthropicResponseBlock): CanonicalPart | null {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: block.text ?? '' };
    case 'tool_use':
      return { type: 'tool_call', id: block.id ?? generateToolUseId(), name: block.name ?? '', arguments: JSON.stringify(block.input ?? {}) };
    case 'thinking':
      return { type: 'thinking', text: block.thinking ?? '', ...(block.signature ? { signature: block.signature } : {}) };
    case 'redacted_thinking':
      return { type: 'redacted_thinking', data: block.data ?? '' };
    default:
      return null;
  }
}

/**
 * Map Anthropic's stop_reason. model_context_window_exceeded (newer API versions) is a length
 * stop like max_tokens; a missing or unknown reason counts as a normal end of turn.
 */
export function anthropicStopReasonToCanonical(reason: string | null): CanonicalStopReason {
  switch (reason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'max_tokens';
    case 'stop_sequence':
      return 'stop_sequence';
    case 'tool_use':
      return 'tool_use';
    case 'pause_turn':
      return 'pause_turn';
    case 'refusal':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

/**
 * Map a canonical stop reason to Anthropic's. A turn that produced tool calls is tool_use
 * whatever the provider reported, because OpenAI finishes a forced named tool call with "stop".
 */
export function canonicalStopReasonToAnthropic(reason: CanonicalStopReason | null, hasToolCalls: boolean): string {
  if (hasToolCalls && (reason === null || reason === 'end_turn' || reason === 'tool_use')) return 'tool_use';
  switch (reason) {
    case null:
    case 'end_turn':
    case 'tool_use':
      return 'end_turn';
    case 'content_filter':
      return 'refusal';
    default:
      return reason;
  }
}

/** Convert a canonical response to an Anthropic message object. */
export function canonicalToAnthropicResponse(response: CanonicalResponse): Record<string, unknown> {
  const content = response.content.flatMap(partToResponseBlock);
  const hasToolCalls = content.some((block) => block.type === 'tool_use');
  return {
    id: anthropicMessageId(response.id),
    type: 'message',
    role: 'assistant',
    model: response.model,
    content,
    stop_reason: canonicalStopReasonToAnthropic(response.stopReason, hasToolCalls),
    stop_sequence: response.stopSequence,
    usage: response.usage
      ? canonicalUsageToAnthropic(response.usage)
      : { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
  };
}

function partToResponseBlock(part: CanonicalPart): Array<Record<string, unknown>> {
  switch (part.type) {
    case 'text':
      return [{ type: 'text', text: part.text }];
    case 'tool_call':
      return [{ type: 'tool_use', id: part.id, name: part.name, input: toolInputFromArguments(part.arguments) }];
    case 'thinking':
      return [{ type: 'thinking', thinking: part.text, signature: part.signature ?? '' }];
    case 'redacted_thinking':
      return [{ type: 'redacted_thinking', data: part.data }];
    case 'image':
    case 'tool_result':
      // A model's output contains neither, so there is nothing to render.
      return [];
  }
}

/**
 * Turn tool-call arguments (JSON text) into tool_use.input. Anthropic clients expect an object.
 * NOTE: arguments that are not a JSON object (a model cut off mid-call by max_tokens) become {}.
 */
export function toolInputFromArguments(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  const parsed = parseJson(text);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function anthropicMessageId(id: string): string {
  return id.startsWith('msg_') ? id : `msg_${id}`;
}

export function generateMessageId(): string {
  return `msg_${randomBytes(12).toString('base64url')}`;
}

export function generateToolUseId(): string {
  return `toolu_${randomBytes(12).toString('base64url')}`;
}
