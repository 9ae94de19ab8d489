/**
 * Budget periods. Calendar periods (daily, weekly, monthly) follow the wall clock of an IANA time
 * zone, so a "day" lasts 23 or 25 hours across a DST change. Fixed windows are exact durations
 * that repeat from a start instant. All time zone arithmetic uses `Intl.DateTimeFormat`.
 */

export type CalendarPeriodKind = 'daily' | 'weekly' | 'monthly';

export type PeriodSpec =
  | { kind: CalendarPeriodKind; /** IANA time zone name, e.g. "Europe/Berlin" or "UTC". */ timeZone: string }
  | {
      kind: 'fixed';
      /** First window's start: a Date or an ISO 8601 string with "Z" or a UTC offset. */
      start: Date | string;
      /** Window length in exact 24-hour days, not calendar days. Fractions are allowed. */
      lengthDays: number;
    };

export interface Period {
  /** Inclusive. */
  start: Date;
  /** Exclusive. */
  end: Date;
  /**
   * Stable label of the period: "2026-12-05" (daily), "2026-W49" (ISO 8601 week), "2026-12"
   * (monthly), or the window's start as an ISO string (fixed).
   */
  key: string;
}

export const PERIOD_KINDS = ['daily', 'weekly', 'monthly', 'fixed'] as const;

/** An invalid period spec. `field` names the property that is invalid. */
export class PeriodSpecError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'PeriodSpecError';
  }
}

const DAY_MS = 86_400_000;
const MIN_FIXED_LENGTH_MS = 60_000;
const MAX_FIXED_LENGTH_DAYS = 36_500;
const OFFSET_SUFFIX = /(?:[zZ]|[+-]\d{2}:?\d{2})$/;

/**
 * Returns the period of a budget at `instant`: the calendar period that contains it, or for a
 * fixed spec its one window, which a budget uses once and never repeats (before the window it is
 * the coming window, after it the ended one). Throws PeriodSpecError for an invalid spec.
 */
export function budgetPeriodAt(spec: PeriodSpec, instant: Date): Period {
  const checked = validatePeriodSpec(spec);
  if (checked.kind !== 'fixed') return periodAt(spec, instant);
  return fixedWindowAt(checked.startMs, checked.lengthMs, checked.startMs);
}

/** Returns whether a budget with `spec` applies at `instant`: always for calendar periods, inside its window for a fixed one. */
export function budgetInForce(spec: PeriodSpec, instant: Date): boolean {
  const checked = validatePeriodSpec(spec);
  if (checked.kind !== 'fixed') return true;
  const t = instantMs(instant);
  return t >= checked.startMs && t < checked.startMs + checked.lengthMs;
}

/**
 * Returns the period that contains `instant`; fixed windows repeat from their start in both
 * directions here. Throws PeriodSpecError for an invalid spec and RangeError for an invalid Date.
 */
export function periodAt(spec: PeriodSpec, instant: Date): Period {
  const t = instantMs(instant);
  const checked = validatePeriodSpec(spec);

  if (checked.kind === 'fixed') return fixedWindowAt(checked.startMs, checked.lengthMs, t);

  // Computing a calendar period takes about ten formatToParts calls, and most calls fall in the
  // period computed last, so the latest one per kind and zone is kept.
  const memoKey = `${checked.kind} ${checked.timeZone}`;
  const latest = latestPeriods.get(memoKey);
  if (latest && latest.startMs <= t && t < latest.endMs) {
    return { start: new Date(latest.startMs), end: new Date(latest.endMs), key: latest.key };
  }

  const period = calendarPeriodAt(checked.kind, zoneFor(checked.timeZone), t);
  latestPeriods.set(memoKey, { startMs: period.start.getTime(), endMs: period.end.getTime(), key: period.key });
  return period;
}

const latestPeriods = new Map<string, { startMs: number; endMs: number; key: string }>();

