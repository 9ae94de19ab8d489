import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ZodArray, ZodObject, ZodOptional, type z } from 'zod';
import { buildCacheSettings, type CacheSettings } from '../cache/settings';
import type { GovernanceConfig } from '../governance/config-schema';
import { createOrganizationDetector } from '../guard/detectors/organization';
import { builtInDetectorTypes } from '../guard/guard';
import { buildGuardSettings, type GuardSettings, type GuardSettingsFile } from '../guard/settings';
import { findCatalogEntry, resolveModelInfo, type ModelOverrides, type ModelPrices } from '../models/table';
import type { Deployment, ProviderKind } from '../providers/types';
import { compilePolicy, pickCheapestAlias, RoutingPolicyError, type CompiledPolicy } from '../routing/policy';
import { parseRoutingStrategy } from '../routing/strategies';
import { actedKeys, configFileSchema, opaqueKeys, type ConfigFile, type ModelEntry } from './schema';
import { isSecretReference, literalSecret, secretFromReference, type SecretStore } from './secrets';

/** A configuration problem that stops start-up; the message names the key path, the value and what is allowed. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ServerSettings {
  host: string;
  port: number;
  dataDir: string;
  maxBodyBytes: number;
  allowedOrigins: string[];
  /** Host header names accepted besides loopback names. */
  allowedHosts: string[];
  logLevel: string;
}

/** router_settings, with LiteLLM's defaults where Airlock has no reason to differ. */
export interface RouterSettings {
  /** The routing_strategy name as written; the router parses and validates it. */
  strategy: string;
  numRetries: number;
  /** Shortest wait before a retry round, in milliseconds. */
  retryAfterMs: number;
  allowedFails: number;
  cooldownMs: number;
  /** model_name → model_names to try when all its deployments failed. */
  fallbacks: Map<string, string[]>;
  contextWindowFallbacks: Map<string, string[]>;
  contentPolicyFallbacks: Map<string, string[]>;
}

export interface GatewayConfig {
  server: ServerSettings;
  /** Every model_list entry, in file order. */
  deployments: Deployment[];
  /** model_name → its deployments, in file order. A name with `*` is a pattern. */
  aliases: Map<string, Deployment[]>;
  /** router_settings.model_group_alias: requested name → model_name, and whether /v1/models hides it. */
  groupAliases: Map<string, { target: string; hidden: boolean }>;
  router: RouterSettings;
  /** The policy behind the auto model, or null when no chat model is configured. */
  policy: CompiledPolicy | null;
  /** What the guard scans for and does per destination class. */
  guard: GuardSettings;
  /** airlock.governance as parsed, applied to the database at start; undefined when the file has none. */
  governance: GovernanceConfig | undefined;
  /** The response cache: airlock.cache, or LiteLLM's cache settings. */
  cache: CacheSettings;
  /** The master key (admin), when the config sets one. */
  masterKey: string | null;
  /** Start-up warnings, each naming a key; logged by the host. */
  warnings: string[];
  /** The config file that was read, or null. */
  path: string | null;
}

/** Values from the command line or environment; each wins over the file. */
export interface ConfigOverrides {
  host?: string;
  port?: number;
  dataDir?: string;
}

const defaultTimeoutSeconds = 600;
const defaultMaxBodyBytes = 32 * 1024 * 1024;

/** Provider prefixes of `litellm_params.model` and the kind each one is. */
const providerPrefixes: Record<string, ProviderKind> = {
  openai: 'openai',
  hosted_vllm: 'openai',
  lm_studio: 'openai',
  anthropic: 'anthropic',
  ollama: 'ollama',
  ollama_chat: 'ollama',
};

/** Default api_base for prefixes that name a local server. */
const defaultApiBase: Record<string, string> = {
  ollama: 'http://127.0.0.1:11434',
  ollama_chat: 'http://127.0.0.1:11434',
  lm_studio: 'http://127.0.0.1:1234/v1',
};

