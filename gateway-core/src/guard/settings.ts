/**
 * The guard's configuration (`airlock.guard` in the config file) and the action table built from
 * it. An action is chosen per finding and per destination class: the detector type's own entry
 * wins over its category's entry, which wins over the defaults.
 */
import { z } from 'zod';
import type { CountryCode } from 'libphonenumber-js';
import type { DestinationClass } from '../models/table';
import { ORGANIZATION_RULE_LIMITS, type OrganizationRules } from './detectors/organization';
import type { GuardAction } from './event';
import type { Finding, FindingCategory } from './types';

const actionSchema = z.enum(['block', 'redact', 'route_local', 'allow']);

const actionPairSchema = z.strictObject({
  cloud: actionSchema.optional(),
  local: actionSchema
    .refine((action) => action !== 'route_local', 'route_local applies to cloud destinations only; use allow, redact or block for local')
    .optional(),
});

const patternRuleSchema = z.strictObject({
  name: z.string().min(1),
  regex: z.string().min(1).max(ORGANIZATION_RULE_LIMITS.maxPatternLength),
  flags: z.string().optional(),
});

const wordRuleSchema = z.strictObject({
  name: z.string().min(1),
  words: z.array(z.string().min(1).max(ORGANIZATION_RULE_LIMITS.maxWordLength)).min(1).max(ORGANIZATION_RULE_LIMITS.maxWordsPerRule),
});

export const guardSettingsSchema = z.strictObject({
  /** Default true. False turns scanning off: nothing is blocked, redacted or recorded. */
  enabled: z.boolean().optional(),
  /** Category (secret, personal, organization) or detector type → action per destination class. */
  actions: z.record(z.string(), actionPairSchema).optional(),
  /** Alias that route_local sends a request to when the requested alias has no local deployment. */
  local_model: z.string().min(1).optional(),
  /** Detector types that are not reported, such as `phone_number`. */
  disabled_detectors: z.array(z.string().min(1)).optional(),
  /** ISO 3166-1 regions whose national phone formats are recognised without a +country code. */
  phone_regions: z.array(z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as US or VN')).min(1).optional(),
  /** Organisation rules: a regex or a word list each; the rule name is the finding's type. */
  rules: z
    .array(
      z.union([patternRuleSchema, wordRuleSchema], {
        error: 'each rule needs a name and either regex (with optional flags) or words, not both',
      }),
    )
    .optional(),
});

export type GuardSettingsFile = z.infer<typeof guardSettingsSchema>;

export type ActionPair = Record<DestinationClass, GuardAction>;

/** Actions used when the config sets none: secrets never leave, personal data leaves redacted. */
export const DEFAULT_ACTIONS: Readonly<Record<FindingCategory, ActionPair>> = {
  secret: { cloud: 'block', local: 'allow' },
  personal: { cloud: 'redact', local: 'allow' },
  // Internal code names and customer names are replaced, so the model still gets a stable name.
  organization: { cloud: 'redact', local: 'allow' },
};

export interface GuardSettings {
  enabled: boolean;
  /** Overrides by category or detector type; missing destinations fall back to the next level. */
  actions: ReadonlyMap<string, Partial<ActionPair>>;
  localModel: string | null;
  disabledTypes: ReadonlySet<string>;
  phoneRegions: CountryCode[] | null;
  rules: OrganizationRules;
}

export const DEFAULT_GUARD_SETTINGS: GuardSettings = {
  enabled: true,
  actions: new Map(),
  localModel: null,
  disabledTypes: new Set(),
  phoneRegions: null,
  rules: { patterns: [], words: [] },
};

const CATEGORIES: ReadonlySet<string> = new Set(['secret', 'personal', 'organization']);

/**
 * Builds the settings from the parsed `airlock.guard` section. `knownTypes` contains every
 * built-in detector type. An action or disabled entry that names neither a category, a known
 * type nor a rule is an error, because a typo there would silently leave the default in force.
 * Throws an Error whose message names the key and the fix.
 */
export function buildGuardSettings(file: GuardSettingsFile | undefined, knownTypes: ReadonlySet<string>): GuardSettings {
  if (file === undefined) return DEFAULT_GUARD_SETTINGS;

  const rules: OrganizationRules = { patterns: [], words: [] };
  const ruleNames = new Set<string>();
  for (const [index, rule] of (file.rules ?? []).entries()) {
    if (ruleNames.has(rule.name) || knownTypes.has(rule.name) || CATEGORIES.has(rule.name)) {
      throw new Error(`airlock.guard.rules[${index}].name: '${rule.name}' is already used by another rule or a built-in detector; choose another name`);
    }
    ruleNames.add(rule.name);
    if ('regex' in rule) rules.patterns.push(rule.flags === undefined ? { name: rule.name, regex: rule.regex } : { name: rule.name, regex: rule.regex, flags: rule.flags });
    else rules.words.push({ name: rule.name, words: rule.words });
  }

  const isKnown = (name: string): boolean => CATEGORIES.has(name) || knownTypes.has(name) || ruleNames.has(name);
  const listKnown = (): string => `secret, personal, organization, ${[...knownTypes].sort().join(', ')}${ruleNames.size > 0 ? `, ${[...ruleNames].join(', ')}` : ''}`;

  const actions = new Map<string, Partial<ActionPair>>();
  for (const [name, pair] of Object.entries(file.actions ?? {})) {
    if (!isKnown(name)) throw new Error(`airlock.guard.actions.${name}: unknown category or detector type; use one of ${listKnown()}`);
    actions.set(name, pair);
  }

  const disabledTypes = new Set<string>();
  for (const [index, name] of (file.disabled_detectors ?? []).entries()) {
    if (!knownTypes.has(name) && !ruleNames.has(name)) {
      throw new Error(`airlock.guard.disabled_detectors[${index}]: unknown detector type '${name}'; use one of ${[...knownTypes].sort().join(', ')}`);
    }
    disabledTypes.add(name);
  }

  return {
    enabled: file.enabled ?? true,
    actions,
    localModel: file.local_model ?? null,
    disabledTypes,
    phoneRegions: (file.phone_regions as CountryCode[] | undefined) ?? null,
    rules,
  };
}

/** Returns the action for one finding at one destination class: its type's entry, then its category's, then the default. */
export function actionFor(settings: GuardSettings, finding: Pick<Finding, 'type' | 'category'>, destination: DestinationClass): GuardAction {
  return (
    settings.actions.get(finding.type)?.[destination] ??
    settings.actions.get(finding.category)?.[destination] ??
    DEFAULT_ACTIONS[finding.category][destination]
  );
}
