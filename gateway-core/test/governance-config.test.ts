import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { GatewayError } from '../src/errors';
import {
  budgetEntrySchema,
  budgetPatchSchema,
  governanceSchema,
  parseBody,
  toBudgetInput,
  toBudgetPatch,
  type GovernanceConfig,
  type GovernanceConfigInput,
} from '../src/governance/config-schema';
import { GovernanceConfigError } from '../src/governance/config-sync';
import { openGovernance, type GovernanceFixture } from './helpers/governance';

const yaml = `
time_zone: Asia/Ho_Chi_Minh
organization: Acme
teams:
  - id: backend
    name: Backend
  - id: marketing
    name: Marketing
    rpm_limit: 120
users:
  - { id: alice, team_id: backend, email: alice@example.com }
  - { id: bob, team_id: marketing, tpm_limit: 200000 }
budgets:
  - { scope: team, scope_id: backend, period: monthly, limit_usd: 500 }
  - { scope: team, scope_id: marketing, period: monthly, limit_usd: 100, action: downgrade, downgrade_alias: local-coder }
  - { scope: org, period: fixed, window_start: "2026-01-01T00:00:00Z", window_days: 90, limit_usd: 5000, thresholds: [90] }
`;

function parseSection(input: GovernanceConfigInput): GovernanceConfig {
  return governanceSchema.parse(input);
}

function issueOf(input: unknown): { path: string; message: string } {
  const result = governanceSchema.safeParse(input);
  if (result.success) throw new Error('expected the section to be invalid');
  const issue = result.error.issues[0]!;
  return { path: issue.path.join('.'), message: issue.message };
}

describe('governance config schema', () => {
  it('reads team budgets from YAML', () => {
    const section = parseSection(parseYaml(yaml) as GovernanceConfigInput);
    expect(section.time_zone).toBe('Asia/Ho_Chi_Minh');
    expect(section.teams.map((team) => team.id)).toEqual(['backend', 'marketing']);
    expect(toBudgetInput(section.budgets[0]!)).toEqual({
      id: undefined,
      name: null,
      scope: { kind: 'team', id: 'backend' },
      period: { kind: 'monthly', timeZone: null },
      limitUsd: 500,
      action: 'block',
      downgradeAlias: null,
      thresholds: undefined,
    });
    expect(toBudgetInput(section.budgets[2]!).period).toEqual({ kind: 'fixed', start: '2026-01-01T00:00:00Z', lengthDays: 90 });
  });

  it('fills in defaults for an empty section', () => {
    expect(parseSection({})).toEqual({ time_zone: 'UTC', teams: [], users: [], budgets: [] });
  });

  const invalid: Array<{ name: string; input: unknown; path: string; message: RegExp }> = [
    { name: 'an unknown key', input: { budget: [] }, path: '', message: /budget/ },
    { name: 'an unknown zone', input: { time_zone: 'Mars/Base' }, path: 'time_zone', message: /IANA time zone/ },
    { name: 'a misspelt limit', input: { teams: [{ id: 'a', rpm_limt: 5 }] }, path: 'teams.0', message: /rpm_limt/ },
    { name: 'a user without team', input: { users: [{ id: 'alice' }] }, path: 'users.0.team_id', message: /./ },
    { name: 'a fractional rpm limit', input: { teams: [{ id: 'a', rpm_limit: 1.5 }] }, path: 'teams.0.rpm_limit', message: /whole number/ },
    {
      name: 'a team budget without scope_id',
      input: { budgets: [{ scope: 'team', period: 'monthly', limit_usd: 1 }] },
      path: 'budgets.0.scope_id',
      message: /is required for a team budget/,
    },
    {
      name: 'a downgrade without alias',
      input: { budgets: [{ scope: 'org', period: 'monthly', limit_usd: 1, action: 'downgrade' }] },
      path: 'budgets.0.downgrade_alias',
      message: /is required for the downgrade action/,
    },
    {
      name: 'a fixed period without start',
      input: { budgets: [{ scope: 'org', period: 'fixed', window_days: 7, limit_usd: 1 }] },
      path: 'budgets.0.window_start',
      message: /is required for a fixed period/,
    },
    {
      name: 'a window on a monthly period',
      input: { budgets: [{ scope: 'org', period: 'monthly', window_days: 7, limit_usd: 1 }] },
      path: 'budgets.0.window_days',
      message: /applies only to the fixed period/,
    },
    {
      name: 'a negative limit',
      input: { budgets: [{ scope: 'org', period: 'monthly', limit_usd: -5 }] },
      path: 'budgets.0.limit_usd',
      message: /must be 0 or more/,
    },
    {
      name: 'two budgets with one derived id',
      input: {
        budgets: [
          { scope: 'org', period: 'monthly', limit_usd: 1 },
          { scope: 'org', period: 'monthly', limit_usd: 2 },
        ],
      },
      path: 'budgets.1',
      message: /repeats the budget id 'org:monthly:block'/,
    },
    { name: 'a repeated team', input: { teams: [{ id: 'a' }, { id: 'a' }] }, path: 'teams.1', message: /repeats the team id 'a'/ },
  ];

  for (const { name, input, path, message } of invalid) {
    it(`rejects ${name}`, () => {
      const issue = issueOf(input);
      expect(issue.path).toBe(path);
      expect(issue.message).toMatch(message);
    });
  }

  it('allows two budgets on one scope with their own ids', () => {
    const section = parseSection({
      budgets: [
        { id: 'soft', scope: 'org', period: 'monthly', limit_usd: 80, action: 'downgrade', downgrade_alias: 'local' },
        { id: 'hard', scope: 'org', period: 'monthly', limit_usd: 100 },
      ],
    });
    expect(section.budgets).toHaveLength(2);
  });
});