export function defaultDataDir(): string {
  return join(homedir(), '.airlock');
}

/** Read and validate a YAML file. Never connects to anything the file names. */
export function loadConfigFile(path: string | null, store: SecretStore, overrides: ConfigOverrides = {}): GatewayConfig {
  let raw: unknown = {};
  if (path !== null) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read config file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (error) {
      throw new ConfigError(`config file ${path} is not valid YAML: ${(error as Error).message}`);
    }
  }
  return buildConfig(raw, store, overrides, path === null ? null : resolve(path));
}

export function buildConfig(raw: unknown, store: SecretStore, overrides: ConfigOverrides = {}, path: string | null = null): GatewayConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError('the config file must be a YAML mapping with keys such as model_list');
  }
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(describeIssue(parsed.error.issues[0]!, raw));
  const file = parsed.data;
  const warnings = unactedKeyWarnings(raw as Record<string, unknown>);

  const timeoutSeconds = file.router_settings?.timeout ?? file.litellm_settings?.request_timeout ?? defaultTimeoutSeconds;
  const deployments = (file.model_list ?? []).map((entry, index) => buildDeployment(entry, index, timeoutSeconds, store, warnings));
  const aliases = new Map<string, Deployment[]>();
  for (const deployment of deployments) {
    const list = aliases.get(deployment.alias) ?? [];
    list.push(deployment);
    aliases.set(deployment.alias, list);
  }
  if (deployments.length === 0) warnings.push('model_list is empty: every model request will answer 404 until models are configured');

  const groupAliases = new Map<string, { target: string; hidden: boolean }>();
  for (const [name, value] of Object.entries(file.router_settings?.model_group_alias ?? {})) {
    const target = typeof value === 'string' ? value : value.model;
    if (!aliases.has(target)) {
      throw new ConfigError(
        `router_settings.model_group_alias.${name} is "${target}", which is not a model_name in model_list; use one of ${[...aliases.keys()].join(', ') || '(none configured)'}`,
      );
    }
    groupAliases.set(name, { target, hidden: typeof value === 'string' ? false : value.hidden === true });
  }

  const routerSettings = file.router_settings ?? {};
  const router: RouterSettings = {
    strategy: routerSettings.routing_strategy ?? 'simple-shuffle',
    numRetries: routerSettings.num_retries ?? 0,
    retryAfterMs: Math.round((routerSettings.retry_after ?? 0) * 1000),
    allowedFails: routerSettings.allowed_fails ?? 3,
    cooldownMs: Math.round((routerSettings.cooldown_time ?? 30) * 1000),
    fallbacks: fallbackMap(routerSettings.fallbacks, 'router_settings.fallbacks', aliases),
    contextWindowFallbacks: fallbackMap(routerSettings.context_window_fallbacks, 'router_settings.context_window_fallbacks', aliases),
    contentPolicyFallbacks: fallbackMap(routerSettings.content_policy_fallbacks, 'router_settings.content_policy_fallbacks', aliases),
  };

  try {
    parseRoutingStrategy(router.strategy);
  } catch (error) {
    throw new ConfigError(`router_settings.routing_strategy: ${(error as Error).message}`);
  }
  const policy = buildPolicy(file.airlock?.routing, aliases, warnings);

  const guard = buildGuard(file.airlock?.guard, aliases, warnings);

  const masterKey = resolveMasterKey(file, store, warnings);
  const airlock = file.airlock ?? {};
  const server: ServerSettings = {
    host: overrides.host ?? airlock.host ?? '127.0.0.1',
    port: overrides.port ?? airlock.port ?? 4000,
    dataDir: resolve(overrides.dataDir ?? airlock.data_dir ?? defaultDataDir()),
    maxBodyBytes: airlock.max_body_bytes ?? defaultMaxBodyBytes,
    allowedOrigins: airlock.allowed_origins ?? [],
    allowedHosts: (airlock.allowed_hosts ?? []).map((host) => host.toLowerCase()),
    logLevel: airlock.log_level ?? 'info',
  };
  let cache: CacheSettings;
  try {
    cache = buildCacheSettings(file.airlock?.cache, file.litellm_settings as { cache?: unknown; cache_params?: unknown } | undefined, warnings);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  return { server, deployments, aliases, groupAliases, router, policy, guard, governance: file.airlock?.governance, cache, masterKey, warnings, path };
}

