import { GatewayError } from '../../errors';
import type {
  CanonicalImageSource,
  CanonicalMessage,
  CanonicalPart,
  CanonicalRequest,
  CanonicalTool,
  CanonicalToolChoice,
} from '../canonical';
import { contentToCanonicalParts } from './content';
import type { AnthropicMessage, AnthropicRequestBody, AnthropicTool, AnthropicToolChoice } from './schema';

/**
 * Anthropic-only request fields that change the output and that no other format can carry.
 * Crossing formats with one of them set is a 400 unsupported_parameter rather than a silent drop.
 */
const anthropicOnlyFields = ['mcp_servers', 'container', 'context_management'];

/** Convert a validated Anthropic Messages body to the canonical request. */
export function anthropicRequestToCanonical(body: AnthropicRequestBody): CanonicalRequest {
  for (const field of anthropicOnlyFields) {
    const value = (body as Record<string, unknown>)[field];
    if (value !== undefined && value !== null) throw anthropicOnly(field, `'${field}'`);
  }

  const request: CanonicalRequest = {
    model: body.model,
    system: systemToCanonical(body.system),
    messages: body.messages.map((message, index) => messageToCanonical(message, index)),
    maxTokens: body.max_tokens,
    stream: body.stream === true,
  };

  const tools = (body.tools ?? []).map((tool, index) => toolToCanonical(tool, index));
  if (tools.length > 0) request.tools = tools;
  if (body.tool_choice !== undefined) {
    request.toolChoice = toolChoiceToCanonical(body.tool_choice);
    if ('disable_parallel_tool_use' in body.tool_choice && typeof body.tool_choice.disable_parallel_tool_use === 'boolean') {
      request.parallelToolCalls = !body.tool_choice.disable_parallel_tool_use;
    }
  }
  if (body.temperature !== undefined) request.temperature = body.temperature;
  if (body.top_p !== undefined) request.topP = body.top_p;
  if (body.top_k !== undefined) request.topK = body.top_k;
  if (body.stop_sequences !== undefined && body.stop_sequences.length > 0) request.stop = body.stop_sequences;
  if (typeof body.metadata?.user_id === 'string') request.user = body.metadata.user_id;
  if (typeof body.output_config?.effort === 'string') request.reasoningEffort = body.output_config.effort;
  // Extended thinking has no equivalent in the other formats. Rejecting it would break Claude Code
  // routed to another model, so it is left out and named in x-airlock-ignored-params.
  const thinking = (body as { thinking?: { type?: unknown } }).thinking;
  if (thinking !== undefined && thinking.type !== 'disabled') request.ignoredParams = ['thinking'];
  return request;
}

function systemToCanonical(system: AnthropicRequestBody['system']): CanonicalRequest['system'] {
  if (system === undefined) return [];
  if (typeof system === 'string') return system === '' ? [] : [{ type: 'text', text: system }];
  return system.map((block) => ({ type: 'text', text: block.text }));
}

function messageToCanonical(message: AnthropicMessage, index: number): CanonicalMessage {
  if (message.role === 'system') {
    throw anthropicOnly('messages', `A message with role 'system' (messages.${index})`, `messages.${index}.role`);
  }
  return { role: message.role, content: contentToCanonicalParts(message.content, `messages.${index}.content`) };
}

function toolToCanonical(tool: AnthropicTool, index: number): CanonicalTool {
  const isCustom = tool.type === undefined || tool.type === null || tool.type === 'custom';
  if (!isCustom) throw anthropicOnly('tools', `The server tool '${tool.type}' (tools.${index})`, `tools.${index}`);
  const canonical: CanonicalTool = {
    name: tool.name,
    parameters: tool.input_schema ?? { type: 'object', properties: {} },
  };
  if (tool.description !== undefined) canonical.description = tool.description;
  const strict = (tool as Record<string, unknown>).strict;
  if (typeof strict === 'boolean') canonical.strict = strict;
  return canonical;
}

function toolChoiceToCanonical(choice: AnthropicToolChoice): CanonicalToolChoice {
  switch (choice.type) {
    case 'auto':
      return { type: 'auto' };
    case 'any':
      return { type: 'required' };
    case 'tool':
      return { type: 'tool', name: choice.name };
    case 'none':
      return { type: 'none' };
  }
}

function anthropicOnly(param: string, subject: string, path = param): GatewayError {
  return new GatewayError(
    'unsupported_parameter',
    `${subject} can only be sent to an Anthropic deployment; remove it or choose a model served by Anthropic.`,
    { param: path },
  );
}

export interface CanonicalToAnthropicOptions {
  /**
   * max_tokens to send when the canonical request has none, because Anthropic requires it:
   * the model's maximum output from the model table, or 4096 when the table has none.
   */
  defaultMaxTokens: number;
}

/**
 * Convert a canonical request to an Anthropic Messages body. Consecutive messages of one role
 * are merged, because every tool_result for the tool_use blocks of an assistant turn must be in
 * the single next user message, with the tool_result blocks first.
 */
