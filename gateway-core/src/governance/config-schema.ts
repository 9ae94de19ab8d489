/**
 * The `airlock.governance` section of the config file, and the bodies of the management API's
 * teams, users and budgets routes, which use the same snake_case fields:
 *
 *   airlock:
 *     governance:
 *       time_zone: Asia/Ho_Chi_Minh
 *       teams: [{ id: backend }, { id: marketing, rpm_limit: 120 }]
 *       users: [{ id: alice, team_id: backend }]
 *       budgets:
 *         - { scope: team, scope_id: backend, period: monthly, limit_usd: 500 }
 *         - { scope: team, scope_id: marketing, period: monthly, limit_usd: 100, action: downgrade, downgrade_alias: local-coder }
 *
 * Objects are strict, because a misspelt limit would otherwise leave spend unlimited.
 */
import { z } from 'zod';
import { BUDGET_ID_PATTERN } from './budget-checks';
import type { BudgetInput, BudgetPeriod } from './budgets';
import type { TeamInput, UserInput } from './directory';
import { invalidField } from './errors';
import { PeriodSpecError, validateTimeZone } from './periods';
import { SCOPE_KINDS } from './scopes';

const ID_PATTERN = /^[^\s\u0000-\u001f\u007f]{1,128}$/;

const entityId = z.string().regex(ID_PATTERN, 'must be 1 to 128 characters without spaces or control characters, such as "backend" or "alice@example.com"');
const perMinute = z.number().int('must be a whole number').positive('must be at least 1');
const timeZone = z.string().refine(isTimeZone, { message: 'must be an IANA time zone name such as "Europe/Berlin", "Asia/Ho_Chi_Minh" or "UTC"' });

export const teamEntrySchema = z.strictObject({
  id: entityId,
  /** Display name; the id when missing. */
  name: z.string().trim().min(1).max(200).optional(),
  /** Requests per minute for all of the team's keys together. */
  rpm_limit: perMinute.nullable().optional(),
  /** Prompt and output tokens per minute for all of the team's keys together. */
  tpm_limit: perMinute.nullable().optional(),
});

export const userEntrySchema = z.strictObject({
  id: entityId,
  name: z.string().trim().min(1).max(200).optional(),
  email: z.string().regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address such as alice@example.com').max(320).nullable().optional(),
  /** Every user belongs to one team. */
  team_id: entityId,
  rpm_limit: perMinute.nullable().optional(),
  tpm_limit: perMinute.nullable().optional(),
});

const budgetFields = {
  /** Stable id; derived from scope, scope_id, period and action when missing. */
  id: z.string().regex(BUDGET_ID_PATTERN, 'must be 1 to 300 characters without spaces or control characters').optional(),
  name: z.string().max(200).optional(),
  scope: z.enum(SCOPE_KINDS, { error: `must be one of ${SCOPE_KINDS.join(', ')}` }),
  /** The team, user or key id, or the model_name; left out for the org scope. */
  scope_id: z.string().min(1).optional(),
  period: z.enum(['daily', 'weekly', 'monthly', 'fixed'], { error: 'must be daily, weekly, monthly or fixed' }),
  /** Zone of a calendar period; default airlock.governance.time_zone. */
  time_zone: timeZone.optional(),
  /** Start of a fixed window: an ISO 8601 instant with Z or an offset. */
  window_start: z
    .string()
    .regex(/(?:[zZ]|[+-]\d{2}:?\d{2})$/, 'must be an ISO 8601 instant with "Z" or a UTC offset, such as "2026-01-01T00:00:00Z"')
    .refine((value) => !Number.isNaN(Date.parse(value)), { message: 'must be a valid date and time' })
    .optional(),
  /** Length of a fixed window in exact 24-hour days; fractions are allowed, at least one minute. */
  window_days: z.number().min(1 / 1440, 'must be at least one minute (1/1440 of a day)').max(36_500).optional(),
  limit_usd: z.number().nonnegative('must be 0 or more').max(1_000_000_000, 'must be at most 1,000,000,000'),
  /** block: HTTP 429. downgrade: route to downgrade_alias. Default block. */
  action: z.enum(['block', 'downgrade'], { error: 'must be "block" or "downgrade"' }).optional(),
  downgrade_alias: z.string().min(1).optional(),
  /** Percentages of limit_usd that raise an event when settled spend reaches them; default [50, 80, 100]. */
  thresholds: z
    .array(z.number().gt(0, 'must be above 0').max(100, 'must be at most 100'))
    .max(10, 'must list at most 10 percentages')
    .optional(),
};

