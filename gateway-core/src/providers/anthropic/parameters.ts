import { GatewayError } from '../../errors';
import type { CanonicalRequest, CanonicalResponse, CanonicalStreamEvent, CanonicalStopReason } from '../../formats/canonical';

/**
 * The Anthropic API version sent when the caller forwards none. Version 2023-06-01 accepts every
 * canonical field, temperature, top_p and top_k included. Version 2026-10-21, the default of
 * @anthropic-ai/sdk 1.x, rejects those three with a 400 even at their default values, as
 * Anthropic's API versioning page states.
 */
export const defaultAnthropicVersion = '2023-06-01';

/** The system instruction that replaces response_format json_object, which Anthropic lacks. */
export const jsonObjectInstruction =
  'Respond with a single valid JSON object and nothing else: no Markdown code fences and no text before or after it.';

export interface AnthropicRequestPlan {
  /** The request with emulated parameters replaced by what Anthropic serves. */
  request: CanonicalRequest;
  /** Parameters served in another way than passing them (for x-airlock-emulated). */
  emulated: string[];
  /** The forced tool whose input is the json_schema result, to be returned as text; null when unused. */
  responseTool: string | null;
}

/**
 * Apply the Anthropic parameter table to a translated request: pass what Anthropic serves,
 * emulate response_format, and reject what it cannot serve with 400 unsupported_parameter.
 * `anthropicVersion` is the version header that the call will send.
 */
export function planAnthropicRequest(request: CanonicalRequest, anthropicVersion: string): AnthropicRequestPlan {
  if (request.n !== undefined && request.n > 1) {
    throw new GatewayError('unsupported_parameter', 'Anthropic models return one choice per request; set n to 1 or remove it.', { param: 'n' });
  }
  rejectIfSet('seed', request.seed);
  rejectIfSet('presence_penalty', request.presencePenalty);
  rejectIfSet('frequency_penalty', request.frequencyPenalty);
  if (anthropicVersion !== defaultAnthropicVersion) {
    for (const [param, value] of [['temperature', request.temperature], ['top_p', request.topP], ['top_k', request.topK]] as const) {
      if (value !== undefined) {
        throw new GatewayError(
          'unsupported_parameter',
          `'${param}' is rejected by Anthropic API version ${anthropicVersion}; remove it, or send anthropic-version ${defaultAnthropicVersion}.`,
          { param },
        );
      }
    }
  }
  if (request.temperature !== undefined && request.temperature > 1) {
    throw new GatewayError(
      'unsupported_parameter',
      `temperature ${request.temperature} is above Anthropic's maximum of 1; use a value from 0 to 1.`,
      { param: 'temperature' },
    );
  }

  const format = request.responseFormat;
  if (!format || format.type === 'text') return { request, emulated: [], responseTool: null };

  if (format.type === 'json_object') {
    return {
      request: { ...request, responseFormat: undefined, system: [...request.system, { type: 'text', text: jsonObjectInstruction }] },
      emulated: ['response_format'],
      responseTool: null,
    };
  }

  if (request.tools && request.tools.length > 0) {
    throw new GatewayError(
      'unsupported_parameter',
      'response_format json_schema is emulated on Anthropic with a forced tool call, which cannot be combined with tools; remove one of them or route the request to an OpenAI deployment.',
      { param: 'response_format' },
    );
  }
  const responseTool = toolName(format.name);
  return {
    request: {
      ...request,
      responseFormat: undefined,
      tools: [
        {
          name: responseTool,
          description: format.description ?? 'Return the final result by calling this tool. Its input is the result.',
          parameters: format.schema,
        },
      ],
      toolChoice: { type: 'tool', name: responseTool },
      parallelToolCalls: undefined,
    },
    emulated: ['response_format'],
    responseTool,
  };
}

function rejectIfSet(param: string, value: number | undefined): void {
  if (value === undefined) return;
  throw new GatewayError(
    'unsupported_parameter',
    `'${param}' is not supported by Anthropic models; remove it, or route the request to an OpenAI deployment.`,
    { param },
  );
}

/** Make a tool name that Anthropic accepts: letters, digits, _ and -, at most 64 characters. */
function toolName(schemaName: string): string {
  const cleaned = schemaName.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
  return cleaned === '' ? 'json_response' : cleaned;
}

/** Turn the forced tool call of a json_schema emulation back into text content. */
export function responseToolToText(response: CanonicalResponse, responseTool: string): CanonicalResponse {
  let converted = false;
  const content = response.content.map((part) => {
    if (part.type !== 'tool_call' || part.name !== responseTool) return part;
    converted = true;
    return { type: 'text' as const, text: part.arguments };
  });
  const otherToolCalls = content.some((part) => part.type === 'tool_call');
  const stopReason: CanonicalStopReason = converted && !otherToolCalls && response.stopReason === 'tool_use' ? 'end_turn' : response.stopReason;
  return { ...response, content, stopReason };
}

/** Converts a stream the same way: the response tool's block becomes a text block and its arguments text. */
export class ResponseToolStream {
  private readonly responseBlocks = new Set<number>();
  private sawOtherToolCall = false;

  constructor(private readonly responseTool: string) {}

  convert(event: CanonicalStreamEvent): CanonicalStreamEvent {
    switch (event.type) {
      case 'block_start':
        if (event.block.type !== 'tool_call') return event;
        if (event.block.name !== this.responseTool) {
          this.sawOtherToolCall = true;
          return event;
        }
        this.responseBlocks.add(event.index);
        return { type: 'block_start', index: event.index, block: { type: 'text' } };
      case 'tool_arguments_delta':
        return this.responseBlocks.has(event.index) ? { type: 'text_delta', index: event.index, text: event.partialJson } : event;
      case 'message_delta':
        if (event.stopReason === 'tool_use' && this.responseBlocks.size > 0 && !this.sawOtherToolCall) {
          return { ...event, stopReason: 'end_turn' };
        }
        return event;
      default:
        return event;
    }
  }
}
