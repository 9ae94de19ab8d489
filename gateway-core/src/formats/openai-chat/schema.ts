import { z } from 'zod';
import { GatewayError } from '../../errors';

/**
 * Validation of an OpenAI Chat Completions request. Objects are loose: fields the gateway does
 * not model pass through to OpenAI-format providers untouched.
 */

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const imagePart = z.looseObject({
  type: z.literal('image_url'),
  image_url: z.looseObject({ url: z.string().min(1), detail: z.string().optional() }),
});
const audioPart = z.looseObject({
  type: z.literal('input_audio'),
  input_audio: z.looseObject({ data: z.string(), format: z.string() }),
});
const filePart = z.looseObject({ type: z.literal('file'), file: z.looseObject({}) });
const refusalPart = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });
const contentPart = z.discriminatedUnion('type', [textPart, imagePart, audioPart, filePart, refusalPart]);

const content = z.union([z.string(), z.array(contentPart)]);

const toolCall = z.looseObject({
  id: z.string(),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

const message = z.discriminatedUnion(
  'role',
  [
    z.looseObject({ role: z.literal('system'), content }),
    z.looseObject({ role: z.literal('developer'), content }),
    z.looseObject({ role: z.literal('user'), content }),
    z.looseObject({
      role: z.literal('assistant'),
      content: content.nullable().optional(),
      tool_calls: z.array(toolCall).optional(),
      refusal: z.string().nullable().optional(),
    }),
    z.looseObject({ role: z.literal('tool'), content, tool_call_id: z.string().min(1) }),
    z.looseObject({ role: z.literal('function'), content: z.string().nullable(), name: z.string() }),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? 'must be one of "system", "developer", "user", "assistant", "tool" or "function"' : undefined) },
);

const tool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string().min(1) }) }),
]);

const responseFormat = z.union([
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    json_schema: z.looseObject({
      name: z.string().min(1),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);

const positiveInt = z.number().int().min(1);

export const chatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: positiveInt.nullable().optional(),
  max_completion_tokens: positiveInt.nullable().optional(),
  n: z.number().int().min(1).max(128).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullable().optional(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: responseFormat.optional(),
  user: z.string().optional(),
  reasoning_effort: z.string().nullable().optional(),
});

export type ChatRequestBody = z.infer<typeof chatRequestSchema>;
export type ChatMessage = z.infer<typeof message>;
export type ChatContentPart = z.infer<typeof contentPart>;

export const embeddingRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int()).min(1)).min(1),
  ]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: positiveInt.optional(),
  user: z.string().optional(),
});

export type EmbeddingRequestBody = z.infer<typeof embeddingRequestSchema>;

/** Format a zod path as OpenAI's `param`: messages[0].content. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** Parse a body with a schema, turning the first issue into a 400 that names the field. */
export function validateBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_value', 'The request body must be a JSON object.', { param: null });
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = pickIssue(result.error.issues);
  const param = formatPath(issue.path);
  const where = param === '' ? 'request body' : `'${param}'`;
  const message = issue.code === 'invalid_type' && describeReceived(body, issue.path) === 'undefined'
    ? `Missing required field ${where}.`
    : `Invalid value for ${where}: ${issue.message}.`;
  throw new GatewayError('invalid_value', message, { param: param || null });
}

/** Prefer the deepest issue of a union, which names the field a person has to fix. */
function pickIssue(issues: z.core.$ZodIssue[]): z.core.$ZodIssue {
  let best = issues[0]!;
  for (const issue of issues) {
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const nested = issue.errors.flat();
      if (nested.length > 0) {
        const inner = pickIssue(nested.map((n) => ({ ...n, path: [...issue.path, ...n.path] })));
        if (inner.path.length > best.path.length || best === issue) best = inner;
      }
    } else if (issue.path.length > best.path.length) {
      best = issue;
    }
  }
  return best;
}

function describeReceived(body: unknown, path: ReadonlyArray<PropertyKey>): string {
  let value: unknown = body;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return 'undefined';
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value === undefined ? 'undefined' : typeof value;
}