export function canonicalToAnthropicRequest(request: CanonicalRequest, options: CanonicalToAnthropicOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: request.model,
    max_tokens: request.maxTokens ?? options.defaultMaxTokens,
  };
  const system = request.system.filter((part) => part.text !== '').map((part) => ({ type: 'text', text: part.text }));
  if (system.length > 0) body.system = system;
  body.messages = mergeMessages(request.messages);

  if (request.tools && request.tools.length > 0) {
    // NOTE: canonical `strict` is not sent, because strict tool schemas are not available on
    // every Anthropic model and an unknown field fails the whole request.
    body.tools = request.tools.map((tool) => ({
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      input_schema: tool.parameters,
    }));
  }
  const toolChoice = toolChoiceToAnthropic(request.toolChoice, request.parallelToolCalls);
  if (toolChoice) body.tool_choice = toolChoice;
  if (request.stop && request.stop.length > 0) body.stop_sequences = request.stop;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.topK !== undefined) body.top_k = request.topK;
  if (request.user !== undefined) body.metadata = { user_id: request.user };
  if (request.reasoningEffort !== undefined) body.output_config = { effort: effortToAnthropic(request.reasoningEffort) };
  if (request.stream) body.stream = true;
  return body;
}

/**
 * Map a reasoning effort to Anthropic's output_config.effort (low, medium, high, xhigh, max).
 * OpenAI's none and minimal have no Anthropic value and become low, the closest one.
 */
function effortToAnthropic(effort: string): string {
  return effort === 'none' || effort === 'minimal' ? 'low' : effort;
}

function toolChoiceToAnthropic(
  choice: CanonicalToolChoice | undefined,
  parallelToolCalls: boolean | undefined,
): Record<string, unknown> | null {
  const disableParallel = parallelToolCalls === false ? { disable_parallel_tool_use: true } : {};
  switch (choice?.type) {
    case undefined:
      return parallelToolCalls === false ? { type: 'auto', ...disableParallel } : null;
    case 'auto':
      return { type: 'auto', ...disableParallel };
    case 'required':
      return { type: 'any', ...disableParallel };
    case 'tool':
      return { type: 'tool', name: choice.name, ...disableParallel };
    case 'none':
      return { type: 'none' };
  }
}

function mergeMessages(messages: CanonicalMessage[]): Array<Record<string, unknown>> {
  const merged: Array<{ role: 'user' | 'assistant'; content: Array<Record<string, unknown>> }> = [];
  for (const message of messages) {
    const blocks = message.content.flatMap(partToAnthropic);
    if (blocks.length === 0) continue;
    const last = merged[merged.length - 1];
    if (last && last.role === message.role) last.content.push(...blocks);
    else merged.push({ role: message.role, content: blocks });
  }
  for (const message of merged) {
    if (message.role !== 'user') continue;
    // Anthropic requires the tool_result blocks of a user message to come before any other block.
    const results = message.content.filter((block) => block.type === 'tool_result');
    const others = message.content.filter((block) => block.type !== 'tool_result');
    message.content = [...results, ...others];
  }
  return merged;
}

function partToAnthropic(part: CanonicalPart): Array<Record<string, unknown>> {
  switch (part.type) {
    case 'text':
      // Anthropic rejects empty text blocks.
      return part.text === '' ? [] : [{ type: 'text', text: part.text }];
    case 'image':
      return [{ type: 'image', source: imageSourceToAnthropic(part.source) }];
    case 'tool_call':
      return [{ type: 'tool_use', id: part.id, name: part.name, input: parseToolArguments(part.arguments, part.id, part.name) }];
    case 'tool_result': {
      const block: Record<string, unknown> = { type: 'tool_result', tool_use_id: part.toolCallId };
      const content = part.content.flatMap(toolResultItemToAnthropic);
      if (content.length > 0) block.content = content;
      if (part.isError) block.is_error = true;
      return [block];
    }
    case 'thinking':
      // Anthropic accepts a thinking block back only with the signature it issued; reasoning text
      // from another provider has none and is left out.
      return part.signature ? [{ type: 'thinking', thinking: part.text, signature: part.signature }] : [];
    case 'redacted_thinking':
      return [{ type: 'redacted_thinking', data: part.data }];
  }
}

function toolResultItemToAnthropic(item: Extract<CanonicalPart, { type: 'tool_result' }>['content'][number]): Array<Record<string, unknown>> {
  if (item.type === 'image') return [{ type: 'image', source: imageSourceToAnthropic(item.source) }];
  return item.text === '' ? [] : [{ type: 'text', text: item.text }];
}

function imageSourceToAnthropic(source: CanonicalImageSource): Record<string, unknown> {
  if (source.kind === 'base64') return { type: 'base64', media_type: source.mediaType, data: source.data };
  const dataUrl = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s.exec(source.url);
  if (dataUrl) return { type: 'base64', media_type: dataUrl[1]!, data: dataUrl[2]! };
  return { type: 'url', url: source.url };
}

/** Parse tool-call arguments (JSON text) into the object that Anthropic's tool_use.input requires. */
function parseToolArguments(text: string, id: string, name: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new GatewayError(
      'invalid_value',
      `The arguments of tool call '${id}' ('${name}') are not valid JSON; Anthropic needs them as a JSON object.`,
      { cause: error },
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new GatewayError('invalid_value', `The arguments of tool call '${id}' ('${name}') must be a JSON object for Anthropic.`);
  }
  return parsed as Record<string, unknown>;
}
