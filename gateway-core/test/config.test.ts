import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, buildConfig, loadConfigFile } from '../src/config/load';
import { createEnvSecretStore } from '../src/config/secrets';

const sample = join(import.meta.dirname, 'fixtures', 'litellm-sample.yaml');

function build(raw: unknown, env: NodeJS.ProcessEnv = {}) {
  return buildConfig(raw, createEnvSecretStore(env), { dataDir: '/tmp/airlock-config-test' });
}

describe('LiteLLM sample config', () => {
  const config = loadConfigFile(sample, createEnvSecretStore({ OPENAI_API_KEY: 'sk-a' }));

  it('loads every deployment with its provider kind', () => {
    expect(config.deployments.map((d) => [d.alias, d.kind, d.model])).toEqual([
      ['gpt-4o', 'openai', 'gpt-4o'],
      ['claude-3.5-sonnet', 'anthropic', 'claude-3-5-sonnet-20240620'],
      ['local-coder', 'ollama', 'qwen2.5-coder:32b'],
    ]);
  });

  it('uses the litellm_settings master key', () => {
    expect(config.masterKey).toBe('sk-litellm-master-key');
  });

  it('warns once for each key it does not act on', () => {
    expect(config.warnings.filter((w) => w.includes("'litellm_settings.success_callback'"))).toHaveLength(1);
  });

  it('maps the LiteLLM cache onto the local cache', () => {
    expect(config.cache.enabled).toBe(true);
    expect(config.warnings.filter((w) => w.includes("cache_params.type 'redis' is served by the local SQLite cache"))).toHaveLength(1);
  });

  it('does not warn about router settings it acts on', () => {
    expect(config.warnings.some((w) => w.includes('router_settings'))).toBe(false);
  });

  it('reads the routing strategy and fallbacks', () => {
    expect(config.router.strategy).toBe('usage-based-routing');
    expect(config.router.fallbacks.get('gpt-4o')).toEqual(['claude-3.5-sonnet', 'local-coder']);
  });

  it('warns about an unset environment reference', () => {
    expect(config.warnings.some((w) => w.includes('os.environ/ANTHROPIC_API_KEY is not set'))).toBe(true);
    expect(config.warnings.some((w) => w.includes('os.environ/OPENAI_API_KEY'))).toBe(false);
  });

  it('fails the first call for an unset key with a clear error', () => {
    const claude = config.deployments[1]!;
    expect(() => claude.apiKey!.read()).toThrow(/os\.environ\/ANTHROPIC_API_KEY is not set/);
  });

  it('prices cloud models from the table and local models at zero', () => {
    expect(config.deployments[0]!.modelInfo).toMatchObject({ pricing: 'priced', prices: { input: 2.5, output: 10, cachedInput: 1.25 } });
    expect(config.deployments[1]!.modelInfo.prices).toMatchObject({ input: 3, cacheWrite5m: 3.75, cacheWrite1h: 6, cachedInput: 0.3 });
    expect(config.deployments[2]!.modelInfo).toMatchObject({ pricing: 'free', prices: { input: 0, output: 0 } });
    expect(config.deployments[2]!.destination).toBe('local');
    expect(config.deployments[0]!.destination).toBe('cloud');
  });
});

