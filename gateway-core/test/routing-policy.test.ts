import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { resolveModelInfo, type DestinationClass, type ModelOverrides } from '../src/models/table';
import type { Deployment } from '../src/providers/types';
import {
  compilePolicy,
  defaultRules,
  parseRoutingPolicy,
  pickCheapestAlias,
  pickStrongestAlias,
  RoutingPolicyError,
  type RoutingPolicyInput,
  type RoutingRuleConfig,
} from '../src/routing/policy';
import type { RoutingInput } from '../src/routing/types';

function deployment(alias: string, model: string, destination: DestinationClass = 'cloud', overrides: ModelOverrides = {}, index = 0): Deployment {
  return {
    id: `${alias}#${index}`,
    alias,
    kind: destination === 'local' ? 'ollama' : 'openai',
    providerLabel: destination === 'local' ? 'ollama_chat' : 'openai',
    model,
    apiBase: destination === 'local' ? 'http://127.0.0.1:11434' : null,
    apiKey: null,
    timeoutMs: 600_000,
    destination,
    modelInfo: resolveModelInfo(model, destination, overrides),
  };
}

function aliasMap(...deployments: Deployment[]): Map<string, Deployment[]> {
  const map = new Map<string, Deployment[]>();
  for (const item of deployments) map.set(item.alias, [...(map.get(item.alias) ?? []), item]);
  return map;
}

/** gpt-4o (tier 3, $10 output), gpt-4o-mini (tier 1, $0.60), a free local model, an embedding model. */
const workstation = aliasMap(
  deployment('gpt-4o', 'gpt-4o'),
  deployment('gpt-4o-mini', 'gpt-4o-mini'),
  deployment('local-coder', 'qwen2.5-coder:32b', 'local'),
  deployment('embed', 'text-embedding-3-small'),
);

function request(fields: Partial<RoutingInput> = {}): RoutingInput {
  return {
    systemText: '',
    lastUserText: '',
    promptTokens: 1_000,
    hasImages: false,
    hasTools: false,
    principal: { keyId: 'key-1', userId: null, teamId: null },
    client: null,
    now: new Date('2025-06-04T03:00:00Z'),
    ...fields,
  };
}

/** Compiles a policy whose one rule routes to gpt-4o. Unmatched requests go to the cheapest alias. */
function oneRule(when: RoutingRuleConfig['when'], extra: Partial<RoutingPolicyInput> = {}) {
  return compilePolicy({ ...extra, rules: [{ name: 'test', when, route: 'gpt-4o' }] }, workstation);
}

function matches(when: RoutingRuleConfig['when'], fields: Partial<RoutingInput>, extra: Partial<RoutingPolicyInput> = {}): boolean {
  return oneRule(when, extra).decide(request(fields)).rule === 'test';
}

function configError(config: unknown, aliases = workstation): string {
  try {
    compilePolicy(config as RoutingPolicyInput, aliases);
  } catch (error) {
    expect(error).toBeInstanceOf(RoutingPolicyError);
    return (error as Error).message;
  }
  throw new Error('expected compilePolicy to throw');
}

