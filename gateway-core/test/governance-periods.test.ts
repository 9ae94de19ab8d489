import { describe, expect, it } from 'vitest';
import { nextReset, periodAt, PeriodSpecError, validatePeriodSpec, type PeriodSpec } from '../src/governance/periods';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function at(iso: string): Date {
  return new Date(iso);
}

function hoursOf(spec: PeriodSpec, iso: string): number {
  const period = periodAt(spec, at(iso));
  return (period.end.getTime() - period.start.getTime()) / HOUR;
}

function expectSpecError(spec: unknown, field: string, messagePart: RegExp): void {
  let caught: unknown;
  try {
    validatePeriodSpec(spec);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(PeriodSpecError);
  expect((caught as PeriodSpecError).field).toBe(field);
  expect((caught as PeriodSpecError).message).toMatch(messagePart);
}

describe('monthly periods', () => {
  const saigon: PeriodSpec = { kind: 'monthly', timeZone: 'Asia/Ho_Chi_Minh' };

  it('rolls over at local midnight in Asia/Ho_Chi_Minh', () => {
    // 23:30 on 30 November local (UTC+7) is 16:30 UTC.
    const before = periodAt(saigon, at('2026-11-30T16:30:00Z'));
    expect(before.key).toBe('2026-11');
    expect(before.start.toISOString()).toBe('2026-10-31T17:00:00.000Z');
    expect(before.end.toISOString()).toBe('2026-11-30T17:00:00.000Z');

    // 00:30 on 1 December local is 17:30 UTC, still 30 November in UTC.
    const after = periodAt(saigon, at('2026-11-30T17:30:00Z'));
    expect(after.key).toBe('2026-12');
    expect(after.start.toISOString()).toBe('2026-11-30T17:00:00.000Z');
    expect(after.end.toISOString()).toBe('2026-12-31T17:00:00.000Z');
  });

  it('puts the boundary instant in the new month', () => {
    expect(periodAt(saigon, at('2026-11-30T17:00:00.000Z')).key).toBe('2026-12');
    expect(periodAt(saigon, at('2026-11-30T16:59:59.999Z')).key).toBe('2026-11');
  });

  it('rolls the year over', () => {
    const period = periodAt(saigon, at('2026-12-31T17:00:00Z'));
    expect(period.key).toBe('2027-01');
    expect(period.start.toISOString()).toBe('2026-12-31T17:00:00.000Z');
  });

  it('follows month lengths', () => {
    const utc: PeriodSpec = { kind: 'monthly', timeZone: 'UTC' };
    expect(hoursOf(utc, '2026-04-15T00:00:00Z')).toBe(30 * 24);
    expect(hoursOf(utc, '2026-05-15T00:00:00Z')).toBe(31 * 24);
    expect(hoursOf(utc, '2026-02-15T00:00:00Z')).toBe(28 * 24);
  });

  it('has 29 days in February of a leap year', () => {
    const utc: PeriodSpec = { kind: 'monthly', timeZone: 'UTC' };
    expect(hoursOf(utc, '2028-02-29T12:00:00Z')).toBe(29 * 24);
    expect(periodAt(utc, at('2028-02-29T23:59:59Z')).key).toBe('2028-02');
    expect(periodAt(utc, at('2028-03-01T00:00:00Z')).key).toBe('2028-03');
    // 1900 and 2100 are not leap years, 2000 is.
    expect(hoursOf(utc, '2100-02-10T00:00:00Z')).toBe(28 * 24);
    expect(hoursOf(utc, '2000-02-10T00:00:00Z')).toBe(29 * 24);
  });

  it('loses an hour in March in New York', () => {
    const newYork: PeriodSpec = { kind: 'monthly', timeZone: 'America/New_York' };
    const march = periodAt(newYork, at('2026-03-20T12:00:00Z'));
    expect(march.start.toISOString()).toBe('2026-03-01T05:00:00.000Z');
    expect(march.end.toISOString()).toBe('2026-04-01T04:00:00.000Z');
    expect(hoursOf(newYork, '2026-03-20T12:00:00Z')).toBe(31 * 24 - 1);
  });
});

describe('daily periods', () => {
  const newYork: PeriodSpec = { kind: 'daily', timeZone: 'America/New_York' };

  it('lasts 23 hours on the spring DST change', () => {
    // 8 March 2026: clocks go from 02:00 EST to 03:00 EDT.
    const period = periodAt(newYork, at('2026-03-08T12:00:00Z'));
    expect(period.key).toBe('2026-03-08');
    expect(period.start.toISOString()).toBe('2026-03-08T05:00:00.000Z');
    expect(period.end.toISOString()).toBe('2026-03-09T04:00:00.000Z');
  });

  it('lasts 25 hours on the autumn DST change', () => {
    // 1 November 2026: clocks go from 02:00 EDT back to 01:00 EST.
    const period = periodAt(newYork, at('2026-11-01T05:30:00Z'));
    expect(period.key).toBe('2026-11-01');
    expect(period.start.toISOString()).toBe('2026-11-01T04:00:00.000Z');
    expect(period.end.toISOString()).toBe('2026-11-02T05:00:00.000Z');
  });

  it('keeps both passes of the repeated hour in one day', () => {
    // 01:30 EDT and 01:30 EST on 1 November 2026.
    expect(periodAt(newYork, at('2026-11-01T05:30:00Z')).key).toBe('2026-11-01');
    expect(periodAt(newYork, at('2026-11-01T06:30:00Z')).key).toBe('2026-11-01');
  });

  it('starts at 01:00 when midnight is skipped', () => {
    // Chile moves its clocks from 00:00 to 01:00 on 6 September 2026, so that day starts at
    // 01:00 -03, which is 04:00 UTC, and lasts 23 hours.
    const santiago: PeriodSpec = { kind: 'daily', timeZone: 'America/Santiago' };
    const period = periodAt(santiago, at('2026-09-06T12:00:00Z'));
    expect(period.key).toBe('2026-09-06');
    expect(period.start.toISOString()).toBe('2026-09-06T04:00:00.000Z');
    expect(period.end.toISOString()).toBe('2026-09-07T03:00:00.000Z');
    expect(periodAt(santiago, at('2026-09-06T03:59:59Z')).key).toBe('2026-09-05');
  });

  it('skips a calendar day removed by the zone', () => {
    // Samoa moved across the date line, so 30 December 2011 never happened in Pacific/Apia.
    const apia: PeriodSpec = { kind: 'daily', timeZone: 'Pacific/Apia' };
    const before = periodAt(apia, at('2011-12-30T09:59:59Z'));
    const after = periodAt(apia, at('2011-12-30T10:00:00Z'));
    expect(before.key).toBe('2011-12-29');
    expect(after.key).toBe('2011-12-31');
    expect(before.end.getTime()).toBe(after.start.getTime());
  });

  it('has 24-hour days in UTC', () => {
    expect(hoursOf({ kind: 'daily', timeZone: 'UTC' }, '2026-03-08T12:00:00Z')).toBe(24);
  });

  it('uses the local date east of UTC', () => {
    const tokyo = periodAt({ kind: 'daily', timeZone: 'Asia/Tokyo' }, at('2026-06-30T15:00:00Z'));
    expect(tokyo.key).toBe('2026-07-01');
    expect(tokyo.start.toISOString()).toBe('2026-06-30T15:00:00.000Z');
  });

  it('handles a 45-minute offset', () => {
    const period = periodAt({ kind: 'daily', timeZone: 'Asia/Kathmandu' }, at('2026-06-30T18:15:00Z'));
    expect(period.key).toBe('2026-07-01');
    expect(period.start.toISOString()).toBe('2026-06-30T18:15:00.000Z');
  });
});

describe('weekly periods', () => {
  const berlin: PeriodSpec = { kind: 'weekly', timeZone: 'Europe/Berlin' };

  it('starts on Monday at local midnight', () => {
    // Wednesday 2 December 2026.
    const period = periodAt(berlin, at('2026-12-02T12:00:00Z'));
    expect(period.key).toBe('2026-W49');
    expect(period.start.toISOString()).toBe('2026-11-29T23:00:00.000Z');
    expect(period.end.toISOString()).toBe('2026-12-06T23:00:00.000Z');
  });

  it('counts Sunday night as the old week', () => {
    // Sunday 23:30 and Monday 00:30 local time (UTC+1).
    expect(periodAt(berlin, at('2026-12-06T22:30:00Z')).key).toBe('2026-W49');
    expect(periodAt(berlin, at('2026-12-06T23:30:00Z')).key).toBe('2026-W50');
  });

  it('loses an hour in the DST week', () => {
    // Clocks go forward on Sunday 29 March 2026.
    const period = periodAt(berlin, at('2026-03-25T12:00:00Z'));
    expect(period.key).toBe('2026-W13');
    expect(period.start.toISOString()).toBe('2026-03-22T23:00:00.000Z');
    expect(period.end.toISOString()).toBe('2026-03-29T22:00:00.000Z');
  });

  it('numbers weeks by ISO 8601 week-year', () => {
    const utc: PeriodSpec = { kind: 'weekly', timeZone: 'UTC' };
    // 1 January 2027 is a Friday, so it belongs to week 53 of 2026.
    expect(periodAt(utc, at('2027-01-01T12:00:00Z')).key).toBe('2026-W53');
    expect(periodAt(utc, at('2027-01-04T00:00:00Z')).key).toBe('2027-W01');
    // 29 December 2025 is a Monday in week 1 of 2026.
    expect(periodAt(utc, at('2025-12-29T00:00:00Z')).key).toBe('2026-W01');
    expect(periodAt(utc, at('2025-12-28T23:59:59Z')).key).toBe('2025-W52');
  });

  it('spans the leap day', () => {
    const utc: PeriodSpec = { kind: 'weekly', timeZone: 'UTC' };
    const period = periodAt(utc, at('2028-02-29T12:00:00Z'));
    expect(period.start.toISOString()).toBe('2028-02-28T00:00:00.000Z');
    expect(period.end.toISOString()).toBe('2028-03-06T00:00:00.000Z');
    expect(period.key).toBe('2028-W09');
  });
});

describe('fixed windows', () => {
  const thirtyDays: PeriodSpec = { kind: 'fixed', start: '2026-01-01T00:00:00Z', lengthDays: 30 };

  it('contains the start instant in the first window', () => {
    const period = periodAt(thirtyDays, at('2026-01-01T00:00:00Z'));
    expect(period.start.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(period.end.toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(period.key).toBe('2026-01-01T00:00:00.000Z');
  });

  it('repeats every length', () => {
    const period = periodAt(thirtyDays, at('2026-03-15T00:00:00Z'));
    expect(period.start.toISOString()).toBe('2026-03-02T00:00:00.000Z');
    expect(period.end.toISOString()).toBe('2026-04-01T00:00:00.000Z');
  });

  it('moves to the next window at the end', () => {
    expect(periodAt(thirtyDays, at('2026-01-30T23:59:59.999Z')).key).toBe('2026-01-01T00:00:00.000Z');
    expect(periodAt(thirtyDays, at('2026-01-31T00:00:00Z')).key).toBe('2026-01-31T00:00:00.000Z');
  });

  it('repeats backwards before the start', () => {
    const period = periodAt(thirtyDays, at('2025-12-15T00:00:00Z'));
    expect(period.start.toISOString()).toBe('2025-12-02T00:00:00.000Z');
    expect(period.end.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('ignores DST because lengths are exact', () => {
    const spec: PeriodSpec = { kind: 'fixed', start: '2026-03-07T12:00:00-05:00', lengthDays: 1 };
    const period = periodAt(spec, at('2026-03-08T18:00:00Z'));
    expect(period.start.toISOString()).toBe('2026-03-08T17:00:00.000Z');
    expect(period.end.getTime() - period.start.getTime()).toBe(DAY);
  });

  it('accepts a Date and a fractional length', () => {
    const spec: PeriodSpec = { kind: 'fixed', start: new Date('2026-01-01T00:00:00Z'), lengthDays: 0.5 };
    const period = periodAt(spec, at('2026-01-01T13:00:00Z'));
    expect(period.start.toISOString()).toBe('2026-01-01T12:00:00.000Z');
    expect(period.end.toISOString()).toBe('2026-01-02T00:00:00.000Z');
  });
});

describe('nextReset', () => {
  it('returns the end of the period', () => {
    const spec: PeriodSpec = { kind: 'monthly', timeZone: 'Asia/Ho_Chi_Minh' };
    expect(nextReset(spec, at('2026-11-30T16:30:00Z')).toISOString()).toBe('2026-11-30T17:00:00.000Z');
    expect(nextReset(spec, at('2026-11-30T17:00:00Z')).toISOString()).toBe('2026-12-31T17:00:00.000Z');
  });

  it('returns the next fixed window start', () => {
    const spec: PeriodSpec = { kind: 'fixed', start: '2026-01-01T00:00:00Z', lengthDays: 30 };
    expect(nextReset(spec, at('2026-01-10T00:00:00Z')).toISOString()).toBe('2026-01-31T00:00:00.000Z');
  });
});

describe('period invariants', () => {
  it('contains the instant and abuts its neighbours', () => {
    const specs: PeriodSpec[] = [
      { kind: 'daily', timeZone: 'America/New_York' },
      { kind: 'daily', timeZone: 'America/Santiago' },
      { kind: 'daily', timeZone: 'Australia/Lord_Howe' },
      { kind: 'weekly', timeZone: 'Europe/Berlin' },
      { kind: 'monthly', timeZone: 'Asia/Ho_Chi_Minh' },
      { kind: 'monthly', timeZone: 'Pacific/Chatham' },
      { kind: 'fixed', start: '2026-01-01T00:00:00Z', lengthDays: 7.25 },
    ];
    // Every 7 hours and 13 minutes through 2026 and 2027, which crosses each DST change.
    const step = 7 * HOUR + 13 * 60_000;
    for (const spec of specs) {
      for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2028, 0, 1); t += step) {
        const period = periodAt(spec, new Date(t));
        const label = `${JSON.stringify(spec)} at ${new Date(t).toISOString()}`;
        expect(period.start.getTime(), label).toBeLessThanOrEqual(t);
        expect(period.end.getTime(), label).toBeGreaterThan(t);
        expect(periodAt(spec, new Date(period.end.getTime() - 1)).key, label).toBe(period.key);
        expect(periodAt(spec, period.end).start.getTime(), label).toBe(period.end.getTime());
        expect(periodAt(spec, period.end).key, label).not.toBe(period.key);
      }
    }
  });
});

describe('period spec validation', () => {
  it('rejects an unknown time zone', () => {
    expectSpecError({ kind: 'daily', timeZone: 'Mars/Olympus_Mons' }, 'timeZone', /Invalid time zone "Mars\/Olympus_Mons".*IANA/);
  });

  it('rejects a missing time zone', () => {
    expectSpecError({ kind: 'monthly' }, 'timeZone', /Missing time zone.*got undefined/);
    expectSpecError({ kind: 'weekly', timeZone: '' }, 'timeZone', /Missing time zone/);
    expectSpecError({ kind: 'weekly', timeZone: 7 }, 'timeZone', /got 7/);
  });

  it('canonicalizes the zone name', () => {
    expect(validatePeriodSpec({ kind: 'daily', timeZone: 'utc' })).toEqual({ kind: 'daily', timeZone: 'UTC' });
  });

  it('rejects an unknown kind', () => {
    expectSpecError({ kind: 'yearly', timeZone: 'UTC' }, 'kind', /"yearly".*daily, weekly, monthly, fixed/);
    expectSpecError({ timeZone: 'UTC' }, 'kind', /undefined/);
  });

  it('rejects a spec that is not an object', () => {
    expectSpecError('monthly', 'period', /expected an object/);
    expectSpecError(null, 'period', /expected an object/);
  });

  it('rejects a fixed start without a zone', () => {
    expectSpecError({ kind: 'fixed', start: '2026-01-01T00:00:00', lengthDays: 30 }, 'start', /UTC offset/);
    expectSpecError({ kind: 'fixed', start: '2026-01-01', lengthDays: 30 }, 'start', /UTC offset/);
    expectSpecError({ kind: 'fixed', start: 'yesterday Z', lengthDays: 30 }, 'start', /ISO 8601/);
    expectSpecError({ kind: 'fixed', start: new Date(Number.NaN), lengthDays: 30 }, 'start', /invalid/);
    expectSpecError({ kind: 'fixed', lengthDays: 30 }, 'start', /undefined/);
  });

  it('rejects a bad fixed length', () => {
    const start = '2026-01-01T00:00:00+07:00';
    expectSpecError({ kind: 'fixed', start, lengthDays: 0 }, 'lengthDays', /from one minute/);
    expectSpecError({ kind: 'fixed', start, lengthDays: -30 }, 'lengthDays', /-30/);
    expectSpecError({ kind: 'fixed', start, lengthDays: Number.POSITIVE_INFINITY }, 'lengthDays', /lengthDays/);
    expectSpecError({ kind: 'fixed', start, lengthDays: '30' }, 'lengthDays', /"30"/);
    expectSpecError({ kind: 'fixed', start, lengthDays: 1e300 }, 'lengthDays', /to 36500/);
    expectSpecError({ kind: 'fixed', start, lengthDays: 0.0001 }, 'lengthDays', /one minute/);
  });

  it('makes periodAt throw for a bad spec', () => {
    expect(() => periodAt({ kind: 'daily', timeZone: 'Nowhere/City' }, new Date())).toThrow(PeriodSpecError);
  });

  it('rejects an invalid instant', () => {
    expect(() => periodAt({ kind: 'daily', timeZone: 'UTC' }, new Date(Number.NaN))).toThrow(/Invalid instant/);
  });
});