describe('config values', () => {
  it('prefers general_settings.master_key over litellm_settings', () => {
    const config = build({ general_settings: { master_key: 'sk-general' }, litellm_settings: { master_key: 'sk-litellm' } });
    expect(config.masterKey).toBe('sk-general');
  });

  it('converts LiteLLM per-token prices to per-million prices', () => {
    const config = build({
      model_list: [
        {
          model_name: 'custom',
          litellm_params: { model: 'openai/custom', api_base: 'http://127.0.0.1:9/v1', input_cost_per_token: 0.000001, output_cost_per_token: 0.000003 },
          model_info: { cache_read_input_token_cost: 1e-7 },
        },
      ],
    });
    expect(config.deployments[0]!.modelInfo.prices).toMatchObject({ input: 1, output: 3, cachedInput: 0.1 });
    expect(config.deployments[0]!.modelInfo.pricing).toBe('priced');
  });

  it('warns about a model with no known price', () => {
    const config = build({ model_list: [{ model_name: 'x', litellm_params: { model: 'openai/unknown-model', api_base: 'http://127.0.0.1:9/v1' } }] });
    expect(config.deployments[0]!.modelInfo.pricing).toBe('unknown');
    expect(config.warnings.some((w) => w.includes("no price is known for 'unknown-model'"))).toBe(true);
  });

  it('keeps every deployment of a shared model_name', () => {
    const config = build({
      model_list: [
        { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_key: 'a' } },
        { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_key: 'b', api_base: 'http://127.0.0.1:9/v1' } },
      ],
    });
    expect(config.aliases.get('gpt-4o')).toHaveLength(2);
  });

  it('lets a deployment declare itself local', () => {
    const config = build({
      model_list: [{ model_name: 'vllm', litellm_params: { model: 'hosted_vllm/llama', api_base: 'http://127.0.0.1:8000/v1' }, model_info: { destination: 'local' } }],
    });
    expect(config.deployments[0]!.destination).toBe('local');
    expect(config.deployments[0]!.modelInfo.pricing).toBe('free');
  });

  it('reads timeouts in seconds', () => {
    const config = build({
      litellm_settings: { request_timeout: 30 },
      model_list: [
        { model_name: 'a', litellm_params: { model: 'ollama/a' } },
        { model_name: 'b', litellm_params: { model: 'ollama/b', timeout: 5 } },
      ],
    });
    expect(config.deployments.map((d) => d.timeoutMs)).toEqual([30_000, 5_000]);
    expect(config.deployments[0]!.apiBase).toBe('http://127.0.0.1:11434');
  });

  it('maps LiteLLM semantic cache types and mode', () => {
    const semantic = build({ litellm_settings: { cache: true, cache_params: { type: 'redis-semantic', similarity_threshold: 0.8 } } });
    expect(semantic.cache.enabled).toBe(true);
    expect(semantic.cache.semantic.enabled).toBe(true);
    expect(semantic.warnings).toContain(
      "litellm_settings.cache_params.type 'redis-semantic' is served by the local SQLite cache and its semantic tier; its similarity_threshold 0.8 is not used, because it was set for another embedder",
    );
    expect(build({ litellm_settings: { cache: true, cache_params: { mode: 'default_off' } } }).cache.optIn).toBe(true);
    expect(build({ airlock: { cache: { enabled: true, opt_in: true } } }).cache.optIn).toBe(true);
    const unknownMode = build({ litellm_settings: { cache: true, cache_params: { mode: 'sometimes' } } });
    expect(unknownMode.cache.optIn).toBe(false);
    expect(unknownMode.warnings).toContain('litellm_settings.cache_params.mode "sometimes" is not supported; use default_on or default_off');
  });

  it('reports LiteLLM cache params it does not use', () => {
    const built = build({ litellm_settings: { cache: true, cache_params: { type: 'redis', namespace: 'myns', supported_call_types: ['acompletion'] } } });
    expect(built.warnings).toContain('litellm_settings.cache_params namespace, supported_call_types are not used: this gateway keeps its cache in local SQLite');
    const overridden = build({ litellm_settings: { cache: true }, airlock: { cache: { enabled: false } } });
    expect(overridden.cache.enabled).toBe(false);
    expect(overridden.warnings).toContain('litellm_settings.cache is true, but airlock.cache.enabled false turns the cache off');
  });

  it('reads airlock.cache.store_redacted', () => {
    expect(build({}).cache.storeRedacted).toBe(false);
    expect(build({ airlock: { cache: { enabled: true } } }).cache.storeRedacted).toBe(false);
    expect(build({ airlock: { cache: { enabled: true, store_redacted: true } } }).cache.storeRedacted).toBe(true);
  });
});