describe('management API bodies', () => {
  function rejection(fn: () => unknown): GatewayError {
    try {
      fn();
    } catch (error) {
      if (error instanceof GatewayError) return error;
      throw error;
    }
    throw new Error('expected the body to be rejected');
  }

  it('names the invalid field', () => {
    const error = rejection(() => parseBody(budgetEntrySchema, { scope: 'team', scope_id: 'backend', period: 'monthly', limit_usd: 'lots' }));
    expect(error.kind).toBe('invalid_value');
    expect(error.param).toBe('limit_usd');
    expect(error.message).toMatch(/^Invalid limit_usd: /);
  });

  it('names an unknown field', () => {
    const error = rejection(() => parseBody(budgetEntrySchema, { scope: 'org', period: 'monthly', limit_usd: 1, limit: 2 }));
    expect(error.param).toBe('limit');
    expect(error.message).toMatch(/Unknown field\(s\) "limit"/);
  });

  it('requires period with its fields in a patch', () => {
    const patch = parseBody(budgetPatchSchema, { time_zone: 'UTC' });
    expect(rejection(() => toBudgetPatch(patch)).param).toBe('period');
  });

  it('converts a patch', () => {
    const patch = parseBody(budgetPatchSchema, { limit_usd: 750, period: 'weekly', time_zone: 'Europe/Berlin' });
    expect(toBudgetPatch(patch)).toEqual({ limitUsd: 750, period: { kind: 'weekly', timeZone: 'Europe/Berlin' } });
  });
});