/** Validate airlock.guard: action names, organisation rules (compiled once here) and local_model. */
function buildGuard(raw: GuardSettingsFile | undefined, aliases: Map<string, Deployment[]>, warnings: string[]): GuardSettings {
  let settings: GuardSettings;
  try {
    settings = buildGuardSettings(raw, builtInDetectorTypes());
    createOrganizationDetector(settings.rules);
  } catch (error) {
    throw new ConfigError((error as Error).message.startsWith('airlock.') ? (error as Error).message : `airlock.guard.rules: ${(error as Error).message}`);
  }
  if (settings.localModel !== null) {
    const deployments = aliases.get(settings.localModel);
    if (!deployments) {
      throw new ConfigError(
        `airlock.guard.local_model is "${settings.localModel}", which is not a model_name in model_list; use one of ${[...aliases.keys()].join(', ') || '(none configured)'}`,
      );
    }
    if (!deployments.some((deployment) => deployment.destination === 'local')) {
      warnings.push(`airlock.guard.local_model '${settings.localModel}' has no local deployment, so route_local cannot use it`);
    }
  }
  if (!settings.enabled) warnings.push('airlock.guard.enabled is false: requests are not scanned for secrets or personal data');
  return settings;
}

function buildDeployment(entry: ModelEntry, index: number, defaultTimeout: number, store: SecretStore, warnings: string[]): Deployment {
  const params = entry.litellm_params;
  const info = entry.model_info ?? {};
  const keyPath = `model_list[${index}].litellm_params`;
  const { label, model } = splitProviderModel(params.model, `${keyPath}.model`);
  const kind = providerPrefixes[label]!;
  const id = `${entry.model_name}#${index}`;
  const apiBase = resolveString(params.api_base, store, `${keyPath}.api_base`) ?? defaultApiBase[label] ?? null;
  if ((label === 'hosted_vllm') && apiBase === null) {
    throw new ConfigError(`${keyPath}.api_base is required for '${label}/' models: set it to the server's URL including /v1`);
  }

  let apiKey = null;
  if (params.api_key !== undefined) {
    if (isSecretReference(params.api_key)) {
      apiKey = secretFromReference(params.api_key, store, id);
      if (store.lookup(params.api_key) === undefined) {
        warnings.push(`${keyPath}.api_key: ${params.api_key} is not set; calls to '${id}' will fail until it is`);
      }
    } else {
      apiKey = literalSecret(params.api_key);
      warnings.push(`${keyPath}.api_key is a literal key in the config file; prefer "os.environ/NAME" or the keychain`);
    }
  } else if (kind !== 'ollama' && apiBase === null) {
    warnings.push(`${keyPath}.api_key is not set; calls to '${id}' will fail with an authentication error`);
  }

  const destination = info.destination ?? (kind === 'ollama' ? 'local' : 'cloud');
  const overrides: ModelOverrides = {
    prices: { ...pricesFrom(info), ...pricesFrom(params) },
    ...(info.max_input_tokens !== undefined ? { contextWindow: info.max_input_tokens } : {}),
    ...((info.max_output_tokens ?? info.max_tokens) !== undefined ? { maxOutputTokens: (info.max_output_tokens ?? info.max_tokens)! } : {}),
    ...(info.tier !== undefined ? { tier: info.tier } : {}),
    ...(info.mode !== undefined ? { mode: info.mode } : {}),
  };
  const modelInfo = resolveModelInfo(info.base_model ?? model, destination, overrides);
  if (modelInfo.pricing === 'unknown' && !model.includes('*')) {
    warnings.push(
      `model_list[${index}] (${entry.model_name}): no price is known for '${model}'; its requests are recorded with cost "unknown". Set input_cost_per_token and output_cost_per_token to price it`,
    );
  }
  return {
    id,
    alias: entry.model_name,
    kind,
    providerLabel: label,
    model,
    apiBase,
    apiKey,
    timeoutMs: Math.round((params.timeout ?? defaultTimeout) * 1000),
    firstByteTimeoutMs: Math.round((params.stream_timeout ?? params.timeout ?? defaultTimeout) * 1000),
    limits: { weight: params.weight ?? 1, rpm: params.rpm ?? null, tpm: params.tpm ?? null },
    destination,
    modelInfo,
  };
}