describe('LiteLLM cache keys', () => {
  const typeWarning = "cache_params.type 'redis' is served by the local SQLite cache";

  it.each([
    ['a negative ttl', -5, 'litellm_settings.cache_params.ttl is -5: expected a positive number of seconds, at most 31536000'],
    ['a zero ttl', 0, 'litellm_settings.cache_params.ttl is 0: expected a positive number of seconds'],
    ['a ttl over one year', 40_000_000, 'litellm_settings.cache_params.ttl is 40000000: expected a positive number of seconds'],
    ['a ttl written as text', '600', 'litellm_settings.cache_params.ttl is "600": expected a positive number of seconds written without quotes'],
  ])('warns about %s and keeps the default', (_name, ttl, message) => {
    const config = build({ litellm_settings: { cache: true, cache_params: { ttl } } });
    expect(config.cache.ttlSeconds).toBe(300);
    const warning = config.warnings.find((w) => w.startsWith('litellm_settings.cache_params.ttl'));
    expect(warning).toContain(message);
    expect(warning).toContain('it is ignored, so entries are served for 300 seconds');
  });

  it('names the ttl that airlock.cache sets', () => {
    const config = build({ litellm_settings: { cache: true, cache_params: { ttl: -5 } }, airlock: { cache: { ttl_seconds: 90 } } });
    expect(config.cache.ttlSeconds).toBe(90);
    expect(config.warnings.find((w) => w.startsWith('litellm_settings.cache_params.ttl'))).toContain('entries are served for 90 seconds');
  });

  it('reads a valid ttl without a warning', () => {
    const config = build({ litellm_settings: { cache: true, cache_params: { ttl: 600 } } });
    expect(config.cache.ttlSeconds).toBe(600);
    expect(config.warnings.some((w) => w.includes('cache_params.ttl'))).toBe(false);
  });

  it('accepts fractional airlock.cache.ttl_seconds', () => {
    expect(build({ airlock: { cache: { enabled: true, ttl_seconds: 1.5 } } }).cache.ttlSeconds).toBe(1.5);
    expect(build({ litellm_settings: { cache: true, cache_params: { ttl: 1.5 } } }).cache.ttlSeconds).toBe(1.5);
  });

  it('keeps the cache off for cache "true"', () => {
    const config = build({ litellm_settings: { cache: 'true' } });
    expect(config.cache.enabled).toBe(false);
    expect(config.warnings).toContain(
      'litellm_settings.cache is "true", not the boolean true, so the cache stays off; write cache: true without quotes to turn it on',
    );
  });

  it.each([
    ['the number 1', 1, 'litellm_settings.cache is 1, not the boolean true'],
    ['null', null, 'litellm_settings.cache is null, not the boolean true'],
  ])('warns about cache as %s', (_name, cache, message) => {
    const config = build({ litellm_settings: { cache } });
    expect(config.cache.enabled).toBe(false);
    expect(config.warnings.some((w) => w.startsWith(message))).toBe(true);
  });

  it('says airlock.cache.enabled turns the cache on', () => {
    const config = build({ litellm_settings: { cache: 'yes' }, airlock: { cache: { enabled: true } } });
    expect(config.cache.enabled).toBe(true);
    const warning = config.warnings.find((w) => w.startsWith('litellm_settings.cache is'));
    expect(warning).toContain('"yes", not a boolean, so it is ignored');
    expect(warning).toContain('the cache is on because airlock.cache.enabled is true');
  });

  it('does not warn about cache: false', () => {
    const config = build({ litellm_settings: { cache: false } });
    expect(config.cache.enabled).toBe(false);
    expect(config.warnings.some((w) => w.includes('litellm_settings.cache'))).toBe(false);
  });

  it.each([
    ['cache false', { litellm_settings: { cache: false, cache_params: { type: 'redis' } } }],
    ['cache absent', { litellm_settings: { cache_params: { type: 'redis' } } }],
    ['cache "true"', { litellm_settings: { cache: 'true', cache_params: { type: 'redis' } } }],
    ['airlock.cache.enabled false', { litellm_settings: { cache: true, cache_params: { type: 'redis' } }, airlock: { cache: { enabled: false } } }],
  ])('skips type warnings with %s', (_name, raw) => {
    const config = build(raw);
    expect(config.cache.enabled).toBe(false);
    expect(config.warnings.some((w) => w.includes('cache_params.type'))).toBe(false);
  });

  it.each([
    ['litellm_settings.cache true', { litellm_settings: { cache: true, cache_params: { type: 'redis' } } }],
    ['airlock.cache.enabled true', { litellm_settings: { cache_params: { type: 'redis' } }, airlock: { cache: { enabled: true } } }],
  ])('warns about the type with %s', (_name, raw) => {
    const config = build(raw);
    expect(config.cache.enabled).toBe(true);
    expect(config.warnings.filter((w) => w.includes(typeWarning))).toHaveLength(1);
  });

  it('skips an unsupported type warning when off', () => {
    expect(build({ litellm_settings: { cache_params: { type: 's3' } } }).warnings.some((w) => w.includes("type 's3'"))).toBe(false);
    expect(build({ litellm_settings: { cache: true, cache_params: { type: 's3' } } }).warnings).toContain(
      "litellm_settings.cache_params.type 's3' is not supported; responses are cached in the local SQLite cache instead",
    );
  });

  it('warns about cache_params that is not a mapping', () => {
    const config = build({ litellm_settings: { cache: true, cache_params: 'redis' } });
    expect(config.cache.enabled).toBe(true);
    expect(config.warnings).toContain('litellm_settings.cache_params is "redis": expected a mapping such as {type: local, ttl: 600}, so it is ignored');
  });
});

