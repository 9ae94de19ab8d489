import { z } from 'zod';
import { cacheSettingsSchema } from '../cache/settings';
import { governanceSchema } from '../governance/config-schema';
import { guardSettingsSchema } from '../guard/settings';

/**
 * The YAML configuration. LiteLLM's proxy layout (model_list, router_settings,
 * litellm_settings, general_settings) loads unchanged; Airlock's own settings sit under `airlock`.
 * Objects are loose so that keys the gateway does not act on yet reach the warning pass
 * instead of failing validation.
 */

const seconds = z.union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?$/).transform(Number)], {
  error: 'must be a positive number of seconds, such as 30',
});
const perToken = z.number().nonnegative();

const costFields = {
  input_cost_per_token: perToken.optional(),
  output_cost_per_token: perToken.optional(),
  cache_read_input_token_cost: perToken.optional(),
  cache_creation_input_token_cost: perToken.optional(),
  cache_creation_input_token_cost_above_1hr: perToken.optional(),
};

export const litellmParamsSchema = z.looseObject({
  model: z.string().min(1, 'must name the provider model, for example "openai/gpt-4o"'),
  api_key: z.string().optional(),
  api_base: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL such as http://127.0.0.1:11434')
    .optional(),
  timeout: seconds.optional(),
  /** Time allowed until a stream's first event, in seconds; default the whole timeout. */
  stream_timeout: seconds.optional(),
  /** Relative weight for the simple-shuffle strategy; default 1. */
  weight: z.number().positive().optional(),
  /** Requests and tokens per minute this deployment may take; default unlimited. */
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
  ...costFields,
});

export const modelInfoSchema = z.looseObject({
  id: z.string().optional(),
  mode: z.enum(['chat', 'embedding']).optional(),
  base_model: z.string().optional(),
  max_tokens: z.number().int().positive().optional(),
  max_output_tokens: z.number().int().positive().optional(),
  max_input_tokens: z.number().int().positive().optional(),
  /** 1 (cheapest) to 4 (strongest). */
  tier: z.number().int().min(1).max(4).optional(),
  /** Overrides the destination class that follows from the provider kind. */
  destination: z.enum(['local', 'cloud']).optional(),
  ...costFields,
});

export const modelEntrySchema = z.looseObject({
  model_name: z.string().min(1),
  litellm_params: litellmParamsSchema,
  model_info: modelInfoSchema.optional(),
});

/** LiteLLM's fallback layout: a list of single-key maps, model_name → model_names to try next. */
const fallbackList = z.array(z.record(z.string(), z.array(z.string().min(1))));

/** Airlock's own section is strict: a typo here is an error, not an ignored key. */
export const airlockSettingsSchema = z.strictObject({
  /** Listen address; anything but loopback logs a warning. Default 127.0.0.1. */
  host: z.string().min(1).optional(),
  /** Listen port; default 4000, 0 picks a free one. */
  port: z.number().int().min(0).max(65535).optional(),
  /** Data folder for the SQLite database; default ~/.airlock. */
  data_dir: z.string().min(1).optional(),
  /** Largest accepted request body in bytes; default 32 MiB. */
  max_body_bytes: z.number().int().positive().optional(),
  /** Browser origins allowed to call the gateway (CORS), such as http://localhost:5173. */
  allowed_origins: z
    .array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin such as http://localhost:5173 (scheme, host and optional port, no path)'))
    .optional(),
  /** Host header names accepted besides loopback names, for a gateway bound to another address. */
  allowed_hosts: z.array(z.string().regex(/^[A-Za-z0-9.\-\[\]:]+$/, 'must be a host name or address without a port')).optional(),
  /** pino level: fatal, error, warn, info, debug, trace. Default info. */
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  /** The routing policy behind the `auto` model; validated by routing/policy-schema.ts. */
  routing: z.unknown().optional(),
  /** Guard actions per destination class, organisation rules and detector settings. */
  guard: guardSettingsSchema.optional(),
  /** Organisation, teams, users and budgets. */
  governance: governanceSchema.optional(),
  /** The response cache. */
  cache: cacheSettingsSchema.optional(),
});