describe('governance config sync', () => {
  let fixture: GovernanceFixture;
  const aliases = new Set(['gpt-4o', 'local-coder']);

  beforeEach(() => {
    fixture = openGovernance({ isKnownAlias: (alias) => aliases.has(alias) });
  });

  afterEach(() => {
    fixture.dispose();
  });

  it('writes teams, users and budgets', () => {
    const result = fixture.gov.applyConfig(parseSection(parseYaml(yaml) as GovernanceConfigInput));
    expect(result.teams.created).toEqual(['backend', 'marketing']);
    expect(result.users.created).toEqual(['alice', 'bob']);
    expect(result.budgets.created).toEqual(['team:backend:monthly:block', 'team:marketing:monthly:downgrade', 'org:fixed:block']);
    expect(fixture.gov.directory.getUser('bob')).toMatchObject({ teamId: 'marketing', tpmLimit: 200_000, source: 'config' });
    expect(fixture.gov.directory.organization().name).toBe('Acme');
    expect(fixture.gov.budgets.defaultTimeZone).toBe('Asia/Ho_Chi_Minh');
    expect(fixture.gov.budgets.getActive('team:backend:monthly:block')!.timeZone).toBe('Asia/Ho_Chi_Minh');
  });

  it('replaces config rows and keeps API rows on the next start', () => {
    fixture.gov.applyConfig(parseSection(parseYaml(yaml) as GovernanceConfigInput));
    fixture.gov.directory.createTeam({ id: 'sales' });
    const apiBudget = fixture.gov.budgets.create({ scope: { kind: 'team', id: 'sales' }, period: { kind: 'daily', timeZone: null }, limitUsd: 5 });

    fixture.restart();
    const result = fixture.gov.applyConfig(
      parseSection({
        teams: [{ id: 'backend', name: 'Backend Platform' }],
        users: [{ id: 'alice', team_id: 'backend' }],
        budgets: [{ scope: 'team', scope_id: 'backend', period: 'monthly', limit_usd: 650 }],
      }),
    );

    expect(result.budgets.updated).toEqual(['team:backend:monthly:block']);
    expect(result.budgets.removed.sort()).toEqual(['org:fixed:block', 'team:marketing:monthly:downgrade']);
    expect(result.users.removed).toEqual(['bob']);
    expect(result.teams.removed).toEqual(['marketing']);
    expect(fixture.gov.budgets.get('team:backend:monthly:block')!.limitUsd).toBe(650);
    expect(fixture.gov.directory.getTeam('backend')!.name).toBe('Backend Platform');
    expect(fixture.gov.budgets.get(apiBudget.id)).not.toBeNull();
    expect(fixture.gov.directory.getTeam('sales')!.source).toBe('api');
  });

  it('keeps a removed team that API users still need', () => {
    fixture.gov.applyConfig(parseSection({ teams: [{ id: 'backend' }] }));
    fixture.gov.directory.createUser({ id: 'carol', teamId: 'backend' });
    const result = fixture.gov.applyConfig(parseSection({}));
    expect(result.teams.removed).toEqual([]);
    expect(result.warnings).toEqual([
      "team 'backend' was removed from airlock.governance.teams but is kept as an API team, because 1 user(s) belong to it",
    ]);
    expect(fixture.gov.directory.getTeam('backend')!.source).toBe('api');
  });

  it('takes over an API team of the same id', () => {
    fixture.gov.directory.createTeam({ id: 'backend' });
    const result = fixture.gov.applyConfig(parseSection({ teams: [{ id: 'backend' }] }));
    expect(result.teams.updated).toEqual(['backend']);
    expect(result.warnings[0]).toMatch(/existed as an API team/);
    expect(fixture.gov.directory.getTeam('backend')!.source).toBe('config');
  });

  it('names the entry of a budget on an unknown team', () => {
    let caught: unknown;
    try {
      fixture.gov.applyConfig(
        parseSection({
          teams: [{ id: 'backend' }],
          budgets: [
            { scope: 'team', scope_id: 'backend', period: 'monthly', limit_usd: 500 },
            { scope: 'team', scope_id: 'backnd', period: 'monthly', limit_usd: 100 },
          ],
        }),
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(GovernanceConfigError);
    expect((caught as GovernanceConfigError).keyPath).toBe('airlock.governance.budgets[1].scope_id');
    expect((caught as GovernanceConfigError).message).toMatch(/^invalid config: airlock\.governance\.budgets\[1\]\.scope_id: Invalid scope_id: team 'backnd' does not exist/);
  });

  it('leaves the database unchanged after an invalid entry', () => {
    expect(() =>
      fixture.gov.applyConfig(
        parseSection({
          teams: [{ id: 'backend' }],
          budgets: [
            { scope: 'team', scope_id: 'backend', period: 'monthly', limit_usd: 500 },
            { scope: 'alias', scope_id: 'gpt-5', period: 'monthly', limit_usd: 1 },
          ],
        }),
      ),
    ).toThrow(/airlock\.governance\.budgets\[1\]\.scope_id/);
    expect(fixture.gov.directory.listTeams()).toEqual([]);
    expect(fixture.gov.budgets.list()).toEqual([]);
  });

  it('names a user whose team is missing', () => {
    expect(() => fixture.gov.applyConfig(parseSection({ users: [{ id: 'alice', team_id: 'ghosts' }] }))).toThrow(
      /airlock\.governance\.users\[0\]\.team_id: Team "ghosts" does not exist/,
    );
  });
});
