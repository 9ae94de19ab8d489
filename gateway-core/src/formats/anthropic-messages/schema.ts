import { z } from 'zod';
import { GatewayError } from '../../errors';

/**
 * Validation of an Anthropic Messages request. Objects are loose, so fields the gateway does not
 * model (cache_control, citations, thinking, new fields) pass through to Anthropic untouched.
 * Content blocks of the types the gateway reads are checked field by field. Other block types
 * only need a string `type`, because Anthropic validates them itself.
 */

const cacheControl = z.looseObject({ type: z.string() }).nullable().optional();

const textBlock = z.looseObject({ type: z.literal('text'), text: z.string(), cache_control: cacheControl });

const imageSource = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('base64'), media_type: z.string().min(1), data: z.string() }),
  z.looseObject({ type: z.literal('url'), url: z.string().min(1) }),
  z.looseObject({ type: z.literal('file'), file_id: z.string().min(1) }),
]);

const imageBlock = z.looseObject({ type: z.literal('image'), source: imageSource, cache_control: cacheControl });

const toolUseBlock = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
});

/** A content block of a type the gateway does not read: only its `type` is checked here. */
const anyBlock = z.looseObject({ type: z.string().min(1) });

const toolResultBlock = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(anyBlock)]).optional(),
  is_error: z.boolean().optional(),
});

const thinkingBlock = z.looseObject({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() });
const redactedThinkingBlock = z.looseObject({ type: z.literal('redacted_thinking'), data: z.string() });

const knownBlocks: Record<string, z.ZodType> = {
  text: textBlock,
  image: imageBlock,
  tool_use: toolUseBlock,
  tool_result: toolResultBlock,
  thinking: thinkingBlock,
  redacted_thinking: redactedThinkingBlock,
};

/** A content block, checked against its type's schema when the gateway has one for that type. */
const contentBlock = anyBlock.superRefine((block, context) => {
  const schema = knownBlocks[block.type];
  if (!schema) return;
  const result = schema.safeParse(block);
  if (result.success) return;
  for (const issue of result.error.issues) {
    context.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  }
});

const messageContent = z.union([z.string(), z.array(contentBlock)]);

const message = z.looseObject({
  role: z.enum(['user', 'assistant', 'system']),
  content: messageContent,
});

const tool = z.looseObject({
  name: z.string().min(1),
  type: z.string().nullable().optional(),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()).optional(),
});

const toolChoice = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal('tool'), name: z.string().min(1), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal('none') }),
]);

const requestFields = {
  model: z.string().min(1),
  messages: z.array(message).min(1),
  system: z.union([z.string(), z.array(textBlock)]).optional(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  metadata: z.looseObject({ user_id: z.string().nullable().optional() }).optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  thinking: z.looseObject({ type: z.string() }).optional(),
  output_config: z.looseObject({ effort: z.string().optional() }).optional(),
};

/** POST /v1/messages. max_tokens is required, as the Anthropic API requires it. */
export const anthropicRequestSchema = z.looseObject({
  ...requestFields,
  max_tokens: z.number().int().min(1),
  stream: z.boolean().optional(),
});

/** POST /v1/messages/count_tokens: the same request without max_tokens and stream. */
export const anthropicCountTokensSchema = z.looseObject(requestFields);

export type AnthropicRequestBody = z.infer<typeof anthropicRequestSchema>;
export type AnthropicMessage = z.infer<typeof message>;
export type AnthropicTool = z.infer<typeof tool>;
export type AnthropicToolChoice = z.infer<typeof toolChoice>;

/** Format a validation path the way Anthropic's own errors do: messages.0.content. */
export function formatAnthropicPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((segment) => String(segment)).join('.');
}

/** Parse a body with a schema, turning the first issue into a 400 that names the field. */
export function validateAnthropicBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_value', 'The request body must be a JSON object.', { param: null });
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = deepestIssue(result.error.issues);
  const param = formatAnthropicPath(issue.path);
  const where = param === '' ? 'request body' : `'${param}'`;
  const missing = issue.code === 'invalid_type' && valueAt(body, issue.path) === undefined;
  const text = missing ? `Missing required field ${where}.` : `Invalid value for ${where}: ${issue.message}.`;
  throw new GatewayError('invalid_value', text, { param: param === '' ? null : param });
}

/** Prefer the issue with the longest path, which names the field a person has to fix. */
function deepestIssue(issues: z.core.$ZodIssue[]): z.core.$ZodIssue {
  let best = issues[0]!;
  for (const issue of issues) {
    const candidate = issue.code === 'invalid_union' ? unionIssue(issue) : issue;
    if (candidate.path.length > best.path.length || best.code === 'invalid_union') best = candidate;
  }
  return best;
}

function unionIssue(issue: z.core.$ZodIssueInvalidUnion): z.core.$ZodIssue {
  const nested = issue.errors.flat().map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] }));
  return nested.length > 0 ? deepestIssue(nested) : issue;
}

function valueAt(body: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value: unknown = body;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}