export const configFileSchema = z.looseObject({
  model_list: z.array(modelEntrySchema).optional(),
  router_settings: z
    .looseObject({
      /** LiteLLM's strategy names (simple-shuffle, least-busy, latency-based-routing, usage-based-routing, cost-based-routing). */
      routing_strategy: z.string().min(1).optional(),
      /** How many more rounds over an alias's deployments after the first round failed; default 0, because the official SDKs retry on their own. */
      num_retries: z.number().int().min(0).max(10).optional(),
      /** Shortest wait before a retry round, in seconds; default 0 (the backoff decides). */
      retry_after: z.number().min(0).optional(),
      /** Failures within a minute that put a deployment into cooldown; default 3. */
      allowed_fails: z.number().int().min(1).optional(),
      /** Cooldown length in seconds; default 30. */
      cooldown_time: z.number().positive().optional(),
      /** Default per-call timeout in seconds, like litellm_settings.request_timeout. */
      timeout: seconds.optional(),
      fallbacks: fallbackList.optional(),
      context_window_fallbacks: fallbackList.optional(),
      content_policy_fallbacks: fallbackList.optional(),
      /** Requested model name → configured model_name; a value may also be { model, hidden }. */
      model_group_alias: z
        .record(z.string(), z.union([z.string().min(1), z.looseObject({ model: z.string().min(1), hidden: z.boolean().optional() })]))
        .optional(),
    })
    .optional(),
  litellm_settings: z
    .looseObject({
      master_key: z.string().min(1).optional(),
      /** Default per-call timeout in seconds for deployments that set none. */
      request_timeout: seconds.optional(),
    })
    .optional(),
  general_settings: z.looseObject({ master_key: z.string().min(1).optional() }).optional(),
  airlock: airlockSettingsSchema.optional(),
});

export type ConfigFile = z.infer<typeof configFileSchema>;
export type ModelEntry = z.infer<typeof modelEntrySchema>;

/**
 * Keys the gateway acts on. Every other key in the file produces one start-up warning that names
 * it, so a LiteLLM setting that Airlock ignores is never ignored silently.
 */
export const actedKeys: ReadonlyArray<string> = [
  'model_list',
  'model_list[].model_name',
  'model_list[].litellm_params',
  'model_list[].litellm_params.model',
  'model_list[].litellm_params.api_key',
  'model_list[].litellm_params.api_base',
  'model_list[].litellm_params.timeout',
  'model_list[].litellm_params.stream_timeout',
  'model_list[].litellm_params.weight',
  'model_list[].litellm_params.rpm',
  'model_list[].litellm_params.tpm',
  'model_list[].litellm_params.input_cost_per_token',
  'model_list[].litellm_params.output_cost_per_token',
  'model_list[].litellm_params.cache_read_input_token_cost',
  'model_list[].litellm_params.cache_creation_input_token_cost',
  'model_list[].litellm_params.cache_creation_input_token_cost_above_1hr',
  'model_list[].model_info',
  'model_list[].model_info.id',
  'model_list[].model_info.mode',
  'model_list[].model_info.base_model',
  'model_list[].model_info.max_tokens',
  'model_list[].model_info.max_output_tokens',
  'model_list[].model_info.max_input_tokens',
  'model_list[].model_info.tier',
  'model_list[].model_info.destination',
  'model_list[].model_info.input_cost_per_token',
  'model_list[].model_info.output_cost_per_token',
  'model_list[].model_info.cache_read_input_token_cost',
  'model_list[].model_info.cache_creation_input_token_cost',
  'model_list[].model_info.cache_creation_input_token_cost_above_1hr',
  'router_settings',
  'router_settings.model_group_alias',
  'router_settings.routing_strategy',
  'router_settings.num_retries',
  'router_settings.retry_after',
  'router_settings.allowed_fails',
  'router_settings.cooldown_time',
  'router_settings.timeout',
  'router_settings.fallbacks',
  'router_settings.context_window_fallbacks',
  'router_settings.content_policy_fallbacks',
  'litellm_settings',
  'litellm_settings.master_key',
  'litellm_settings.request_timeout',
  'general_settings',
  'general_settings.master_key',
  'airlock',
  'airlock.host',
  'airlock.port',
  'airlock.data_dir',
  'airlock.max_body_bytes',
  'airlock.allowed_origins',
  'airlock.allowed_hosts',
  'airlock.log_level',
  'airlock.routing',
  'airlock.guard',
  'airlock.governance',
  'airlock.cache',
  'litellm_settings.cache',
  'litellm_settings.cache_params',
];

/** Acted keys whose children are names or values, not settings, so the warning pass stops there. */
export const opaqueKeys: ReadonlySet<string> = new Set([
  'router_settings.model_group_alias',
  'router_settings.fallbacks',
  'router_settings.context_window_fallbacks',
  'router_settings.content_policy_fallbacks',
  'airlock.routing',
  'airlock.guard',
  'airlock.governance',
  'airlock.cache',
  'litellm_settings.cache_params',
  'airlock.allowed_origins',
  'airlock.allowed_hosts',
]);