function calendarPeriodAt(kind: CalendarPeriodKind, zone: Zone, t: number): Period {
  const today = zone.dateAt(t);

  switch (kind) {
    case 'daily': {
      return {
        start: new Date(zone.startOfDay(today)),
        end: new Date(zone.startOfDay(addDays(today, 1))),
        key: formatDate(today),
      };
    }
    case 'weekly': {
      const monday = addDays(today, -((weekday(today) + 6) % 7));
      return {
        start: new Date(zone.startOfDay(monday)),
        end: new Date(zone.startOfDay(addDays(monday, 7))),
        key: isoWeekKey(monday),
      };
    }
    case 'monthly': {
      const first = { year: today.year, month: today.month, day: 1 };
      const next = today.month === 12 ? { year: today.year + 1, month: 1, day: 1 } : { year: today.year, month: today.month + 1, day: 1 };
      return {
        start: new Date(zone.startOfDay(first)),
        end: new Date(zone.startOfDay(next)),
        key: `${pad(first.year, 4)}-${pad(first.month, 2)}`,
      };
    }
  }
}

/** Returns the instant at which the period containing `instant` ends and the next one begins. */
export function nextReset(spec: PeriodSpec, instant: Date): Date {
  return periodAt(spec, instant).end;
}

/** A validated period spec: the canonical zone name, or the fixed window in milliseconds. */
export type NormalizedPeriodSpec =
  | { kind: CalendarPeriodKind; timeZone: string }
  | { kind: 'fixed'; startMs: number; lengthMs: number };

/**
 * Checks a period spec, for example one read from a config file, and returns it in a normalized
 * form. Throws PeriodSpecError naming the field and the values it accepts.
 */
export function validatePeriodSpec(input: unknown): NormalizedPeriodSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new PeriodSpecError('period', `Invalid budget period: expected an object with a "kind" field, got ${describe(input)}.`);
  }
  const spec = input as Record<string, unknown>;
  const kind = spec.kind;

  if (kind === 'daily' || kind === 'weekly' || kind === 'monthly') {
    return { kind, timeZone: validateTimeZone(spec.timeZone) };
  }

  if (kind === 'fixed') {
    return { kind, startMs: parseFixedStart(spec.start), lengthMs: parseFixedLength(spec.lengthDays) };
  }

  throw new PeriodSpecError('kind', `Invalid budget period kind ${describe(kind)}: expected one of ${PERIOD_KINDS.join(', ')}.`);
}

/** Checks an IANA time zone name and returns its canonical spelling ("utc" becomes "UTC"). */
export function validateTimeZone(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new PeriodSpecError('timeZone', `Missing time zone: "timeZone" must be an IANA time zone name such as "Europe/Berlin" or "UTC", got ${describe(value)}.`);
  }
  try {
    return zoneFor(value).name;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new PeriodSpecError('timeZone', `Invalid time zone ${describe(value)} in "timeZone": expected an IANA time zone name such as "Europe/Berlin", "America/New_York" or "UTC".`);
  }
}

function parseFixedStart(value: unknown): number {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new PeriodSpecError('start', 'Invalid fixed window "start": the Date is invalid.');
    return value.getTime();
  }
  // A string without a zone would be read in the process's local time zone, which differs
  // between workstations, so the offset is required.
  if (typeof value !== 'string' || !OFFSET_SUFFIX.test(value.trim()) || Number.isNaN(Date.parse(value))) {
    throw new PeriodSpecError('start', `Invalid fixed window "start" ${describe(value)}: expected an ISO 8601 instant with "Z" or a UTC offset, such as "2026-01-01T00:00:00Z".`);
  }
  return Date.parse(value);
}

function parseFixedLength(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.round(value * DAY_MS) < MIN_FIXED_LENGTH_MS || value > MAX_FIXED_LENGTH_DAYS) {
    throw new PeriodSpecError('lengthDays', `Invalid fixed window "lengthDays" ${describe(value)}: expected a number of days from one minute (1/1440) to ${MAX_FIXED_LENGTH_DAYS}, such as 30.`);
  }
  return Math.round(value * DAY_MS);
}

/** Windows repeat in both directions from `startMs`, so an instant before the start also has a window. */
function fixedWindowAt(startMs: number, lengthMs: number, t: number): Period {
  const index = Math.floor((t - startMs) / lengthMs);
  const start = startMs + index * lengthMs;
  return { start: new Date(start), end: new Date(start + lengthMs), key: new Date(start).toISOString() };
}

