import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../src/errors';
import type { BudgetInput } from '../src/governance/budgets';
import type { GovernancePrincipal } from '../src/governance/scopes';
import { openGovernance, seedOrganisation, type GovernanceFixture } from './helpers/governance';

let fixture: GovernanceFixture;
let alice: GovernancePrincipal;

const knownAliases = new Set(['gpt-4o', 'claude-sonnet', 'local-coder']);

beforeEach(() => {
  fixture = openGovernance({ isKnownAlias: (alias) => knownAliases.has(alias) });
  ({ alice } = seedOrganisation(fixture));
});

afterEach(() => {
  fixture.dispose();
});

function monthly(scope: BudgetInput['scope'], limitUsd: number, extra: Partial<BudgetInput> = {}): BudgetInput {
  return { scope, period: { kind: 'monthly', timeZone: null }, limitUsd, ...extra };
}

function rejection(input: BudgetInput): GatewayError {
  try {
    fixture.gov.budgets.create(input);
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected the budget to be rejected');
}

describe('budget creation', () => {
  it('creates a budget on every scope', () => {
    const scopes: BudgetInput['scope'][] = [
      { kind: 'org', id: 'org' },
      { kind: 'team', id: 'backend' },
      { kind: 'user', id: 'alice' },
      { kind: 'key', id: alice.keyId },
      { kind: 'alias', id: 'gpt-4o' },
    ];
    for (const scope of scopes) fixture.gov.budgets.create(monthly(scope, 10));
    expect(fixture.gov.budgets.list().map((b) => b.scope.kind).sort()).toEqual(['alias', 'key', 'org', 'team', 'user']);
  });

  it('fills in defaults', () => {
    const budget = fixture.gov.budgets.create(monthly({ kind: 'team', id: 'backend' }, 500));
    expect(budget.id).toMatch(/^bud_[0-9a-f]{12}$/);
    expect(budget.action).toBe('block');
    expect(budget.downgradeAlias).toBeNull();
    expect(budget.thresholds).toEqual([50, 80, 100]);
    expect(budget.source).toBe('api');
  });

  it('sorts and deduplicates thresholds', () => {
    const budget = fixture.gov.budgets.create(monthly({ kind: 'org', id: 'org' }, 1, { thresholds: [90, 25, 90] }));
    expect(budget.thresholds).toEqual([25, 90]);
  });

  it('keeps a fixed window start as an ISO instant', () => {
    const budget = fixture.gov.budgets.create({
      scope: { kind: 'org', id: 'org' },
      period: { kind: 'fixed', start: '2026-01-01T00:00:00+07:00', lengthDays: 14 },
      limitUsd: 50,
    });
    expect(budget.period).toEqual({ kind: 'fixed', start: '2025-12-31T17:00:00.000Z', lengthDays: 14 });
  });

  it('survives a restart', () => {
    const created = fixture.gov.budgets.create(monthly({ kind: 'team', id: 'backend' }, 500));
    fixture.restart();
    expect(fixture.gov.budgets.get(created.id)).toEqual(created);
  });
});

describe('budget validation', () => {
  const cases: Array<{ name: string; input: () => BudgetInput; field: string; message: RegExp }> = [
    { name: 'negative limit', input: () => monthly({ kind: 'org', id: 'org' }, -1), field: 'limit_usd', message: /from 0 to/ },
    { name: 'limit not a number', input: () => monthly({ kind: 'org', id: 'org' }, Number.NaN), field: 'limit_usd', message: /amount in USD/ },
    { name: 'unknown scope kind', input: () => monthly({ kind: 'project' as never, id: 'x' }, 1), field: 'scope', message: /org, team, user, key, alias/ },
    { name: 'missing team', input: () => monthly({ kind: 'team', id: 'sales' }, 1), field: 'scope_id', message: /team 'sales' does not exist\. Create the team first/ },
    { name: 'missing user', input: () => monthly({ kind: 'user', id: 'zoe' }, 1), field: 'scope_id', message: /Create the user first/ },
    { name: 'missing key', input: () => monthly({ kind: 'key', id: 'key_nope' }, 1), field: 'scope_id', message: /existing key/ },
    { name: 'unknown alias', input: () => monthly({ kind: 'alias', id: 'gpt-5-ultra' }, 1), field: 'scope_id', message: /model_name from model_list/ },
    { name: 'org with an id', input: () => monthly({ kind: 'org', id: 'acme' }, 1), field: 'scope_id', message: /leave scope_id out/ },
    {
      name: 'downgrade without alias',
      input: () => monthly({ kind: 'team', id: 'backend' }, 1, { action: 'downgrade' }),
      field: 'downgrade_alias',
      message: /needs the model_name to route to/,
    },
    {
      name: 'block with alias',
      input: () => monthly({ kind: 'team', id: 'backend' }, 1, { downgradeAlias: 'local-coder' }),
      field: 'downgrade_alias',
      message: /applies only to the downgrade action/,
    },
    {
      name: 'unknown downgrade alias',
      input: () => monthly({ kind: 'team', id: 'backend' }, 1, { action: 'downgrade', downgradeAlias: 'tiny' }),
      field: 'downgrade_alias',
      message: /not a model_name/,
    },
    {
      name: 'downgrade to itself',
      input: () => monthly({ kind: 'alias', id: 'gpt-4o' }, 1, { action: 'downgrade', downgradeAlias: 'gpt-4o' }),
      field: 'downgrade_alias',
      message: /the alias this budget limits/,
    },
    { name: 'unknown action', input: () => monthly({ kind: 'org', id: 'org' }, 1, { action: 'warn' as never }), field: 'action', message: /"block".*"downgrade"/ },
    { name: 'threshold above 100', input: () => monthly({ kind: 'org', id: 'org' }, 1, { thresholds: [50, 120] }), field: 'thresholds', message: /at most 100/ },
    {
      name: 'unknown time zone',
      input: () => ({ scope: { kind: 'org', id: 'org' }, period: { kind: 'daily', timeZone: 'Mars/Olympus' }, limitUsd: 1 }),
      field: 'time_zone',
      message: /IANA time zone/,
    },
    {
      name: 'fixed start without offset',
      input: () => ({ scope: { kind: 'org', id: 'org' }, period: { kind: 'fixed', start: '2026-01-01T00:00:00', lengthDays: 7 }, limitUsd: 1 }),
      field: 'window_start',
      message: /"window_start".*UTC offset/,
    },
    {
      name: 'fixed window too short',
      input: () => ({ scope: { kind: 'org', id: 'org' }, period: { kind: 'fixed', start: '2026-01-01T00:00:00Z', lengthDays: 0 }, limitUsd: 1 }),
      field: 'window_days',
      message: /"window_days"/,
    },
    { name: 'unknown period', input: () => ({ scope: { kind: 'org', id: 'org' }, period: { kind: 'yearly' as never, timeZone: null }, limitUsd: 1 }), field: 'period', message: /daily, weekly, monthly or fixed/ },
  ];

  for (const { name, input, field, message } of cases) {
    it(`rejects ${name}`, () => {
      const error = rejection(input());
      expect(error.kind).toBe('invalid_value');
      expect(error.param).toBe(field);
      expect(error.message).toMatch(message);
    });
  }

  it('writes nothing for a rejected budget', () => {
    rejection(monthly({ kind: 'org', id: 'org' }, -1));
    expect(fixture.gov.budgets.list()).toEqual([]);
  });
});

describe('budget updates', () => {
  it('changes the limit and keeps the rest', () => {
    const created = fixture.gov.budgets.create(monthly({ kind: 'team', id: 'backend' }, 500, { thresholds: [75] }));
    const updated = fixture.gov.budgets.update(created.id, { limitUsd: 650 });
    expect(updated.limitUsd).toBe(650);
    expect(updated.thresholds).toEqual([75]);
    expect(updated.createdAt).toBe(created.createdAt);
  });

  it('drops the downgrade alias when the action becomes block', () => {
    const created = fixture.gov.budgets.create(monthly({ kind: 'team', id: 'backend' }, 5, { action: 'downgrade', downgradeAlias: 'local-coder' }));
    const updated = fixture.gov.budgets.update(created.id, { action: 'block' });
    expect(updated.downgradeAlias).toBeNull();
  });

  it('locks config budgets against API changes', () => {
    fixture.gov.budgets.putConfigBudget({ ...monthly({ kind: 'org', id: 'org' }, 1000), id: 'org:monthly:block' });
    expect(() => fixture.gov.budgets.update('org:monthly:block', { limitUsd: 1 })).toThrow(/airlock\.governance\.budgets/);
    expect(() => fixture.gov.budgets.delete('org:monthly:block')).toThrow(/airlock\.governance\.budgets/);
  });

  it('deletes an API budget', () => {
    const created = fixture.gov.budgets.create(monthly({ kind: 'org', id: 'org' }, 1));
    fixture.gov.budgets.delete(created.id);
    expect(fixture.gov.budgets.get(created.id)).toBeNull();
    expect(() => fixture.gov.budgets.delete(created.id)).toThrow(/does not exist/);
  });
});

describe('budget lookup', () => {
  it('finds the budgets of a request by scope', () => {
    fixture.gov.budgets.create(monthly({ kind: 'team', id: 'backend' }, 500));
    fixture.gov.budgets.create(monthly({ kind: 'team', id: 'marketing' }, 100));
    fixture.gov.budgets.create(monthly({ kind: 'alias', id: 'claude-sonnet' }, 100));
    fixture.gov.budgets.create(monthly({ kind: 'org', id: 'org' }, 2000));
    const found = fixture.gov.admission.applicableBudgets(alice, 'gpt-4o').map((active) => `${active.budget.scope.kind}:${active.budget.scope.id}`);
    expect(found).toEqual(['team:backend', 'org:org']);
  });

  it('applies the default zone to calendar budgets without one', () => {
    const created = fixture.gov.budgets.create(monthly({ kind: 'org', id: 'org' }, 1));
    expect(fixture.gov.budgets.getActive(created.id)!.timeZone).toBe('UTC');
    fixture.gov.budgets.setDefaultTimeZone('Asia/Ho_Chi_Minh');
    expect(fixture.gov.budgets.getActive(created.id)!.timeZone).toBe('Asia/Ho_Chi_Minh');
  });

  it('rejects an unknown default zone', () => {
    expect(() => fixture.gov.budgets.setDefaultTimeZone('Nowhere/City')).toThrow(/IANA time zone/);
  });
});
