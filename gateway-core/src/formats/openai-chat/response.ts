import { randomBytes } from 'node:crypto';
import { GatewayError } from '../../errors';
import type { CanonicalPart, CanonicalResponse, CanonicalStopReason } from '../canonical';
import { canonicalUsageToOpenAI, openAIUsageToCanonical, type OpenAIUsage } from './usage';

interface OpenAIToolCall {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

interface OpenAIChoice {
  index?: number;
  message?: {
    content?: string | null;
    refusal?: string | null;
    tool_calls?: OpenAIToolCall[] | null;
    reasoning_content?: string | null;
  };
  finish_reason?: string | null;
}

/** Convert the first choice of an OpenAI chat completion to the canonical response. */
export function openAIResponseToCanonical(body: Record<string, unknown>): CanonicalResponse {
  const choices = body.choices as OpenAIChoice[] | undefined;
  const choice = Array.isArray(choices) ? choices[0] : undefined;
  if (!choice || typeof choice.message !== 'object' || choice.message === null) {
    throw new GatewayError('upstream_error', 'The provider returned a chat completion without choices[0].message.');
  }
  const message = choice.message;
  const content: CanonicalPart[] = [];
  if (typeof message.reasoning_content === 'string' && message.reasoning_content !== '') {
    content.push({ type: 'thinking', text: message.reasoning_content });
  }
  if (typeof message.content === 'string' && message.content !== '') content.push({ type: 'text', text: message.content });
  if (typeof message.refusal === 'string' && message.refusal !== '') content.push({ type: 'text', text: message.refusal });
  for (const call of message.tool_calls ?? []) {
    content.push({
      type: 'tool_call',
      id: call.id ?? generateToolCallId(),
      name: call.function?.name ?? '',
      arguments: call.function?.arguments ?? '',
    });
  }
  const hasToolCalls = content.some((p) => p.type === 'tool_call');
  return {
    id: typeof body.id === 'string' ? body.id : generateCompletionId(),
    model: typeof body.model === 'string' ? body.model : '',
    content,
    stopReason: openAIFinishToStopReason(choice.finish_reason ?? null, hasToolCalls, typeof message.refusal === 'string'),
    stopSequence: null,
    usage: body.usage ? openAIUsageToCanonical(body.usage as OpenAIUsage) : null,
    ...(typeof body.created === 'number' ? { created: body.created } : {}),
  };
}

/**
 * Map finish_reason to a stop reason. A turn with tool calls is tool_use whatever the reason
 * is, because OpenAI finishes a forced named tool call with "stop".
 */
export function openAIFinishToStopReason(reason: string | null, hasToolCalls: boolean, refused = false): CanonicalStopReason {
  if (hasToolCalls) return 'tool_use';
  if (refused) return 'refusal';
  switch (reason) {
    case 'length':
      return 'max_tokens';
    case 'content_filter':
      return 'content_filter';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    default:
      return 'end_turn';
  }
}

export function stopReasonToOpenAIFinish(reason: CanonicalStopReason | null): string {
  switch (reason) {
    case 'max_tokens':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'content_filter':
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/** Convert a canonical response to an OpenAI chat completion object. */
export function canonicalToOpenAIResponse(response: CanonicalResponse): Record<string, unknown> {
  const text = response.content.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join('');
  const thinking = response.content.flatMap((p) => (p.type === 'thinking' ? [p.text] : [])).join('');
  const toolCalls = response.content.flatMap((p) =>
    p.type === 'tool_call' ? [{ id: p.id, type: 'function', function: { name: p.name, arguments: p.arguments } }] : [],
  );
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: text === '' && toolCalls.length > 0 ? null : text,
    refusal: null,
  };
  if (thinking !== '') message.reasoning_content = thinking;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const body: Record<string, unknown> = {
    id: openAICompletionId(response.id),
    object: 'chat.completion',
    created: response.created ?? Math.floor(Date.now() / 1000),
    model: response.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: stopReasonToOpenAIFinish(response.stopReason) }],
  };
  if (response.usage) body.usage = canonicalUsageToOpenAI(response.usage);
  return body;
}

export function openAICompletionId(id: string): string {
  return id.startsWith('chatcmpl-') ? id : `chatcmpl-${id}`;
}

export function generateCompletionId(): string {
  return `chatcmpl-${randomBytes(12).toString('base64url')}`;
}

export function generateToolCallId(): string {
  return `call_${randomBytes(12).toString('base64url')}`;
}