function instantMs(instant: Date): number {
  const t = instant instanceof Date ? instant.getTime() : Number.NaN;
  if (Number.isNaN(t)) throw new RangeError(`Invalid instant ${describe(instant)}: expected a valid Date.`);
  return t;
}

// ---- calendar dates (proleptic Gregorian, no time zone) ----

interface CalendarDate {
  year: number;
  /** 1 to 12. */
  month: number;
  day: number;
}

function addDays(date: CalendarDate, days: number): CalendarDate {
  const d = new Date(utcMidnight(date) + days * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** 0 is Sunday, as in Date.getUTCDay. */
function weekday(date: CalendarDate): number {
  return new Date(utcMidnight(date)).getUTCDay();
}

function utcMidnight(date: CalendarDate): number {
  const d = new Date(0);
  d.setUTCFullYear(date.year, date.month - 1, date.day);
  return d.getTime();
}

/** ISO 8601 week key of the week that starts on `monday`. A week belongs to the year of its Thursday. */
function isoWeekKey(monday: CalendarDate): string {
  const thursday = addDays(monday, 3);
  const dayOfYear = Math.round((utcMidnight(thursday) - utcMidnight({ year: thursday.year, month: 1, day: 1 })) / DAY_MS);
  const week = Math.floor(dayOfYear / 7) + 1;
  return `${pad(thursday.year, 4)}-W${pad(week, 2)}`;
}

function formatDate(date: CalendarDate): string {
  return `${pad(date.year, 4)}-${pad(date.month, 2)}-${pad(date.day, 2)}`;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (value === undefined) return 'undefined';
  return JSON.stringify(value) ?? String(value);
}

// ---- time zones ----

interface Zone {
  name: string;
  /** Local calendar date at instant `t`. */
  dateAt(t: number): CalendarDate;
  /** First instant whose local date is `date` or later. */
  startOfDay(date: CalendarDate): number;
}

// Building a DateTimeFormat is far slower than using one, so each zone's formatter is kept.
const zones = new Map<string, Zone>();

function zoneFor(timeZone: string): Zone {
  let zone = zones.get(timeZone);
  if (!zone) {
    zone = createZone(timeZone);
    zones.set(timeZone, zone);
  }
  return zone;
}

function createZone(timeZone: string): Zone {
  // Throws RangeError for a name the ICU data does not contain.
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    era: 'short',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });

  /** Local wall-clock time at `t`, written as if it were a UTC timestamp (seconds precision). */
  function wallClock(t: number): number {
    const fields: Record<string, string> = {};
    for (const part of format.formatToParts(t)) fields[part.type] = part.value;
    const yearOfEra = Number(fields.year);
    const year = fields.era === 'BC' || fields.era === 'B' ? 1 - yearOfEra : yearOfEra;
    const d = new Date(0);
    d.setUTCFullYear(year, Number(fields.month) - 1, Number(fields.day));
    d.setUTCHours(Number(fields.hour), Number(fields.minute), Number(fields.second));
    return d.getTime();
  }

  function dateAt(t: number): CalendarDate {
    const d = new Date(wallClock(t));
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
  }

  function offsetAt(t: number): number {
    const seconds = Math.floor(t / 1000) * 1000;
    return wallClock(seconds) - seconds;
  }

  function startOfDay(date: CalendarDate): number {
    const midnight = utcMidnight(date);
    // UTC offsets lie within ±14 hours, so the offsets one day before and after midnight are
    // the ones in effect on either side of any transition near that midnight.
    const before = midnight - offsetAt(midnight - DAY_MS);
    const after = midnight - offsetAt(midnight + DAY_MS);
    const candidates = [before, after].filter((t) => wallClock(t) === midnight).sort((a, b) => a - b);
    if (candidates[0] !== undefined) return candidates[0];

    // Midnight falls in a DST gap (clocks jump from 23:59 to 01:00, as in America/Havana), so
    // the day starts at the transition, which a binary search finds.
    let low = Math.min(before, after) - DAY_MS;
    let high = Math.max(before, after) + DAY_MS;
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (wallClock(mid) >= midnight) high = mid;
      else low = mid;
    }
    return high;
  }

  return { name: format.resolvedOptions().timeZone, dateAt, startOfDay };
}
