import { describe, expect, it } from 'vitest';
import { ConfigError, buildConfig } from '../src/config/load';
import { createEnvSecretStore } from '../src/config/secrets';
import { actionFor, DEFAULT_ACTIONS } from '../src/guard/settings';

const models = [
  { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_key: 'sk-test' } },
  { model_name: 'llama', litellm_params: { model: 'ollama/llama3.2' } },
];

function build(guard: unknown) {
  return buildConfig({ model_list: models, airlock: { guard } }, createEnvSecretStore({}), { dataDir: '/tmp/airlock-guard-config-test' });
}

function errorOf(guard: unknown): string {
  try {
    build(guard);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('guard config', () => {
  it('defaults block secrets and redact personal data for cloud', () => {
    const settings = build(undefined).guard;
    expect(settings.enabled).toBe(true);
    expect(actionFor(settings, { type: 'postgres_uri', category: 'secret' }, 'cloud')).toBe('block');
    expect(actionFor(settings, { type: 'email', category: 'personal' }, 'cloud')).toBe('redact');
    expect(actionFor(settings, { type: 'postgres_uri', category: 'secret' }, 'local')).toBe('allow');
    expect(actionFor(settings, { type: 'email', category: 'personal' }, 'local')).toBe('allow');
    expect(DEFAULT_ACTIONS.organization.cloud).toBe('redact');
  });

  it('type entry wins over category entry', () => {
    const settings = build({ actions: { personal: { cloud: 'block' }, email: { cloud: 'allow' } } }).guard;
    expect(actionFor(settings, { type: 'email', category: 'personal' }, 'cloud')).toBe('allow');
    expect(actionFor(settings, { type: 'phone_number', category: 'personal' }, 'cloud')).toBe('block');
    // A destination the entry leaves out falls back to the default.
    expect(actionFor(settings, { type: 'phone_number', category: 'personal' }, 'local')).toBe('allow');
  });

  it('rejects an unknown action name', () => {
    const message = errorOf({ actions: { emails: { cloud: 'allow' } } });
    expect(message).toContain('airlock.guard.actions.emails');
    expect(message).toContain('email');
  });

  it('rejects route_local for local destinations', () => {
    expect(errorOf({ actions: { secret: { local: 'route_local' } } })).toContain('route_local applies to cloud destinations only');
  });

  it('rejects an unknown action value', () => {
    expect(errorOf({ actions: { secret: { cloud: 'drop' } } })).toContain('airlock.guard.actions.secret.cloud');
  });

  it('rejects an invalid rule regex', () => {
    const message = errorOf({ rules: [{ name: 'ticket', regex: 'TICKET-(' }] });
    expect(message).toContain('ticket');
  });

  it('rejects a rule named like a detector', () => {
    expect(errorOf({ rules: [{ name: 'email', words: ['x'] }] })).toContain("airlock.guard.rules[0].name: 'email' is already used");
  });

  it('rejects an unknown local_model', () => {
    expect(errorOf({ local_model: 'mistral' })).toContain('airlock.guard.local_model is "mistral"');
  });

  it('warns about a cloud local_model', () => {
    const config = build({ local_model: 'gpt-4o' });
    expect(config.warnings.join('\n')).toContain("local_model 'gpt-4o' has no local deployment");
  });

  it('rejects an unknown disabled detector', () => {
    expect(errorOf({ disabled_detectors: ['phone'] })).toContain("unknown detector type 'phone'");
  });

  it('rejects unknown guard keys', () => {
    const message = errorOf({ actoins: {} });
    expect(message).toContain("airlock.guard has unknown key(s) 'actoins'");
    expect(message).toContain('allowed keys: enabled, actions, local_model');
  });

  it('rejects a rule with both regex and words', () => {
    expect(errorOf({ rules: [{ name: 'x', regex: 'a', words: ['b'] }] })).toContain('either regex (with optional flags) or words, not both');
  });

  it('rejects a misspelt rule key', () => {
    expect(errorOf({ rules: [{ name: 'x', regexp: 'a' }] })).toContain('airlock.guard.rules[0]');
  });

  it('warns when disabled', () => {
    expect(build({ enabled: false }).warnings.join('\n')).toContain('not scanned');
  });
});