describe('invalid config', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['unknown provider', { model_list: [{ model_name: 'x', litellm_params: { model: 'bedrock/claude' } }] }, /model_list\[0\]\.litellm_params\.model: provider 'bedrock'.*openai\//],
    ['model without provider', { model_list: [{ model_name: 'x', litellm_params: { model: 'my-model' } }] }, /model_list\[0\]\.litellm_params\.model: "my-model" does not name a provider/],
    ['missing model_name', { model_list: [{ litellm_params: { model: 'openai/gpt-4o' } }] }, /model_list\[0\]\.model_name is required but missing/],
    ['bad api_base', { model_list: [{ model_name: 'x', litellm_params: { model: 'openai/x', api_base: 'not a url' } }] }, /model_list\[0\]\.litellm_params\.api_base is "not a url"/],
    ['bad port', { airlock: { port: 70000 } }, /airlock\.port is 70000/],
    ['bad timeout', { model_list: [{ model_name: 'x', litellm_params: { model: 'openai/x', timeout: 'soon' } }] }, /timeout is "soon": must be a positive number of seconds/],
    ['typo in the airlock section', { airlock: { alowed_origins: [] } }, /airlock has unknown key\(s\) 'alowed_origins'/],
    ['origin with a path', { airlock: { allowed_origins: ['localhost:5173'] } }, /allowed_origins\[0\] is "localhost:5173": must be an origin/],
    ['ftp api_base', { model_list: [{ model_name: 'x', litellm_params: { model: 'openai/x', api_base: 'ftp://h/v1' } }] }, /api_base is "ftp:\/\/h\/v1": must be an http/],
    ['not a mapping', ['a'], /must be a YAML mapping/],
    ['store_redacted that is not a boolean', { airlock: { cache: { store_redacted: 'yes' } } }, /airlock\.cache\.store_redacted is "yes": .*expected boolean/],
    [
      'fallback to an unknown model',
      { model_list: [{ model_name: 'a', litellm_params: { model: 'ollama/a' } }], router_settings: { fallbacks: [{ a: ['b'] }] } },
      /router_settings\.fallbacks\[0\] names "b", which is not a model_name/,
    ],
  ];
  for (const [name, raw, message] of cases) {
    it(`rejects ${name}`, () => {
      expect(() => build(raw)).toThrow(ConfigError);
      expect(() => build(raw)).toThrow(message);
    });
  }

  it('reports YAML syntax errors with the file name', () => {
    expect(() => loadConfigFile(join(import.meta.dirname, 'fixtures', 'missing.yaml'), createEnvSecretStore({}))).toThrow(/cannot read config file/);
  });
});
