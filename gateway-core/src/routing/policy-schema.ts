import { z } from 'zod';

/**
 * The `airlock.routing` section of the config: ordered rules that pick a model alias for the
 * virtual model (default "auto"). Unlike the rest of the config, these objects are strict,
 * because a misspelt condition would otherwise leave a rule that matches every request.
 * The schema has no transforms, so its output is valid input and can be parsed again.
 */

/** Route targets that name no alias but the derived strongest or cheapest one. */
export const routeWords = ['strongest', 'cheapest'] as const;
export type RouteWord = (typeof routeWords)[number];

export const weekdayNames = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type WeekdayName = (typeof weekdayNames)[number];

export const textScopes = ['last_user', 'system', 'any'] as const;
export type TextScope = (typeof textScopes)[number];

const conditionShape = {
  /** Whole words or phrases, compared case-insensitively. Any one of them matching is enough. */
  keywords: z.array(z.string().trim().min(1, 'must not be empty')).min(1, 'must list at least one keyword').optional(),
  /** JavaScript regular expression source, compiled with the u flag. A leading (?i), (?m) or (?s) sets that flag. */
  regex: z.string().min(1).optional(),
  /** Text that keywords and regex read: the last user message (default), the system prompt, or either. */
  in: z.enum(textScopes).optional(),
  /** Matches when the estimated prompt tokens are more than this number. */
  min_prompt_tokens: z.number().int().nonnegative().optional(),
  /** Matches when the estimated prompt tokens are at most this number. */
  max_prompt_tokens: z.number().int().nonnegative().optional(),
  has_images: z.boolean().optional(),
  has_tools: z.boolean().optional(),
  /** principal.userId values. */
  users: z.array(z.string().min(1)).min(1).optional(),
  /** principal.teamId values. */
  teams: z.array(z.string().min(1)).min(1).optional(),
  /** Short client names from the User-Agent, such as cline or claude-code, compared case-insensitively. */
  clients: z.array(z.string().min(1)).min(1).optional(),
  /** Range "HH:MM-HH:MM" in local time of time_zone, end excluded. A start after the end wraps midnight. */
  hours: z.string().optional(),
  /** Local calendar days at the moment of the request. */
  weekdays: z.array(z.enum(weekdayNames)).min(1).optional(),
};

const conditionKeys = Object.keys(conditionShape).join(', ');