describe('routing policy config', () => {
  it('fills in defaults for a missing section', () => {
    const policy = parseRoutingPolicy(undefined);
    expect(policy.auto_model).toBe('auto');
    expect(policy.rules).toBeUndefined();
  });

  it('loads the documented YAML example', () => {
    const yaml = `
airlock:
  routing:
    auto_model: auto
    strongest: gpt-4o
    cheapest: local-coder
    default: gpt-4o-mini
    time_zone: Asia/Ho_Chi_Minh
    rules:
      - name: long-context
        when: { min_prompt_tokens: 32000 }
        route: strongest
      - name: architecture
        when:
          keywords: [architecture, design, trade-off]
          regex: "(?i)\\\\bmicro-?services?\\\\b"
          in: last_user
          max_prompt_tokens: 2000
          has_images: false
          has_tools: false
          users: [alice]
          teams: [backend]
          clients: [cline, claude-code]
          hours: "09:00-18:00"
          weekdays: [mon, tue, wed, thu, fri]
        route: strongest
`;
    const section = (parseYaml(yaml) as { airlock: { routing: RoutingPolicyInput } }).airlock.routing;
    const policy = compilePolicy(section, workstation);
    expect(policy.rules).toEqual([
      { name: 'long-context', alias: 'gpt-4o' },
      { name: 'architecture', alias: 'gpt-4o' },
    ]);
    expect(policy.defaultAlias).toBe('gpt-4o-mini');

    // Wednesday 10:00 in Ho Chi Minh City (UTC+7).
    const decision = policy.decide(
      request({
        lastUserText: 'Should we split this into MicroServices? What is the design trade-off?',
        promptTokens: 900,
        principal: { keyId: 'k', userId: 'alice', teamId: 'backend' },
        client: 'cline',
        now: new Date('2025-06-04T03:00:00Z'),
      }),
    );
    expect(decision).toEqual({
      alias: 'gpt-4o',
      rule: 'architecture',
      reason:
        'rule architecture: keyword "design" in the last user message, regex /(?i)\\bmicro-?services?\\b/ in the last user message, ' +
        '900 tokens <= 2,000, user "alice", team "backend", client "cline", local time 10:00 in 09:00-18:00, weekday wed',
    });
  });

  it('rejects an unknown condition key', () => {
    expect(configError({ rules: [{ name: 'typo', when: { keyword: ['css'] }, route: 'cheapest' }] })).toBe(
      'invalid config: airlock.routing.rules[0].when.keyword (rule "typo") is ["css"]: unknown condition "keyword"; ' +
        'allowed conditions are keywords, regex, in, min_prompt_tokens, max_prompt_tokens, has_images, has_tools, ' +
        'users, teams, clients, hours, weekdays',
    );
  });

  it('rejects an invalid regex naming the rule', () => {
    const message = configError({
      rules: [
        { name: 'fine', when: {}, route: 'cheapest' },
        { name: 'broken', when: { regex: '(unclosed' }, route: 'strongest' },
      ],
    });
    expect(message).toMatch(/^invalid config: airlock\.routing\.rules\[1\]\.when\.regex \(rule "broken"\) is "\(unclosed": invalid regular expression: /);
    expect(message).toContain('Unterminated group');
  });

  it('rejects invalid hours', () => {
    const cases: Array<[string, string]> = [
      ['9-18', 'must be a local time range "HH:MM-HH:MM"'],
      ['25:00-06:00', 'must be a local time range "HH:MM-HH:MM"'],
      ['24:00-06:00', 'must be a local time range "HH:MM-HH:MM"'],
      ['09:60-10:00', 'must be a local time range "HH:MM-HH:MM"'],
      ['09:00-09:00', 'start and end are equal, so the range is empty'],
    ];
    for (const [hours, problem] of cases) {
      const message = configError({ rules: [{ name: 'office', when: { hours }, route: 'cheapest' }] });
      expect(message).toContain(`airlock.routing.rules[0].when.hours (rule "office") is "${hours}": ${problem}`);
    }
  });

  it('accepts 24:00 as the end of a range', () => {
    expect(() => oneRule({ hours: '18:00-24:00' })).not.toThrow();
  });

  it('rejects an unknown weekday with the allowed values', () => {
    const message = configError({ rules: [{ name: 'weekend', when: { weekdays: ['saturday'] }, route: 'cheapest' }] });
    expect(message).toContain('airlock.routing.rules[0].when.weekdays[0] (rule "weekend") is "saturday"');
    expect(message).toContain('"sun"|"mon"|"tue"|"wed"|"thu"|"fri"|"sat"');
  });

  it('rejects in without keywords or regex', () => {
    expect(configError({ rules: [{ name: 'r', when: { in: 'system' }, route: 'cheapest' }] })).toBe(
      'invalid config: airlock.routing.rules[0].when.in (rule "r") is "system": applies only together with keywords or regex',
    );
  });

  it('rejects a token range that is empty', () => {
    expect(configError({ rules: [{ name: 'r', when: { min_prompt_tokens: 500, max_prompt_tokens: 500 }, route: 'cheapest' }] })).toBe(
      'invalid config: airlock.routing.rules[0].when.max_prompt_tokens (rule "r") is 500: must be greater than min_prompt_tokens (500), or the rule never matches',
    );
  });

  it('rejects duplicate rule names', () => {
    const rule = { name: 'same', when: {}, route: 'cheapest' };
    expect(configError({ rules: [rule, rule] })).toBe(
      'invalid config: airlock.routing.rules[1].name (rule "same") is "same": is used by an earlier rule; rule names must be unique',
    );
  });

  it('rejects an unknown time zone', () => {
    expect(configError({ time_zone: 'Mars/Olympus' })).toBe(
      'invalid config: airlock.routing.time_zone is "Mars/Olympus": is not an IANA time zone; use a name such as Europe/Berlin or Asia/Ho_Chi_Minh',
    );
  });

  it('rejects unknown keys of the section and of a rule', () => {
    expect(configError({ rule: [] })).toMatch(/^invalid config: airlock\.routing\.rule is \[\]: /);
    expect(configError({ rules: [{ name: 'r', when: {}, route: 'cheapest', priority: 1 }] })).toMatch(
      /^invalid config: airlock\.routing\.rules\[0\]\.priority \(rule "r"\) is 1: /,
    );
  });

  it('rejects a rule without a route', () => {
    expect(configError({ rules: [{ name: 'r', when: {} }] })).toMatch(/^invalid config: airlock\.routing\.rules\[0\]\.route \(rule "r"\) is missing: /);
  });
});

