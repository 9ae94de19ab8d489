/**
 * Checks of budget fields that need no database. Each error names the field as the management
 * API and the config file spell it, and states what the field accepts.
 */
import type { BudgetPeriod } from './budgets';
import { invalidField } from './errors';
import { PeriodSpecError, validatePeriodSpec, validateTimeZone } from './periods';

const MAX_THRESHOLDS = 10;
/** An upper bound that catches a limit typed in cents or with extra zeros. */
const MAX_LIMIT_USD = 1_000_000_000;
/** Budget ids: 1 to 300 characters without spaces or control characters, room for a derived config id. */
export const BUDGET_ID_PATTERN = /^[^\s\u0000-\u001f\u007f]{1,300}$/;

/** Checks a budget period and returns it with a fixed window's start in ISO form. */
export function checkPeriod(period: BudgetPeriod | undefined): BudgetPeriod {
  if (period === undefined || period === null) throw invalidField('period', 'Missing period: expected daily, weekly, monthly or fixed.');
  if (period.kind === 'fixed') {
    try {
      // A fixed spec validates to a fixed spec.
      const checked = validatePeriodSpec({ kind: 'fixed', start: period.start, lengthDays: period.lengthDays }) as { startMs: number };
      return { kind: 'fixed', start: new Date(checked.startMs).toISOString(), lengthDays: period.lengthDays };
    } catch (error) {
      throw periodError(error);
    }
  }
  if (period.kind !== 'daily' && period.kind !== 'weekly' && period.kind !== 'monthly') {
    throw invalidField('period', `Invalid period ${JSON.stringify(period.kind)}: expected daily, weekly, monthly or fixed.`);
  }
  const timeZone = period.timeZone === null || period.timeZone === undefined ? null : checkTimeZone(period.timeZone, 'time_zone');
  return { kind: period.kind, timeZone };
}

/**
 * Checks a zone name and returns it as written, because ICU's canonical name can be an older
 * one ("Asia/Saigon" for "Asia/Ho_Chi_Minh") that would surprise the person who wrote it.
 */
export function checkTimeZone(value: string, field: string): string {
  try {
    validateTimeZone(value);
    return value;
  } catch (error) {
    if (!(error instanceof PeriodSpecError)) throw error;
    throw invalidField(field, `Invalid ${field} ${JSON.stringify(value)}: expected an IANA time zone name such as "Europe/Berlin", "Asia/Ho_Chi_Minh" or "UTC".`);
  }
}

/** Maps a PeriodSpecError to the API and config field names. */
function periodError(error: unknown): Error {
  if (!(error instanceof PeriodSpecError)) return error as Error;
  const fields: Record<string, string> = { start: 'window_start', lengthDays: 'window_days', timeZone: 'time_zone', kind: 'period' };
  const field = fields[error.field] ?? 'period';
  const message = error.message.replace('"start"', '"window_start"').replace('"lengthDays"', '"window_days"');
  return invalidField(field, message);
}

export function checkLimitUsd(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_LIMIT_USD) {
    throw invalidField('limit_usd', `Invalid limit_usd ${JSON.stringify(value) ?? String(value)}: expected an amount in USD from 0 to ${MAX_LIMIT_USD}, such as 500.`);
  }
  return value;
}

export function checkThresholds(value: unknown): number[] {
  const valid =
    Array.isArray(value) &&
    value.length <= MAX_THRESHOLDS &&
    value.every((t) => typeof t === 'number' && Number.isFinite(t) && t > 0 && t <= 100);
  if (!valid) {
    throw invalidField('thresholds', `Invalid thresholds ${JSON.stringify(value) ?? String(value)}: expected up to ${MAX_THRESHOLDS} percentages above 0 and at most 100, such as [50, 80, 100].`);
  }
  return [...new Set(value as number[])].sort((a, b) => a - b);
}

export function checkBudgetId(value: unknown): string {
  if (typeof value !== 'string' || !BUDGET_ID_PATTERN.test(value)) {
    throw invalidField('id', `Invalid id ${JSON.stringify(value) ?? String(value)}: expected 1 to 300 characters without spaces or control characters, such as "backend-monthly".`);
  }
  return value;
}