export const ruleConditionsSchema = z
  .strictObject(conditionShape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown condition ${issue.keys.map((key) => `"${key}"`).join(', ')}; allowed conditions are ${conditionKeys}`
        : undefined,
  })
  .superRefine((when, ctx) => {
    if (when.regex !== undefined) {
      try {
        compileRuleRegex(when.regex);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['regex'], message: `invalid regular expression: ${(error as Error).message}` });
      }
    }
    if (when.hours !== undefined) {
      const problem = checkHours(when.hours);
      if (problem !== null) ctx.addIssue({ code: 'custom', path: ['hours'], message: problem });
    }
    if (when.in !== undefined && when.keywords === undefined && when.regex === undefined) {
      ctx.addIssue({ code: 'custom', path: ['in'], message: 'applies only together with keywords or regex' });
    }
    const { min_prompt_tokens: min, max_prompt_tokens: max } = when;
    if (min !== undefined && max !== undefined && max <= min) {
      ctx.addIssue({
        code: 'custom',
        path: ['max_prompt_tokens'],
        message: `must be greater than min_prompt_tokens (${min}), or the rule never matches`,
      });
    }
  });

export const routingRuleSchema = z.strictObject({
  /** Shown in route reasons: "rule long-context: …". */
  name: z.string().trim().min(1, 'must name the rule'),
  /** Conditions that must all hold. An empty or missing `when` matches every request. */
  when: ruleConditionsSchema.default({}),
  /** A model_name from model_list, or "strongest" / "cheapest". */
  route: z.string().trim().min(1, 'must name a model alias, "strongest" or "cheapest"'),
});

export const routingPolicySchema = z
  .strictObject({
    /** The virtual model name that applies the policy. */
    auto_model: z.string().trim().min(1).default('auto'),
    /** Alias that "strongest" resolves to, derived from tier and price when missing. */
    strongest: z.string().trim().min(1).optional(),
    /** Alias that "cheapest" resolves to, derived from price (local models first) when missing. */
    cheapest: z.string().trim().min(1).optional(),
    /** Alias used when no rule matches, or the cheapest alias when missing. */
    default: z.string().trim().min(1).optional(),
    /** IANA time zone for `hours` and `weekdays`, or the machine's zone when missing. */
    time_zone: z
      .string()
      .min(1)
      .refine(isKnownTimeZone, { message: 'is not an IANA time zone; use a name such as Europe/Berlin or Asia/Ho_Chi_Minh' })
      .optional(),
    /** Rules in evaluation order. The shipped default rules apply when missing. */
    rules: z.array(routingRuleSchema).optional(),
  })
  .superRefine((policy, ctx) => {
    const seen = new Set<string>();
    policy.rules?.forEach((rule, index) => {
      if (seen.has(rule.name)) {
        ctx.addIssue({ code: 'custom', path: ['rules', index, 'name'], message: 'is used by an earlier rule; rule names must be unique' });
      }
      seen.add(rule.name);
    });
  });

export type RoutingPolicyConfig = z.infer<typeof routingPolicySchema>;
/** The section as written in YAML, before defaults are filled in. */
export type RoutingPolicyInput = z.input<typeof routingPolicySchema>;
export type RoutingRuleConfig = z.infer<typeof routingRuleSchema>;
export type RuleConditions = z.infer<typeof ruleConditionsSchema>;

/** Invalid routing configuration. The message names the key path, the value and what is allowed. */
export class RoutingPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoutingPolicyError';
  }
}

/**
 * Validates the `airlock.routing` section, or throws a RoutingPolicyError for its first problem.
 * `keyPath` prefixes the paths in messages.
 */
export function parseRoutingPolicy(raw: unknown, keyPath = 'airlock.routing'): RoutingPolicyConfig {
  const parsed = routingPolicySchema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;

  const issue = parsed.error.issues[0]!;
  let path = keyPath;
  let value: unknown = raw;
  const segments = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
  let ruleName: unknown;
  segments.forEach((segment, index) => {
    path += typeof segment === 'number' ? `[${segment}]` : `.${String(segment)}`;
    value = typeof value === 'object' && value !== null ? (value as Record<PropertyKey, unknown>)[segment] : undefined;
    if (index === 1 && segments[0] === 'rules') ruleName = (value as { name?: unknown } | undefined)?.name;
  });
  const rule = typeof ruleName === 'string' && ruleName.trim() !== '' ? ` (rule "${ruleName.trim()}")` : '';
  throw new RoutingPolicyError(`invalid config: ${path}${rule} is ${showValue(value)}: ${issue.message}`);
}

/** Formats a value for an error message as JSON, shortened so that a long regex or list stays readable. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/**
 * Compiles a rule's regex. JavaScript in Node 20 has no inline flags, so a leading group such as
 * (?i) or (?is) is turned into flags. The u flag is always set so that \p{…} classes work.
 * Throws the SyntaxError of the RegExp constructor.
 */
export function compileRuleRegex(source: string): RegExp {
  const inline = /^\(\?([ims]+)\)/.exec(source);
  const flags = new Set(inline ? inline[1]! : '');
  flags.add('u');
  return new RegExp(inline ? source.slice(inline[0].length) : source, [...flags].join(''));
}

/** Start and end of an hours range in minutes after local midnight. The end is excluded and may be 1440. */
export interface HoursRange {
  start: number;
  end: number;
}

const hoursPattern = /^(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})$/;

/** Parses "HH:MM-HH:MM", or returns null when the text is not a valid range. */
export function parseHours(text: string): HoursRange | null {
  const parts = hoursPattern.exec(text.trim());
  if (!parts) return null;
  const [startHour, startMinute, endHour, endMinute] = parts.slice(1).map(Number) as [number, number, number, number];
  if (startHour > 23 || startMinute > 59 || endMinute > 59) return null;
  if (endHour > 24 || (endHour === 24 && endMinute !== 0)) return null;
  const start = startHour * 60 + startMinute;
  const end = endHour * 60 + endMinute;
  return start === end ? null : { start, end };
}

function checkHours(text: string): string | null {
  if (parseHours(text) !== null) return null;
  const parts = hoursPattern.exec(text.trim());
  if (parts && `${parts[1]}:${parts[2]}` === `${parts[3]}:${parts[4]}`) return 'start and end are equal, so the range is empty; omit hours to match all day';
  return 'must be a local time range "HH:MM-HH:MM" with hours 00-23 (24:00 allowed as the end), such as "09:00-18:00" or "22:00-06:00"';
}

function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Tests whether a minute of the day falls in a range. A range whose start is after its end wraps midnight. */
export function inHours(range: HoursRange, minute: number): boolean {
  if (range.start < range.end) return minute >= range.start && minute < range.end;
  return minute >= range.start || minute < range.end;
}

/** Local minute of the day and day of the week in one time zone, for the last instant read. */
export interface LocalClock {
  valid: boolean;
  minuteOfDay: number;
  /** 0 = Sunday. */
  weekday: number;
  read(now: Date): void;
}

/**
 * Creates a clock for a time zone, or for the machine's zone when `timeZone` is undefined.
 * Every current IANA zone offset is a whole number of minutes, so the Intl lookup runs at most
 * once per UTC minute and later reads in that minute reuse its result.
 */
export function createLocalClock(timeZone: string | undefined): LocalClock {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', weekday: 'short', hour: '2-digit', minute: '2-digit' });
  const weekdayIndex = new Map(['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].map((day, index) => [day, index]));
  let cachedMinute = Number.NaN;
  const clock: LocalClock = {
    valid: false,
    minuteOfDay: 0,
    weekday: 0,
    read(now) {
      const utcMinute = Math.floor(now.getTime() / 60_000);
      if (utcMinute === cachedMinute) return;
      if (Number.isNaN(utcMinute)) {
        clock.valid = false;
        return;
      }
      let hour = 0;
      let minute = 0;
      for (const part of format.formatToParts(now)) {
        if (part.type === 'hour') hour = Number(part.value);
        else if (part.type === 'minute') minute = Number(part.value);
        else if (part.type === 'weekday') clock.weekday = weekdayIndex.get(part.value) ?? 0;
      }
      clock.minuteOfDay = hour * 60 + minute;
      clock.valid = true;
      cachedMinute = utcMinute;
    },
  };
  return clock;
}