type BudgetEntryShape = z.infer<z.ZodObject<typeof budgetFields>>;

export const budgetEntrySchema = z.strictObject(budgetFields).superRefine((entry, ctx) => checkBudgetEntry(entry, ctx));

/** A PATCH body: any field of a budget; the store checks the merged result. */
export const budgetPatchSchema = z.strictObject(budgetFields).partial();

export const governanceSchema = z
  .strictObject({
    /** Zone of calendar budget periods that set none. Default UTC, so every workstation counts the same periods. */
    time_zone: timeZone.default('UTC'),
    /** Display name of the organisation. */
    organization: z.string().trim().min(1).max(200).optional(),
    teams: z.array(teamEntrySchema).default([]),
    users: z.array(userEntrySchema).default([]),
    budgets: z.array(budgetEntrySchema).default([]),
  })
  .superRefine((section, ctx) => {
    reportDuplicates(section.teams.map((team) => team.id), 'teams', 'team id', ctx);
    reportDuplicates(section.users.map((user) => user.id), 'users', 'user id', ctx);
    reportDuplicates(section.budgets.map(configBudgetId), 'budgets', 'budget id', ctx, '; give each budget of the same scope, period and action its own id');
  });

export type GovernanceConfig = z.infer<typeof governanceSchema>;
/** The section as written in YAML, before defaults are filled in. */
export type GovernanceConfigInput = z.input<typeof governanceSchema>;
export type TeamEntry = z.infer<typeof teamEntrySchema>;
export type UserEntry = z.infer<typeof userEntrySchema>;
export type BudgetEntry = z.infer<typeof budgetEntrySchema>;
export type BudgetPatchEntry = z.infer<typeof budgetPatchSchema>;

/** Returns a config budget's id: its own, or "scope:scope_id:period:action", such as "team:backend:monthly:block". */
export function configBudgetId(entry: BudgetEntry): string {
  if (entry.id !== undefined) return entry.id;
  const scope = entry.scope === 'org' ? 'org' : `${entry.scope}:${entry.scope_id ?? ''}`;
  return `${scope}:${entry.period}:${entry.action ?? 'block'}`;
}

export function toTeamInput(entry: TeamEntry): TeamInput {
  return { id: entry.id, name: entry.name, rpmLimit: entry.rpm_limit ?? null, tpmLimit: entry.tpm_limit ?? null };
}

export function toUserInput(entry: UserEntry): UserInput {
  return {
    id: entry.id,
    name: entry.name,
    email: entry.email ?? null,
    teamId: entry.team_id,
    rpmLimit: entry.rpm_limit ?? null,
    tpmLimit: entry.tpm_limit ?? null,
  };
}

export function toBudgetInput(entry: BudgetEntry): BudgetInput {
  return {
    id: entry.id,
    name: entry.name ?? null,
    scope: { kind: entry.scope, id: entry.scope === 'org' ? 'org' : entry.scope_id ?? '' },
    period: toPeriod(entry),
    limitUsd: entry.limit_usd,
    action: entry.action ?? 'block',
    downgradeAlias: entry.downgrade_alias ?? null,
    thresholds: entry.thresholds,
  };
}

