import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GovernancePrincipal } from '../src/governance/scopes';
import { forecastLinear, periodsBetween } from '../src/governance/reports';
import { admitted, attempt, openGovernance, seedOrganisation, spend, type GovernanceFixture } from './helpers/governance';

let fixture: GovernanceFixture;
let alice: GovernancePrincipal;
let bob: GovernancePrincipal;

const DAY = 86_400_000;

beforeEach(() => {
  fixture = openGovernance({ start: '2026-11-01T00:00:00Z' });
  ({ alice, bob } = seedOrganisation(fixture));
});

afterEach(() => {
  fixture.dispose();
});

/** Settles a request at `costUsd` that would have cost `wouldHave` on gpt-4o, the model the client asked for. */
function record(principal: GovernancePrincipal, costUsd: number, wouldHave: number, overrides: { alias?: string; model?: string } = {}): void {
  const alias = overrides.alias ?? 'gpt-4o';
  const reservation = admitted(
    fixture.gov.admission.admit(
      attempt(principal, costUsd, { alias, requestedModel: 'gpt-4o', deployment: { id: `${alias}#0`, model: overrides.model ?? alias } }),
    ),
  );
  fixture.gov.admission.settle(reservation, { costUsd, estimated: false, wouldHaveCostUsd: wouldHave });
}

describe('budget status', () => {
  it('reports spend, remaining and reset of the current period', () => {
    const { id } = fixture.gov.budgets.create({ scope: { kind: 'team', id: 'backend' }, period: { kind: 'monthly', timeZone: 'UTC' }, limitUsd: 500 });
    fixture.clock.set('2026-11-11T00:00:00Z');
    spend(fixture, alice, 100);
    admitted(fixture.gov.admission.admit(attempt(alice, 20)));

    const status = fixture.gov.reports.budgetStatus(id);
    expect(status.periodKey).toBe('2026-11');
    expect(status.periodStart).toBe(Date.parse('2026-11-01T00:00:00Z'));
    expect(status.resetAt).toBe(Date.parse('2026-12-01T00:00:00Z'));
    expect(status.spentUsd).toBe(100);
    expect(status.reservedUsd).toBe(20);
    expect(status.remainingUsd).toBe(380);
    expect(status.percentUsed).toBe(20);
    // $100 in 10 of 30 days projects $300 by the end of November.
    expect(status.forecast.projectedUsd).toBeCloseTo(300, 9);
    expect(status.forecast.exhaustsAt).toBeNull();
  });

  it('lists the status of every budget of a scope', () => {
    fixture.gov.budgets.create({ scope: { kind: 'team', id: 'backend' }, period: { kind: 'monthly', timeZone: 'UTC' }, limitUsd: 500 });
    fixture.gov.budgets.create({ scope: { kind: 'team', id: 'backend' }, period: { kind: 'daily', timeZone: 'UTC' }, limitUsd: 40 });
    fixture.gov.budgets.create({ scope: { kind: 'team', id: 'marketing' }, period: { kind: 'monthly', timeZone: 'UTC' }, limitUsd: 100 });
    const statuses = fixture.gov.reports.budgetStatuses({ scope: { kind: 'team', id: 'backend' } });
    expect(statuses.map((status) => status.periodKey).sort()).toEqual(['2026-11', '2026-11-01']);
  });

  it('reports an unknown budget as not found', () => {
    expect(() => fixture.gov.reports.budgetStatus('bud_missing')).toThrow(/does not exist/);
  });

  it('reports spend of a scope without a budget', () => {
    spend(fixture, bob, 3);
    const report = fixture.gov.reports.scopeSpend({ kind: 'user', id: 'bob' }, { kind: 'weekly', timeZone: 'UTC' });
    expect(report.period.key).toBe('2026-W44');
    expect(report.spentUsd).toBe(3);
  });
});

