import { randomBytes, randomUUID } from 'node:crypto';
import type { CanonicalPart, CanonicalResponse, CanonicalStopReason, CanonicalUsage } from '../../formats/canonical';
import type { Deployment } from '../types';
import { invalidResponseError } from './errors';

/**
 * One /api/chat object as it may arrive: ollama-js types every field as present, but Ollama
 * omits zero counts and empty fields (Go's omitempty), so each field is checked before use.
 */
export interface OllamaChatPart {
  model?: unknown;
  created_at?: unknown;
  message?: {
    content?: unknown;
    thinking?: unknown;
    tool_calls?: unknown;
  };
  done?: unknown;
  done_reason?: unknown;
  prompt_eval_count?: unknown;
  eval_count?: unknown;
}

/** The counters and durations of Ollama's final object, kept as the raw usage record. */
const RAW_USAGE_FIELDS = [
  'prompt_eval_count',
  'eval_count',
  'total_duration',
  'load_duration',
  'prompt_eval_duration',
  'eval_duration',
] as const;

export function newResponseId(): string {
  return `ollama-${randomUUID()}`;
}

/** Creates an id in OpenAI's style for a tool call that arrives without one. */
export function newToolCallId(): string {
  return `call_${randomBytes(12).toString('hex')}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function textField(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Converts the tool calls of one message into canonical tool_call parts. */
export function toolCallParts(toolCalls: unknown, deployment: Deployment): Array<Extract<CanonicalPart, { type: 'tool_call' }>> {
  if (toolCalls === undefined || toolCalls === null) return [];
  if (!Array.isArray(toolCalls)) throw invalidResponseError(deployment, 'message.tool_calls is not an array');
  return toolCalls.map((call: unknown) => {
    const fn = isRecord(call) ? call.function : undefined;
    if (!isRecord(fn) || typeof fn.name !== 'string') {
      throw invalidResponseError(deployment, 'a tool call has no function name');
    }
    const id = isRecord(call) && typeof call.id === 'string' && call.id.length > 0 ? call.id : newToolCallId();
    const args = fn.arguments ?? {};
    return { type: 'tool_call', id, name: fn.name, arguments: JSON.stringify(args) };
  });
}

/**
 * Maps Ollama's done_reason. Ollama reports a matched stop sequence as "stop" too, so
 * stop_sequence is never derived. Other reasons ("load", "unload") occur only for requests
 * without messages and end the turn.
 */
export function toStopReason(doneReason: unknown, hasToolCalls: boolean): CanonicalStopReason {
  if (hasToolCalls) return 'tool_use';
  if (doneReason === 'length') return 'max_tokens';
  return 'end_turn';
}

/**
 * Reads usage from a final object: prompt_eval_count is the input, eval_count the output
 * (thinking included). A missing count is zero, because Ollama omits zero values. When both are
 * missing, the response carries no usage and the caller estimates it.
 */
export function toUsage(final: OllamaChatPart): CanonicalUsage | null {
  const input = final.prompt_eval_count;
  const output = final.eval_count;
  if (typeof input !== 'number' && typeof output !== 'number') return null;
  return {
    inputTokens: typeof input === 'number' ? input : 0,
    cacheReadTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    outputTokens: typeof output === 'number' ? output : 0,
    reasoningTokens: null,
  };
}

export function rawUsage(final: OllamaChatPart): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  const source = final as Record<string, unknown>;
  for (const field of RAW_USAGE_FIELDS) {
    if (source[field] !== undefined) raw[field] = source[field];
  }
  return raw;
}

function createdSeconds(createdAt: unknown): number | undefined {
  if (typeof createdAt !== 'string') return undefined;
  const millis = Date.parse(createdAt);
  return Number.isNaN(millis) ? undefined : Math.floor(millis / 1000);
}

/** Converts a non-streaming /api/chat response. */
export function toCanonicalResponse(response: unknown, deployment: Deployment): CanonicalResponse {
  if (!isRecord(response) || !isRecord(response.message)) {
    throw invalidResponseError(deployment, 'the /api/chat response has no message object');
  }
  const part = response as OllamaChatPart;
  const message = part.message ?? {};

  const content: CanonicalPart[] = [];
  const thinking = textField(message.thinking);
  if (thinking.length > 0) content.push({ type: 'thinking', text: thinking });
  const text = textField(message.content);
  if (text.length > 0) content.push({ type: 'text', text });
  const toolCalls = toolCallParts(message.tool_calls, deployment);
  content.push(...toolCalls);

  return {
    id: newResponseId(),
    model: typeof part.model === 'string' ? part.model : deployment.model,
    content,
    stopReason: toStopReason(part.done_reason, toolCalls.length > 0),
    stopSequence: null,
    usage: toUsage(part),
    created: createdSeconds(part.created_at),
  };
}