function splitProviderModel(value: string, keyPath: string): { label: string; model: string } {
  const slash = value.indexOf('/');
  if (slash > 0) {
    const label = value.slice(0, slash);
    const model = value.slice(slash + 1);
    if (label in providerPrefixes && model !== '') return { label, model };
    if (!(label in providerPrefixes)) {
      throw new ConfigError(
        `${keyPath}: provider '${label}' in "${value}" is not supported; use one of ${Object.keys(providerPrefixes).map((p) => `${p}/`).join(', ')}`,
      );
    }
  }
  const known = findCatalogEntry(value);
  if (known) return { label: known.provider, model: value };
  throw new ConfigError(
    `${keyPath}: "${value}" does not name a provider; write it as "provider/model", for example "openai/gpt-4o", "anthropic/claude-sonnet-4-5" or "ollama/llama3.1"`,
  );
}

/** Compile airlock.routing (or the default policy); without a chat model there is nothing to route to. */
function buildPolicy(raw: unknown, aliases: Map<string, Deployment[]>, warnings: string[]): CompiledPolicy | null {
  if (pickCheapestAlias(aliases) === null) {
    if (raw !== undefined) warnings.push('airlock.routing is set but model_list has no chat model, so the auto model is disabled');
    return null;
  }
  try {
    return compilePolicy(raw as Parameters<typeof compilePolicy>[0], aliases);
  } catch (error) {
    if (error instanceof RoutingPolicyError) throw new ConfigError(error.message);
    throw error;
  }
}

/** Read LiteLLM's fallback list ([{alias: [alias, …]}]); every name must be a model_name. */
function fallbackMap(
  list: Array<Record<string, string[]>> | undefined,
  keyPath: string,
  aliases: Map<string, Deployment[]>,
): Map<string, string[]> {
  const map = new Map<string, string[]>();
  (list ?? []).forEach((entry, index) => {
    for (const [from, targets] of Object.entries(entry)) {
      for (const name of [from, ...targets]) {
        if (!aliases.has(name) && !name.includes('*')) {
          throw new ConfigError(
            `${keyPath}[${index}] names "${name}", which is not a model_name in model_list; use one of ${[...aliases.keys()].join(', ') || '(none configured)'}`,
          );
        }
      }
      map.set(from, [...(map.get(from) ?? []), ...targets]);
    }
  });
  return map;
}

/** LiteLLM prices are USD per token; the model table uses USD per 1M tokens. */
function pricesFrom(source: Record<string, unknown>): ModelPrices {
  const perMillion = (key: string): number | undefined =>
    typeof source[key] === 'number' ? Math.round((source[key] as number) * 1e6 * 1e6) / 1e6 : undefined;
  const prices: ModelPrices = {};
  const input = perMillion('input_cost_per_token');
  const output = perMillion('output_cost_per_token');
  const cachedInput = perMillion('cache_read_input_token_cost');
  const cacheWrite5m = perMillion('cache_creation_input_token_cost');
  const cacheWrite1h = perMillion('cache_creation_input_token_cost_above_1hr');
  if (input !== undefined) prices.input = input;
  if (output !== undefined) prices.output = output;
  if (cachedInput !== undefined) prices.cachedInput = cachedInput;
  if (cacheWrite5m !== undefined) prices.cacheWrite5m = cacheWrite5m;
  if (cacheWrite1h !== undefined) prices.cacheWrite1h = cacheWrite1h;
  return prices;
}