describe('routing policy aliases', () => {
  it('rejects a route to an unknown alias', () => {
    const rules = [
      { name: 'a', when: {}, route: 'cheapest' },
      { name: 'b', when: {}, route: 'strongest' },
      { name: 'typo', when: {}, route: 'gtp-4o' },
    ];
    expect(configError({ rules })).toBe(
      'invalid config: airlock.routing.rules[2].route (rule "typo") is "gtp-4o": no model_list entry has this model_name; ' +
        'allowed values are "strongest", "cheapest" or a chat model_name: gpt-4o, gpt-4o-mini, local-coder',
    );
  });

  it('rejects routes to embedding, wildcard and virtual models', () => {
    const aliases = aliasMap(...[...workstation.values()].flat(), deployment('claude-*', 'claude-sonnet-4-5'));
    const route = (target: string) => configError({ rules: [{ name: 'r', when: {}, route: target }] }, aliases);
    expect(route('embed')).toContain('is "embed": this model_name is not a chat model');
    expect(route('claude-*')).toContain('is "claude-*": a wildcard model_name matches several models');
    expect(route('auto')).toContain('is "auto": the virtual model cannot route to itself');
  });

  it('rejects unknown strongest, cheapest and default aliases', () => {
    expect(configError({ strongest: 'gpt-5' })).toMatch(/^invalid config: airlock\.routing\.strongest is "gpt-5": no model_list entry/);
    expect(configError({ cheapest: 'embed' })).toMatch(/^invalid config: airlock\.routing\.cheapest is "embed": this model_name is not a chat model/);
    expect(configError({ default: 'nope' })).toMatch(/^invalid config: airlock\.routing\.default is "nope": no model_list entry/);
  });

  it('rejects an auto model name that a deployment uses', () => {
    expect(configError({ auto_model: 'gpt-4o' })).toBe(
      'invalid config: airlock.routing.auto_model is "gpt-4o", which is also a model_name in model_list; choose another name for the virtual model',
    );
  });

  it('rejects a config without chat models', () => {
    expect(configError(undefined, aliasMap(deployment('embed', 'text-embedding-3-small')))).toBe(
      'invalid config: airlock.routing has no model to route "auto" to, because no model_list entry is a chat model; add one',
    );
  });

  it('uses configured strongest, cheapest and default aliases', () => {
    const policy = compilePolicy({ strongest: 'gpt-4o-mini', cheapest: 'gpt-4o', default: 'strongest' }, workstation);
    expect(policy.strongest).toBe('gpt-4o-mini');
    expect(policy.cheapest).toBe('gpt-4o');
    expect(policy.defaultAlias).toBe('gpt-4o-mini');
  });

  it('recognises the configured auto model name', () => {
    const policy = compilePolicy({ auto_model: 'smart' }, workstation);
    expect(policy.autoModel).toBe('smart');
    expect(policy.isAutoModel('smart')).toBe(true);
    expect(policy.isAutoModel('auto')).toBe(false);
    expect(policy.isAutoModel('Smart')).toBe(false);
    expect(compilePolicy(undefined, workstation).isAutoModel('auto')).toBe(true);
  });
});