describe('forecastLinear', () => {
  const period = { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2026-12-01T00:00:00Z') };

  it('finds when the limit is reached', () => {
    const now = Date.parse('2026-11-06T00:00:00Z');
    const forecast = forecastLinear(100, 500, period, now);
    expect(forecast.projectedUsd).toBeCloseTo(600, 9);
    expect(forecast.exhaustsAt).toBe(Date.parse('2026-11-26T00:00:00Z'));
  });

  it('projects nothing at the start of a period', () => {
    expect(forecastLinear(0, 500, period, period.start.getTime())).toEqual({ projectedUsd: 0, exhaustsAt: null });
  });

  it('says a spent budget is exhausted now', () => {
    const now = Date.parse('2026-11-20T00:00:00Z');
    expect(forecastLinear(500, 500, period, now).exhaustsAt).toBe(now);
  });
});

describe('spend by dimension', () => {
  beforeEach(() => {
    record(alice, 1, 2, { model: 'gpt-4o-2024-08-06' });
    record(alice, 0.5, 0.5, { model: 'gpt-4o-2024-08-06' });
    record(bob, 0, 0.4, { alias: 'local-coder', model: 'qwen2.5-coder:32b' });
    fixture.gov.ledger.recordCacheHit({ requestId: 'cached', principal: bob, alias: 'gpt-4o', requestedModel: 'gpt-4o', wouldHaveCostUsd: 0.25 });
  });

  const november = { from: Date.parse('2026-11-01T00:00:00Z'), to: Date.parse('2026-12-01T00:00:00Z') };

  it('groups by team', () => {
    const rows = fixture.gov.reports.spendBy('team', november);
    expect(rows.map((row) => [row.group, row.costUsd, row.requests])).toEqual([
      ['backend', 1.5, 2],
      ['marketing', 0, 2],
    ]);
    expect(rows[1]!.cacheHits).toBe(1);
    expect(rows[1]!.savedUsd).toBeCloseTo(0.65, 12);
  });

  it('groups by user', () => {
    const rows = fixture.gov.reports.spendBy('user', november);
    expect(rows.map((row) => row.group)).toEqual(['alice', 'bob']);
  });

  it('groups by model', () => {
    const rows = fixture.gov.reports.spendBy('model', november);
    expect(rows.map((row) => [row.group, row.costUsd])).toEqual([
      ['gpt-4o-2024-08-06', 1.5],
      [null, 0],
      ['qwen2.5-coder:32b', 0],
    ]);
  });

  it('groups by alias within a scope', () => {
    const rows = fixture.gov.reports.spendBy('alias', { ...november, scope: { kind: 'team', id: 'marketing' } });
    expect(rows.map((row) => row.group).sort()).toEqual(['gpt-4o', 'local-coder']);
  });

  it('groups by local day', () => {
    fixture.clock.set('2026-11-02T20:00:00Z'); // 3 November in Ho Chi Minh City
    record(alice, 2, 2);
    const rows = fixture.gov.reports.spendBy('day', {
      from: Date.parse('2026-11-01T00:00:00+07:00'),
      to: Date.parse('2026-11-04T00:00:00+07:00'),
      timeZone: 'Asia/Ho_Chi_Minh',
    });
    expect(rows.map((row) => [row.group, row.costUsd])).toEqual([
      ['2026-11-01', 1.5],
      ['2026-11-02', 0],
      ['2026-11-03', 2],
    ]);
  });

  it('rejects an empty range', () => {
    expect(() => fixture.gov.reports.spendBy('team', { from: 10, to: 10 })).toThrow(/"to" must be after "from"/);
  });
});

describe('savings by team and month', () => {
  it('splits savings into cache and routing', () => {
    record(alice, 1, 3);
    fixture.gov.ledger.recordCacheHit({ requestId: 'cached', principal: alice, alias: 'gpt-4o', requestedModel: 'gpt-4o', wouldHaveCostUsd: 0.5 });
    fixture.clock.set('2026-12-03T00:00:00Z');
    record(alice, 2, 2);

    const rows = fixture.gov.reports.savingsByTeamAndMonth({ from: Date.parse('2026-11-01T00:00:00Z'), to: Date.parse('2027-01-01T00:00:00Z') });
    expect(rows).toEqual([
      { month: '2026-11', teamId: 'backend', wouldHaveCostUsd: 3.5, costUsd: 1, savedUsd: 2.5, cacheSavedUsd: 0.5, routingSavedUsd: 2, requests: 2, cacheHits: 1 },
      { month: '2026-12', teamId: 'backend', wouldHaveCostUsd: 2, costUsd: 2, savedUsd: 0, cacheSavedUsd: 0, routingSavedUsd: 0, requests: 1, cacheHits: 0 },
    ]);
  });

  it('leaves out released attempts', () => {
    const reservation = admitted(fixture.gov.admission.admit(attempt(alice, 5)));
    fixture.gov.admission.release(reservation);
    const rows = fixture.gov.reports.savingsByTeamAndMonth({ from: Date.parse('2026-11-01T00:00:00Z'), to: Date.parse('2026-12-01T00:00:00Z') });
    expect(rows).toEqual([]);
  });
});

describe('periodsBetween', () => {
  it('lists overlapping periods', () => {
    const periods = periodsBetween({ kind: 'daily', timeZone: 'UTC' }, Date.parse('2026-11-01T12:00:00Z'), Date.parse('2026-11-03T00:00:00Z'));
    expect(periods.map((period) => period.key)).toEqual(['2026-11-01', '2026-11-02']);
    expect(periods[1]!.end.getTime() - periods[1]!.start.getTime()).toBe(DAY);
  });
});