function resolveString(value: string | undefined, store: SecretStore, keyPath: string): string | undefined {
  if (value === undefined || !isSecretReference(value)) return value;
  const resolved = store.lookup(value);
  if (resolved === undefined) throw new ConfigError(`${keyPath}: ${value} is not set in the environment`);
  return resolved;
}

/** general_settings.master_key wins over litellm_settings.master_key. */
function resolveMasterKey(file: ConfigFile, store: SecretStore, warnings: string[]): string | null {
  const general = file.general_settings?.master_key;
  const litellm = file.litellm_settings?.master_key;
  const chosen = general ?? litellm;
  if (chosen === undefined) return null;
  const keyPath = general !== undefined ? 'general_settings.master_key' : 'litellm_settings.master_key';
  if (general !== undefined && litellm !== undefined) {
    warnings.push('both general_settings.master_key and litellm_settings.master_key are set; general_settings.master_key is used');
  }
  if (!isSecretReference(chosen)) return chosen;
  const value = store.lookup(chosen);
  if (value === undefined) {
    warnings.push(`${keyPath}: ${chosen} is not set, so no master key is active; a generated admin key is used instead`);
    return null;
  }
  return value;
}

/** One warning for each key the gateway does not act on, named by its path. */
function unactedKeyWarnings(raw: Record<string, unknown>): string[] {
  const acted = new Set(actedKeys);
  const warnings: string[] = [];
  const visit = (value: unknown, pattern: string, path: string): void => {
    if (Array.isArray(value)) {
      if (pattern === 'model_list') value.forEach((item, i) => visit(item, `${pattern}[]`, `${path}[${i}]`));
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const childPattern = pattern === '' ? key : `${pattern}.${key}`;
      const childPath = path === '' ? key : `${path}.${key}`;
      if (!acted.has(childPattern)) {
        warnings.push(`config key '${childPath}' is not supported yet and is ignored`);
        continue;
      }
      if (!opaqueKeys.has(childPattern)) visit(child, childPattern, childPath);
    }
  };
  visit(raw, '', '');
  return warnings;
}

/** Returns the keys the schema allows at `path`, or null when the path leads through a union or an open value. */
function allowedKeysAt(path: readonly PropertyKey[]): string[] | null {
  let schema: z.ZodType = configFileSchema;
  for (const segment of [...path, null]) {
    while (schema instanceof ZodOptional) schema = schema.unwrap() as z.ZodType;
    if (segment === null) break;
    if (schema instanceof ZodArray && typeof segment === 'number') schema = schema.element as z.ZodType;
    else if (schema instanceof ZodObject && typeof segment === 'string' && segment in schema.shape) schema = schema.shape[segment] as z.ZodType;
    else return null;
  }
  return schema instanceof ZodObject ? Object.keys(schema.shape) : null;
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  let keyPath = '';
  let value: unknown = raw;
  for (const segment of issue.path) {
    keyPath += typeof segment === 'number' ? `[${segment}]` : keyPath === '' ? String(segment) : `.${String(segment)}`;
    value = typeof value === 'object' && value !== null ? (value as Record<PropertyKey, unknown>)[segment] : undefined;
  }
  if (value === undefined && issue.code === 'invalid_type') return `invalid config: ${keyPath} is required but missing`;
  if (issue.code === 'unrecognized_keys') {
    const where = keyPath === '' ? 'the top level' : keyPath;
    const allowed = allowedKeysAt(issue.path);
    const fix = allowed === null ? "check the spelling against the README's configuration reference" : `allowed keys: ${allowed.join(', ')}`;
    return `invalid config: ${where} has unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}; ${fix}`;
  }
  return `invalid config: ${keyPath || '(top level)'} is ${JSON.stringify(value)}: ${issue.message}`;
}