describe('strongest and cheapest derivation', () => {
  it('picks the highest tier as strongest', () => {
    const aliases = aliasMap(deployment('mini', 'gpt-4o-mini'), deployment('opus', 'claude-opus-4-5'), deployment('4o', 'gpt-4o'));
    expect(pickStrongestAlias(aliases)).toBe('opus');
  });

  it('breaks a tier tie by the higher output price', () => {
    // All three are tier 4: o3 costs $8 output, gpt-5 $10, o1 $60.
    expect(pickStrongestAlias(aliasMap(deployment('o3', 'o3'), deployment('o1', 'o1'), deployment('gpt-5', 'gpt-5')))).toBe('o1');
    expect(pickStrongestAlias(aliasMap(deployment('o3', 'o3'), deployment('gpt-5', 'gpt-5')))).toBe('gpt-5');
  });

  it('ignores wildcard and embedding aliases', () => {
    const aliases = aliasMap(
      deployment('4o', 'gpt-4o'),
      deployment('claude-*', 'claude-opus-4-1'),
      deployment('big-embed', 'text-embedding-3-large', 'cloud', { tier: 4 }),
      deployment('free-*', 'llama3.2', 'local'),
    );
    expect(pickStrongestAlias(aliases)).toBe('4o');
    expect(pickCheapestAlias(aliases)).toBe('4o');
  });

  it('puts local models first for cheapest', () => {
    const aliases = aliasMap(deployment('nano', 'gpt-5-nano'), deployment('local', 'llama3.2', 'local'), deployment('mini', 'gpt-4o-mini'));
    expect(pickCheapestAlias(aliases)).toBe('local');
  });

  it('picks the lowest output price without local models', () => {
    // gpt-4o-mini costs $0.60 output, gpt-4.1-nano $0.40, gpt-4o $10.
    const aliases = aliasMap(deployment('mini', 'gpt-4o-mini'), deployment('nano', 'gpt-4.1-nano'), deployment('4o', 'gpt-4o'));
    expect(pickCheapestAlias(aliases)).toBe('nano');
  });

  it('ranks an unknown price last for cheapest', () => {
    const aliases = aliasMap(deployment('mystery', 'my-finetune'), deployment('4o', 'gpt-4o'));
    expect(aliases.get('mystery')![0]!.modelInfo.pricing).toBe('unknown');
    expect(pickCheapestAlias(aliases)).toBe('4o');
  });

  it('ranks an alias by its weakest and most expensive deployment', () => {
    // "mixed" may be served by gpt-4o-mini (tier 1) or gpt-4o ($10 output).
    const aliases = aliasMap(
      deployment('mixed', 'gpt-4o', 'cloud', {}, 0),
      deployment('mixed', 'gpt-4o-mini', 'cloud', {}, 1),
      deployment('4.1', 'gpt-4.1'),
      deployment('4.1-mini', 'gpt-4.1-mini'),
    );
    expect(pickStrongestAlias(aliases)).toBe('4.1');
    expect(pickCheapestAlias(aliases)).toBe('4.1-mini');
  });

  it('uses the first alias in config order on a full tie', () => {
    const aliases = aliasMap(deployment('first', 'llama3.2', 'local'), deployment('second', 'qwen2.5-coder:7b', 'local'));
    expect(pickCheapestAlias(aliases)).toBe('first');
    expect(pickStrongestAlias(aliases)).toBe('first');
  });

  it('returns null without chat aliases', () => {
    expect(pickStrongestAlias(new Map())).toBeNull();
    expect(pickCheapestAlias(aliasMap(deployment('embed', 'text-embedding-3-small')))).toBeNull();
  });
});