/** Converts a PATCH body. Period and scope fields change together with `period` and `scope`. */
export function toBudgetPatch(entry: BudgetPatchEntry): Partial<Omit<BudgetInput, 'id'>> {
  if (entry.id !== undefined) throw invalidField('id', 'A budget id cannot be changed. Create a new budget and delete this one instead.');
  const periodFields = entry.time_zone !== undefined || entry.window_start !== undefined || entry.window_days !== undefined;
  if (periodFields && entry.period === undefined) {
    throw invalidField('period', 'Missing period: to change time_zone, window_start or window_days, send period with them.');
  }
  if (entry.scope_id !== undefined && entry.scope === undefined) {
    throw invalidField('scope', 'Missing scope: to change scope_id, send scope with it.');
  }
  const patch: Partial<Omit<BudgetInput, 'id'>> = {};
  if (entry.name !== undefined) patch.name = entry.name;
  if (entry.scope !== undefined) patch.scope = { kind: entry.scope, id: entry.scope === 'org' ? 'org' : entry.scope_id ?? '' };
  if (entry.period !== undefined) patch.period = toPeriod(entry as BudgetEntryShape);
  if (entry.limit_usd !== undefined) patch.limitUsd = entry.limit_usd;
  if (entry.action !== undefined) patch.action = entry.action;
  if (entry.downgrade_alias !== undefined) patch.downgradeAlias = entry.downgrade_alias;
  if (entry.thresholds !== undefined) patch.thresholds = entry.thresholds;
  return patch;
}

/**
 * Parses a management API body with one of these schemas. Throws invalid_value whose param is
 * the field at fault and whose message states what the field accepts.
 */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  // A misspelt field also leaves its intended field missing; the unknown name is the better hint.
  const issue = result.error.issues.find((candidate) => candidate.code === 'unrecognized_keys') ?? result.error.issues[0]!;
  const field = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    throw invalidField(issue.keys[0] ?? field, `Unknown field(s) ${issue.keys.map((key) => `"${key}"`).join(', ')}; check the spelling.`);
  }
  if (field === '') throw invalidField('body', `Invalid request body: ${issue.message}.`);
  throw invalidField(field, `Invalid ${field}: ${issue.message}.`);
}

function toPeriod(entry: Pick<BudgetEntryShape, 'period' | 'time_zone' | 'window_start' | 'window_days'>): BudgetPeriod {
  if (entry.period === 'fixed') return { kind: 'fixed', start: entry.window_start ?? '', lengthDays: entry.window_days ?? 0 };
  return { kind: entry.period, timeZone: entry.time_zone ?? null };
}

function checkBudgetEntry(entry: BudgetEntryShape, ctx: z.RefinementCtx): void {
  if (entry.scope === 'org' && entry.scope_id !== undefined && entry.scope_id !== 'org') {
    ctx.addIssue({ code: 'custom', path: ['scope_id'], message: 'must be left out for the org scope (there is one organisation)' });
  }
  if (entry.scope !== 'org' && entry.scope_id === undefined) {
    ctx.addIssue({ code: 'custom', path: ['scope_id'], message: `is required for a ${entry.scope} budget: name the ${entry.scope} it applies to` });
  }
  if (entry.period === 'fixed') {
    if (entry.window_start === undefined) ctx.addIssue({ code: 'custom', path: ['window_start'], message: 'is required for a fixed period, such as "2026-01-01T00:00:00Z"' });
    if (entry.window_days === undefined) ctx.addIssue({ code: 'custom', path: ['window_days'], message: 'is required for a fixed period: the window length in days, such as 30' });
    if (entry.time_zone !== undefined) ctx.addIssue({ code: 'custom', path: ['time_zone'], message: 'applies only to daily, weekly and monthly periods; a fixed window starts at window_start' });
  } else {
    for (const field of ['window_start', 'window_days'] as const) {
      if (entry[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'applies only to the fixed period' });
    }
  }
  if (entry.action === 'downgrade' && entry.downgrade_alias === undefined) {
    ctx.addIssue({ code: 'custom', path: ['downgrade_alias'], message: 'is required for the downgrade action: the model_name to route to, normally a local model' });
  }
  if (entry.action !== 'downgrade' && entry.downgrade_alias !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['downgrade_alias'], message: 'applies only to action: downgrade' });
  }
}

function reportDuplicates(ids: string[], path: string, label: string, ctx: z.RefinementCtx, hint = ''): void {
  const seen = new Set<string>();
  ids.forEach((id, index) => {
    if (seen.has(id)) ctx.addIssue({ code: 'custom', path: [path, index], message: `repeats the ${label} '${id}'${hint}` });
    seen.add(id);
  });
}

function isTimeZone(value: string): boolean {
  try {
    validateTimeZone(value);
    return true;
  } catch (error) {
    if (error instanceof PeriodSpecError) return false;
    throw error;
  }
}