describe('rule conditions', () => {
  it('matches keywords case-insensitively as whole words', () => {
    const when = { keywords: ['design', 'trade-off'] };
    expect(matches(when, { lastUserText: 'Review the DESIGN of this module' })).toBe(true);
    expect(matches(when, { lastUserText: 'what is the trade-off here?' })).toBe(true);
    expect(matches(when, { lastUserText: 'design.' })).toBe(true);
    expect(matches(when, { lastUserText: 'the designated driver' })).toBe(false);
    expect(matches(when, { lastUserText: 'redesign the page' })).toBe(false);
    expect(matches(when, { lastUserText: 'design_system tokens' })).toBe(false);
    expect(matches(when, { lastUserText: 'trade-offs' })).toBe(false);
  });

  it('matches a phrase across any whitespace', () => {
    const when = { keywords: ['system design'] };
    expect(matches(when, { lastUserText: 'a System\n  Design interview' })).toBe(true);
    expect(matches(when, { lastUserText: 'system-design' })).toBe(false);
  });

  it('matches Vietnamese keywords in composed and decomposed text', () => {
    const when = { keywords: ['dịch'] };
    const composed = 'Hãy dịch đoạn này';
    expect(matches(when, { lastUserText: composed })).toBe(true);
    expect(matches(when, { lastUserText: composed.normalize('NFD') })).toBe(true);
    expect(matches(when, { lastUserText: 'DỊCH ngay' })).toBe(true);
    expect(matches(when, { lastUserText: 'dịchvụ' })).toBe(false);
    expect(matches(when, { lastUserText: 'dich' })).toBe(false);
  });

  it('matches Chinese keywords inside a sentence', () => {
    expect(matches({ keywords: ['翻译'] }, { lastUserText: '请翻译这段话' })).toBe(true);
  });

  it('matches keywords that end in punctuation', () => {
    const when = { keywords: ['c++'] };
    expect(matches(when, { lastUserText: 'port it to C++ please' })).toBe(true);
    expect(matches(when, { lastUserText: 'abc++' })).toBe(false);
  });

  it('reads the text that in selects', () => {
    const system = { systemText: 'You are an architecture assistant.', lastUserText: 'fix the typo' };
    const user = { systemText: 'You help.', lastUserText: 'explain the architecture' };
    expect(matches({ keywords: ['architecture'] }, system)).toBe(false);
    expect(matches({ keywords: ['architecture'] }, user)).toBe(true);
    expect(matches({ keywords: ['architecture'], in: 'system' }, system)).toBe(true);
    expect(matches({ keywords: ['architecture'], in: 'system' }, user)).toBe(false);
    expect(matches({ keywords: ['architecture'], in: 'any' }, system)).toBe(true);
    expect(matches({ keywords: ['architecture'], in: 'any' }, user)).toBe(true);
    expect(matches({ keywords: ['architecture'], in: 'any' }, { lastUserText: 'hello' })).toBe(false);
  });

  it('matches a regex with and without (?i)', () => {
    expect(matches({ regex: '\\bK8s\\b' }, { lastUserText: 'deploy to K8s' })).toBe(true);
    expect(matches({ regex: '\\bK8s\\b' }, { lastUserText: 'deploy to k8s' })).toBe(false);
    expect(matches({ regex: '(?i)\\bK8s\\b' }, { lastUserText: 'deploy to k8s' })).toBe(true);
    expect(matches({ regex: '\\p{Script=Han}' }, { lastUserText: '你好' })).toBe(true);
    expect(matches({ regex: 'ticket-\\d+', in: 'system' }, { systemText: 'ticket-42', lastUserText: 'ticket-7' })).toBe(true);
    expect(matches({ regex: 'ticket-\\d+', in: 'system' }, { systemText: 'none', lastUserText: 'ticket-7' })).toBe(false);
  });

  it('compares prompt tokens against min and max', () => {
    expect(matches({ min_prompt_tokens: 32_000 }, { promptTokens: 32_001 })).toBe(true);
    expect(matches({ min_prompt_tokens: 32_000 }, { promptTokens: 32_000 })).toBe(false);
    expect(matches({ max_prompt_tokens: 200 }, { promptTokens: 200 })).toBe(true);
    expect(matches({ max_prompt_tokens: 200 }, { promptTokens: 201 })).toBe(false);
  });

  it('checks images and tools', () => {
    expect(matches({ has_images: true }, { hasImages: true })).toBe(true);
    expect(matches({ has_images: true }, { hasImages: false })).toBe(false);
    expect(matches({ has_tools: false }, { hasTools: false })).toBe(true);
    expect(matches({ has_tools: false }, { hasTools: true })).toBe(false);
  });

  it('checks users, teams and clients', () => {
    const alice = { keyId: 'k', userId: 'alice', teamId: 'backend' };
    const nobody = { keyId: 'k', userId: null, teamId: null };
    expect(matches({ users: ['alice', 'bob'] }, { principal: alice })).toBe(true);
    expect(matches({ users: ['bob'] }, { principal: alice })).toBe(false);
    expect(matches({ users: ['alice'] }, { principal: nobody })).toBe(false);
    expect(matches({ teams: ['backend'] }, { principal: alice })).toBe(true);
    expect(matches({ teams: ['frontend'] }, { principal: alice })).toBe(false);
    expect(matches({ teams: ['backend'] }, { principal: nobody })).toBe(false);
    expect(matches({ clients: ['cline', 'Claude-Code'] }, { client: 'claude-code' })).toBe(true);
    expect(matches({ clients: ['cline'] }, { client: 'Cline' })).toBe(true);
    expect(matches({ clients: ['cline'] }, { client: 'aider' })).toBe(false);
    expect(matches({ clients: ['cline'] }, { client: null })).toBe(false);
  });

  it('checks hours that wrap midnight in a non-UTC zone', () => {
    // Asia/Ho_Chi_Minh is UTC+7 all year.
    const zone = { time_zone: 'Asia/Ho_Chi_Minh' };
    const night = { hours: '22:00-06:00' };
    expect(matches(night, { now: new Date('2025-06-04T16:30:00Z') }, zone)).toBe(true); // 23:30 local
    expect(matches(night, { now: new Date('2025-06-04T22:59:00Z') }, zone)).toBe(true); // 05:59 local
    expect(matches(night, { now: new Date('2025-06-04T23:00:00Z') }, zone)).toBe(false); // 06:00 local, end excluded
    expect(matches(night, { now: new Date('2025-06-04T15:00:00Z') }, zone)).toBe(true); // 22:00 local, start included
    expect(matches(night, { now: new Date('2025-06-04T14:59:00Z') }, zone)).toBe(false); // 21:59 local
    expect(matches(night, { now: new Date('2025-06-04T16:30:00Z') }, { time_zone: 'UTC' })).toBe(false); // 16:30 UTC
  });

  it('follows daylight saving time', () => {
    const office = { hours: '09:00-18:00' };
    const zone = { time_zone: 'America/New_York' };
    expect(matches(office, { now: new Date('2025-07-01T13:30:00Z') }, zone)).toBe(true); // 09:30 EDT
    expect(matches(office, { now: new Date('2025-01-15T13:30:00Z') }, zone)).toBe(false); // 08:30 EST
  });

  it('checks the local weekday', () => {
    // Friday 18:00 UTC is Saturday 01:00 in Ho Chi Minh City.
    const now = new Date('2025-06-06T18:00:00Z');
    const zone = { time_zone: 'Asia/Ho_Chi_Minh' };
    expect(matches({ weekdays: ['sat', 'sun'] }, { now }, zone)).toBe(true);
    expect(matches({ weekdays: ['fri'] }, { now }, zone)).toBe(false);
    expect(matches({ weekdays: ['fri'] }, { now }, { time_zone: 'UTC' })).toBe(true);
  });

  it('does not match time conditions for an invalid date', () => {
    expect(matches({ hours: '00:00-24:00' }, { now: new Date(Number.NaN) })).toBe(false);
  });

  it('requires every condition of a rule', () => {
    const when = { keywords: ['css'], max_prompt_tokens: 500, clients: ['cline'] };
    const all = { lastUserText: 'center a div with css', promptTokens: 150, client: 'cline' };
    expect(matches(when, all)).toBe(true);
    expect(matches(when, { ...all, lastUserText: 'center a div' })).toBe(false);
    expect(matches(when, { ...all, promptTokens: 501 })).toBe(false);
    expect(matches(when, { ...all, client: 'aider' })).toBe(false);
  });

  it('matches every request with an empty when', () => {
    const policy = compilePolicy({ rules: [{ name: 'everything', route: 'gpt-4o' }] }, workstation);
    expect(policy.decide(request())).toEqual({ alias: 'gpt-4o', rule: 'everything', reason: 'rule everything: matches every request' });
  });
});

describe('rule order and reasons', () => {
  const rules = [
    { name: 'long-context', when: { min_prompt_tokens: 32_000 }, route: 'strongest' },
    { name: 'architecture', when: { keywords: ['architecture', 'design'] }, route: 'strongest' },
    { name: 'short-question', when: { max_prompt_tokens: 200, has_tools: false }, route: 'cheapest' },
  ];
  const policy = compilePolicy({ rules, default: 'gpt-4o-mini' }, workstation);

  it('applies the first matching rule', () => {
    const short = request({ lastUserText: 'design?', promptTokens: 42 });
    expect(policy.decide(short).rule).toBe('architecture');
    const reversed = compilePolicy({ rules: [...rules].reverse() }, workstation);
    expect(reversed.decide(short).rule).toBe('short-question');
  });

  it('states the measured value against the threshold', () => {
    expect(policy.decide(request({ promptTokens: 48_200, lastUserText: 'design' }))).toEqual({
      alias: 'gpt-4o',
      rule: 'long-context',
      reason: 'rule long-context: 48,200 tokens > 32,000',
    });
    expect(policy.decide(request({ promptTokens: 300, lastUserText: 'Is this Design sound?' }))).toEqual({
      alias: 'gpt-4o',
      rule: 'architecture',
      reason: 'rule architecture: keyword "design" in the last user message',
    });
    expect(policy.decide(request({ promptTokens: 42, lastUserText: 'what is a monad' }))).toEqual({
      alias: 'local-coder',
      rule: 'short-question',
      reason: 'rule short-question: 42 tokens <= 200',
    });
    expect(policy.decide(request({ promptTokens: 1_234_567 - 1_200_000, lastUserText: 'hello' })).reason).toBe(
      'rule long-context: 34,567 tokens > 32,000',
    );
  });

  it('falls back to the default alias', () => {
    expect(policy.decide(request({ promptTokens: 5_000, lastUserText: 'fix this bug' }))).toEqual({
      alias: 'gpt-4o-mini',
      rule: null,
      reason: 'default: no rule matched',
    });
  });

  it('defaults to the cheapest alias', () => {
    const derived = compilePolicy({ rules }, workstation);
    expect(derived.defaultAlias).toBe('local-coder');
    expect(derived.decide(request({ promptTokens: 5_000 })).alias).toBe('local-coder');
  });

  it('names where a keyword or regex was found', () => {
    const any = compilePolicy(
      {
        rules: [
          { name: 'k8s', when: { regex: '(?i)\\bk8s\\b', in: 'any' }, route: 'gpt-4o' },
          { name: 'ops', when: { keywords: ['terraform'], in: 'any' }, route: 'gpt-4o' },
        ],
      },
      workstation,
    );
    expect(any.decide(request({ systemText: 'You run on K8s.' })).reason).toBe('rule k8s: regex /(?i)\\bk8s\\b/ in the system prompt');
    expect(any.decide(request({ systemText: 'Use Terraform.', lastUserText: 'terraform plan fails' })).reason).toBe(
      'rule ops: keyword "terraform" in the last user message',
    );
  });

  it('shortens a long regex', () => {
    const source = `(?i)${'a'.repeat(100)}`;
    const long = compilePolicy({ rules: [{ name: 'long', when: { regex: source }, route: 'gpt-4o' }] }, workstation);
    expect(long.decide(request({ lastUserText: 'A'.repeat(100) })).reason).toBe(`rule long: regex /(?i)${'a'.repeat(53)}.../ in the last user message`);
  });

  it('lists flags only when they are the whole rule', () => {
    const flags = compilePolicy(
      {
        rules: [
          { name: 'vision', when: { has_images: true, has_tools: false }, route: 'gpt-4o' },
          { name: 'plain', when: { has_images: false, has_tools: false }, route: 'gpt-4o' },
        ],
      },
      workstation,
    );
    expect(flags.decide(request({ hasImages: true })).reason).toBe('rule vision: has images');
    expect(flags.decide(request()).reason).toBe('rule plain: no images, no tools');
  });

  it('states a token range, hours and weekday', () => {
    const timed = compilePolicy(
      {
        time_zone: 'Asia/Ho_Chi_Minh',
        rules: [{ name: 'night', when: { min_prompt_tokens: 100, max_prompt_tokens: 5_000, hours: '22:00-06:00', weekdays: ['thu'] }, route: 'gpt-4o' }],
      },
      workstation,
    );
    // Wednesday 16:30 UTC is Wednesday 23:30 in Ho Chi Minh City, so only the weekday condition fails.
    expect(timed.decide(request({ promptTokens: 1_500, now: new Date('2025-06-04T16:30:00Z') })).rule).toBeNull();
    expect(timed.decide(request({ promptTokens: 1_500, now: new Date('2025-06-05T16:30:00Z') })).reason).toBe(
      'rule night: 1,500 tokens > 100 and <= 5,000, local time 23:30 in 22:00-06:00, weekday thu',
    );
  });
});

describe('default policy', () => {
  const policy = compilePolicy(undefined, workstation);
  const decide = (lastUserText: string, fields: Partial<RoutingInput> = {}) => policy.decide(request({ lastUserText, promptTokens: 600, ...fields }));

  it('checks long context and architecture before the cheap rules', () => {
    expect(defaultRules.map((rule) => rule.name)).toEqual(['long-context', 'architecture', 'translation', 'boilerplate-web', 'short-question']);
    expect(policy.rules).toEqual([
      { name: 'long-context', alias: 'gpt-4o' },
      { name: 'architecture', alias: 'gpt-4o' },
      { name: 'translation', alias: 'local-coder' },
      { name: 'boilerplate-web', alias: 'local-coder' },
      { name: 'short-question', alias: 'local-coder' },
    ]);
  });

  it('sends long context to the strongest model', () => {
    expect(decide('Translate this log file', { promptTokens: 48_200 })).toEqual({
      alias: 'gpt-4o',
      rule: 'long-context',
      reason: 'rule long-context: 48,200 tokens > 32,000',
    });
  });

  it('sends architecture questions to the strongest model', () => {
    expect(decide('What are the trade-offs of Kafka versus RabbitMQ in our system design?')).toEqual({
      alias: 'gpt-4o',
      rule: 'architecture',
      reason: 'rule architecture: keyword "trade-offs" in the last user message',
    });
    expect(decide('Write the HTML for our architecture page').rule).toBe('architecture');
    expect(decide('Help me refactor the whole payment module', { promptTokens: 40 }).rule).toBe('architecture');
    expect(decide('Đánh giá kiến trúc của hệ thống này').rule).toBe('architecture');
  });

  it('sends translation to the cheapest model', () => {
    expect(decide('Translate this paragraph into French: the build is green.')).toEqual({
      alias: 'local-coder',
      rule: 'translation',
      reason: 'rule translation: keyword "translate" in the last user message',
    });
    expect(decide('Dịch sang tiếng Anh giúp mình đoạn này').reason).toBe('rule translation: keyword "dịch sang" in the last user message');
    expect(decide('Übersetze diesen Text ins Englische').rule).toBe('translation');
    expect(decide('请把这段话翻译成英文').rule).toBe('translation');
    expect(decide('Traduce este mensaje de error').rule).toBe('translation');
  });

  it('does not treat dịch vụ or biên dịch as translation', () => {
    expect(decide('Viết một dịch vụ REST bằng Go').rule).toBeNull();
    expect(decide('Lỗi biên dịch khi chạy make').rule).toBeNull();
  });

  it('sends boilerplate web work to the cheapest model', () => {
    expect(decide('Build a landing page with a hero section and pricing cards', { hasTools: true })).toEqual({
      alias: 'local-coder',
      rule: 'boilerplate-web',
      reason: 'rule boilerplate-web: keyword "landing page" in the last user message',
    });
    expect(decide('Convert these styles to Tailwind').rule).toBe('boilerplate-web');
    expect(decide('Why is my CSS grid collapsing?').rule).toBe('boilerplate-web');
  });

  it('sends short questions without tools or images to the cheapest model', () => {
    expect(decide('What does git rebase --onto do?', { promptTokens: 42 })).toEqual({
      alias: 'local-coder',
      rule: 'short-question',
      reason: 'rule short-question: 42 tokens <= 200',
    });
    expect(decide('What does git rebase --onto do?', { promptTokens: 42, hasTools: true }).rule).toBeNull();
    expect(decide('What is in this screenshot?', { promptTokens: 42, hasImages: true }).rule).toBeNull();
  });

  it('ignores keywords in the system prompt', () => {
    const agent = { systemText: 'You are an expert in software architecture, HTML and CSS.', hasTools: true };
    expect(decide('Fix the failing unit test in parser.ts', agent)).toEqual({ alias: 'local-coder', rule: null, reason: 'default: no rule matched' });
  });

  it('leaves plain design work to the cheap rules', () => {
    expect(decide('Design a button component').rule).toBeNull();
    expect(decide('Design a signup form in HTML').rule).toBe('boilerplate-web');
  });

  it('uses the cheapest cloud model without a local one', () => {
    const cloud = compilePolicy(undefined, aliasMap(deployment('gpt-4o', 'gpt-4o'), deployment('gpt-4o-mini', 'gpt-4o-mini')));
    expect(cloud.cheapest).toBe('gpt-4o-mini');
    expect(cloud.decide(request({ lastUserText: 'Translate to German', promptTokens: 600 })).alias).toBe('gpt-4o-mini');
  });
});
