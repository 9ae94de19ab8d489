import Database from 'better-sqlite3';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AdmissionDecision } from '../src/governance/admission';
import type { BudgetInput } from '../src/governance/budgets';
import { BudgetExceededError, LedgerUnavailableError } from '../src/governance/errors';
import { periodAt } from '../src/governance/periods';
import { worstCaseCost } from '../src/governance/reservation';
import type { GovernancePrincipal, ScopeRef } from '../src/governance/scopes';
import { computeCost, resolveModelInfo } from '../src/models/table';
import { databaseFileName } from '../src/storage/database';
import { admitted, attempt, openGovernance, seedOrganisation, spend, type GovernanceFixture } from './helpers/governance';

let fixture: GovernanceFixture;
let alice: GovernancePrincipal;
let bob: GovernancePrincipal;

beforeEach(() => {
  fixture = openGovernance({ start: '2026-11-10T12:00:00Z' });
  ({ alice, bob } = seedOrganisation(fixture));
});

afterEach(() => {
  fixture.dispose();
});

function budget(scope: ScopeRef, limitUsd: number, extra: Partial<BudgetInput> = {}): string {
  return fixture.gov.budgets.create({ scope, period: { kind: 'monthly', timeZone: 'UTC' }, limitUsd, ...extra }).id;
}

function blocked(decision: AdmissionDecision): BudgetExceededError {
  if (decision.kind !== 'blocked') throw new Error(`expected the request to be blocked, got ${decision.kind}`);
  return decision.error;
}

describe('admission by scope', () => {
  // Functions, because the principals exist only once beforeEach has run.
  const cases: Array<{ kind: string; scope: () => ScopeRef; outside: () => { principal: GovernancePrincipal; alias: string } }> = [
    { kind: 'org', scope: () => ({ kind: 'org', id: 'org' }), outside: () => ({ principal: bob, alias: 'claude-sonnet' }) },
    { kind: 'team', scope: () => ({ kind: 'team', id: 'backend' }), outside: () => ({ principal: bob, alias: 'gpt-4o' }) },
    { kind: 'user', scope: () => ({ kind: 'user', id: 'alice' }), outside: () => ({ principal: bob, alias: 'gpt-4o' }) },
    { kind: 'key', scope: () => ({ kind: 'key', id: alice.keyId }), outside: () => ({ principal: bob, alias: 'gpt-4o' }) },
    { kind: 'alias', scope: () => ({ kind: 'alias', id: 'gpt-4o' }), outside: () => ({ principal: alice, alias: 'claude-sonnet' }) },
  ];

  for (const { kind, scope, outside } of cases) {
    it(`blocks at a ${kind} budget`, () => {
      budget(scope(), 1);
      spend(fixture, alice, 0.6);
      const error = blocked(fixture.gov.admission.admit(attempt(alice, 0.5)));
      expect(error.breach.scope).toEqual(scope());
      expect(error.breach.spentUsd).toBeCloseTo(0.6, 12);
    });

    it(`admits what fits a ${kind} budget`, () => {
      budget(scope(), 1);
      spend(fixture, alice, 0.6);
      admitted(fixture.gov.admission.admit(attempt(alice, 0.4)));
    });

    it(`leaves requests outside a ${kind} budget alone`, () => {
      budget(scope(), 1);
      spend(fixture, alice, 0.6);
      const other = outside();
      const decision = fixture.gov.admission.admit(attempt(other.principal, 0.5, { alias: other.alias }));
      if (kind === 'org') expect(decision.kind).toBe('blocked');
      else expect(decision.kind).toBe('admitted');
    });
  }
});

describe('admission block response', () => {
  it('returns 429 with scope, limit, spent and reset time', () => {
    budget({ kind: 'team', id: 'backend' }, 1);
    spend(fixture, alice, 0.6);
    const error = blocked(fixture.gov.admission.admit(attempt(alice, 0.5)));
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(error.status).toBe(429);
    expect(error.code).toBe('budget_exceeded');
    expect(error.headers['x-should-retry']).toBe('false');
    expect(error.message).toContain("team 'backend'");
    expect(error.message).toContain('$1.00');
    expect(error.message).toContain('$0.6000 spent');
    expect(error.message).toContain('could cost up to $0.5000');
    expect(error.message).toContain('resets at 2026-12-01 00:00 UTC (2026-12-01T00:00:00.000Z)');
  });

  it('counts reservations of requests in progress', () => {
    budget({ kind: 'team', id: 'backend' }, 1);
    admitted(fixture.gov.admission.admit(attempt(alice, 0.6)));
    const error = blocked(fixture.gov.admission.admit(attempt(alice, 0.5)));
    expect(error.breach.reservedUsd).toBeCloseTo(0.6, 12);
    expect(error.message).toContain('$0.6000 is reserved by requests in progress');
  });

  it('admits again after a reservation is released', () => {
    budget({ kind: 'team', id: 'backend' }, 1);
    const first = admitted(fixture.gov.admission.admit(attempt(alice, 0.6)));
    expect(fixture.gov.admission.admit(attempt(alice, 0.5)).kind).toBe('blocked');
    fixture.gov.admission.release(first);
    admitted(fixture.gov.admission.admit(attempt(alice, 0.5)));
  });

  it('admits a request that fits exactly', () => {
    budget({ kind: 'team', id: 'backend' }, 1);
    spend(fixture, alice, 0.7);
    spend(fixture, alice, 0.2);
    admitted(fixture.gov.admission.admit(attempt(alice, 0.1)));
  });

  it('lists each budget it checked', () => {
    const teamBudget = budget({ kind: 'team', id: 'backend' }, 1);
    const orgBudget = budget({ kind: 'org', id: 'org' }, 100);
    const decision = fixture.gov.admission.admit(attempt(alice, 0.1));
    expect(decision.checks.map((check) => check.budgetId)).toEqual([teamBudget, orgBudget]);
    expect(decision.checks[0]!.resetAt).toBe(Date.parse('2026-12-01T00:00:00Z'));
  });
});

describe('admission periods', () => {
  it('resets a daily budget at local midnight', () => {
    budget({ kind: 'user', id: 'alice' }, 1, { period: { kind: 'daily', timeZone: 'Europe/Berlin' } });
    fixture.clock.set('2026-11-10T22:30:00Z'); // 23:30 in Berlin
    spend(fixture, alice, 0.9);
    expect(fixture.gov.admission.admit(attempt(alice, 0.5)).kind).toBe('blocked');
    fixture.clock.set('2026-11-10T23:00:00Z'); // midnight in Berlin
    admitted(fixture.gov.admission.admit(attempt(alice, 0.5)));
  });

  it('resets a weekly budget on Monday', () => {
    budget({ kind: 'user', id: 'alice' }, 1, { period: { kind: 'weekly', timeZone: 'UTC' } });
    fixture.clock.set('2026-11-15T23:00:00Z'); // Sunday
    spend(fixture, alice, 0.9);
    expect(fixture.gov.admission.admit(attempt(alice, 0.5)).kind).toBe('blocked');
    fixture.clock.set('2026-11-16T00:00:00Z'); // Monday
    admitted(fixture.gov.admission.admit(attempt(alice, 0.5)));
  });

  it('resets a monthly budget on the first', () => {
    budget({ kind: 'user', id: 'alice' }, 1);
    fixture.clock.set('2026-11-30T23:59:00Z');
    spend(fixture, alice, 0.9);
    expect(fixture.gov.admission.admit(attempt(alice, 0.5)).kind).toBe('blocked');
    fixture.clock.set('2026-12-01T00:00:00Z');
    admitted(fixture.gov.admission.admit(attempt(alice, 0.5)));
  });

  it('resets a fixed window at its end', () => {
    budget({ kind: 'user', id: 'alice' }, 1, { period: { kind: 'fixed', start: '2026-11-01T09:00:00Z', lengthDays: 14 } });
    fixture.clock.set('2026-11-15T08:59:00Z');
    spend(fixture, alice, 0.9);
    const error = blocked(fixture.gov.admission.admit(attempt(alice, 0.5)));
    expect(error.message).toContain('resets at 2026-11-15T09:00:00.000Z.');
    fixture.clock.set('2026-11-15T09:00:00Z');
    admitted(fixture.gov.admission.admit(attempt(alice, 0.5)));
  });

  it('rolls a month over at midnight in Asia/Ho_Chi_Minh', () => {
    budget({ kind: 'team', id: 'backend' }, 1, { period: { kind: 'monthly', timeZone: 'Asia/Ho_Chi_Minh' } });
    fixture.clock.set('2026-11-30T16:30:00Z'); // 23:30 on 30 November in Ho Chi Minh City
    spend(fixture, alice, 0.9);
    const error = blocked(fixture.gov.admission.admit(attempt(alice, 0.5)));
    expect(error.message).toContain('resets at 2026-12-01 00:00 Asia/Ho_Chi_Minh (2026-11-30T17:00:00.000Z)');

    fixture.clock.set('2026-11-30T17:30:00Z'); // 00:30 on 1 December there, still 30 November in UTC
    const decision = fixture.gov.admission.admit(attempt(alice, 0.5));
    admitted(decision);
    expect(decision.checks[0]!.spentUsd).toBe(0);
    expect(decision.checks[0]!.periodStart).toBe(Date.parse('2026-11-30T17:00:00Z'));
  });

  it('keeps the UTC month until UTC midnight', () => {
    budget({ kind: 'team', id: 'backend' }, 1, { period: { kind: 'monthly', timeZone: 'UTC' } });
    fixture.clock.set('2026-11-30T16:30:00Z');
    spend(fixture, alice, 0.9);
    fixture.clock.set('2026-11-30T17:30:00Z');
    expect(fixture.gov.admission.admit(attempt(alice, 0.5)).kind).toBe('blocked');
  });

  it('reads spend at start with warm', () => {
    const id = budget({ kind: 'team', id: 'backend' }, 1);
    spend(fixture, alice, 0.9);
    fixture.restart();
    fixture.gov.admission.warm();
    expect(fixture.gov.reports.budgetStatus(id).spentUsd).toBeCloseTo(0.9, 12);
    expect(fixture.gov.admission.admit(attempt(alice, 0.5)).kind).toBe('blocked');
  });

  it('keeps spend over a restart in the middle of a period', () => {
    budget({ kind: 'team', id: 'backend' }, 1, { period: { kind: 'monthly', timeZone: 'Asia/Ho_Chi_Minh' } });
    spend(fixture, alice, 0.9);
    fixture.restart();
    fixture.clock.advance(3 * 86_400_000);
    const error = blocked(fixture.gov.admission.admit(attempt(alice, 0.5)));
    expect(error.breach.spentUsd).toBeCloseTo(0.9, 12);
  });
});

describe('admission downgrade', () => {
  it('routes to the downgrade alias at the limit', () => {
    const id = budget({ kind: 'team', id: 'marketing' }, 1, { action: 'downgrade', downgradeAlias: 'local-coder' });
    spend(fixture, bob, 0.9);
    const decision = fixture.gov.admission.admit(attempt(bob, 0.5));
    expect(decision).toMatchObject({ kind: 'downgrade', alias: 'local-coder', budgetId: id });

    const local = fixture.gov.admission.admit(
      attempt(bob, 0, { requestId: 'req-downgraded', alias: 'local-coder', deployment: { id: 'local-coder#0', model: 'qwen2.5-coder:32b' }, downgradedBy: id }),
    );
    fixture.gov.admission.settle(admitted(local), { costUsd: 0, estimated: false, wouldHaveCostUsd: 0.5 });
    expect(fixture.gov.ledger.entriesOf('req-downgraded')[0]!.downgradedBy).toBe(id);
  });

  it('blocks when the downgrade alias still does not fit', () => {
    const id = budget({ kind: 'team', id: 'marketing' }, 1, { action: 'downgrade', downgradeAlias: 'gpt-4o-mini' });
    spend(fixture, bob, 0.9);
    const decision = fixture.gov.admission.admit(attempt(bob, 0.3, { alias: 'gpt-4o-mini', downgradedBy: id }));
    expect(decision.kind).toBe('blocked');
  });

  it('prefers block over downgrade', () => {
    budget({ kind: 'team', id: 'backend' }, 1, { action: 'downgrade', downgradeAlias: 'local-coder' });
    const userBudget = budget({ kind: 'user', id: 'alice' }, 1);
    spend(fixture, alice, 0.9);
    expect(blocked(fixture.gov.admission.admit(attempt(alice, 0.5))).breach.budgetId).toBe(userBudget);
  });

  it('raises one downgraded event per period', () => {
    budget({ kind: 'team', id: 'marketing' }, 1, { action: 'downgrade', downgradeAlias: 'local-coder' });
    spend(fixture, bob, 0.9);
    fixture.gov.admission.admit(attempt(bob, 0.5));
    fixture.gov.admission.admit(attempt(bob, 0.5));
    expect(fixture.events.filter((event) => event.kind === 'downgraded')).toHaveLength(1);
  });
});

describe('admission of free and unpriced requests', () => {
  it('never blocks a $0 local model', () => {
    budget({ kind: 'org', id: 'org' }, 0);
    admitted(fixture.gov.admission.admit(attempt(alice, 0, { alias: 'local-coder' })));
    expect(fixture.gov.admission.admit(attempt(alice, 0.01)).kind).toBe('blocked');
  });

  it('never blocks a $0 model over an exhausted budget', () => {
    budget({ kind: 'team', id: 'backend' }, 1);
    spend(fixture, alice, 1);
    admitted(fixture.gov.admission.admit(attempt(alice, 0, { alias: 'local-coder' })));
  });

  it('blocks an unpriced model under a USD budget', () => {
    budget({ kind: 'team', id: 'backend' }, 100);
    const error = blocked(fixture.gov.admission.admit(attempt(alice, null, { alias: 'team-vllm' })));
    expect(error.breach.reason).toBe('price_unknown');
    expect(error.message).toMatch(/has no price.*input_cost_per_token/);
  });

  it('downgrades an unpriced model under a downgrade budget', () => {
    budget({ kind: 'team', id: 'backend' }, 100, { action: 'downgrade', downgradeAlias: 'local-coder' });
    expect(fixture.gov.admission.admit(attempt(alice, null, { alias: 'team-vllm' })).kind).toBe('downgrade');
  });

  it('admits an unpriced model without budgets', () => {
    const reservation = admitted(fixture.gov.admission.admit(attempt(alice, null, { alias: 'team-vllm' })));
    expect(reservation.reservedUsd).toBe(0);
  });
});

describe('admission thresholds', () => {
  it('raises 50, 80 and 100 percent once each', () => {
    const id = budget({ kind: 'team', id: 'backend' }, 10);
    spend(fixture, alice, 4);
    expect(fixture.events).toEqual([]);
    spend(fixture, alice, 1.5);
    spend(fixture, alice, 0.5);
    spend(fixture, alice, 2.5);
    spend(fixture, alice, 1.5);
    expect(fixture.events.map((event) => [event.kind, event.thresholdPct, event.budgetId])).toEqual([
      ['threshold', 50, id],
      ['threshold', 80, id],
      ['threshold', 100, id],
    ]);
    expect(fixture.events[1]!.spentUsd).toBeCloseTo(8.5, 12);
    expect(fixture.gov.events.list({ budgetId: id }).map((event) => event.thresholdPct)).toEqual([100, 80, 50]);
  });

  it('raises every threshold one settlement passes', () => {
    budget({ kind: 'team', id: 'backend' }, 10);
    const reservation = admitted(fixture.gov.admission.admit(attempt(alice, 9)));
    const settlement = fixture.gov.admission.settle(reservation, { costUsd: 8.2, estimated: false, wouldHaveCostUsd: null });
    expect(settlement.events.map((event) => event.thresholdPct)).toEqual([50, 80]);
    expect(settlement.differenceUsd).toBeCloseTo(-0.8, 12);
  });

  it('raises thresholds again in the next period', () => {
    budget({ kind: 'team', id: 'backend' }, 10);
    spend(fixture, alice, 6);
    fixture.clock.set('2026-12-02T00:00:00Z');
    spend(fixture, alice, 6);
    expect(fixture.events.map((event) => event.periodStart)).toEqual([Date.parse('2026-11-01T00:00:00Z'), Date.parse('2026-12-01T00:00:00Z')]);
  });

  it('does not repeat thresholds after a restart', () => {
    budget({ kind: 'team', id: 'backend' }, 10);
    spend(fixture, alice, 6);
    fixture.restart();
    spend(fixture, alice, 0.5);
    expect(fixture.events).toHaveLength(1);
    expect(fixture.gov.events.list()).toHaveLength(1);
  });

  it('records the first block of a period', () => {
    const id = budget({ kind: 'team', id: 'backend' }, 1);
    spend(fixture, alice, 0.9);
    fixture.gov.admission.admit(attempt(alice, 0.5));
    fixture.gov.admission.admit(attempt(alice, 0.5));
    expect(fixture.events.filter((event) => event.kind === 'blocked').map((event) => event.budgetId)).toEqual([id]);
  });

  it('settles when an event listener throws', () => {
    budget({ kind: 'team', id: 'backend' }, 10);
    fixture.events.push = () => {
      throw new Error('listener failed');
    };
    expect(() => spend(fixture, alice, 6)).not.toThrow();
    expect(fixture.gov.events.list()).toHaveLength(1);
  });
});

describe('admission fails closed', () => {
  function breakLedger(): void {
    const other = new Database(join(fixture.dataDir, databaseFileName));
    other.exec('ALTER TABLE ledger_entries RENAME TO ledger_entries_moved');
    other.close();
  }

  it('refuses a request that costs money', () => {
    budget({ kind: 'team', id: 'backend' }, 10);
    breakLedger();
    expect(() => fixture.gov.admission.admit(attempt(alice, 0.1))).toThrow(LedgerUnavailableError);
  });

  it('fails warm on a broken ledger', () => {
    budget({ kind: 'team', id: 'backend' }, 10);
    fixture.restart();
    breakLedger();
    expect(() => fixture.gov.admission.warm()).toThrow(LedgerUnavailableError);
  });

  it('refuses a request that costs money without budgets', () => {
    breakLedger();
    expect(() => fixture.gov.admission.admit(attempt(alice, 0.1))).toThrow(LedgerUnavailableError);
  });

  it('admits a free request', () => {
    breakLedger();
    const reservation = admitted(fixture.gov.admission.admit(attempt(alice, 0, { alias: 'local-coder' })));
    const settlement = fixture.gov.admission.settle(reservation, { costUsd: 0, estimated: false, wouldHaveCostUsd: 0.01 });
    expect(settlement.persisted).toBe(false);
    expect(fixture.gov.admission.release(reservation)).toBe(false);
  });

  it('refuses requests that cost money while a settlement is unwritten', () => {
    fixture.db.pragma('busy_timeout = 20');
    const reservation = admitted(fixture.gov.admission.admit(attempt(alice, 0.1)));
    const other = new Database(join(fixture.dataDir, databaseFileName));
    other.exec('BEGIN EXCLUSIVE');
    try {
      expect(fixture.gov.admission.settle(reservation, { costUsd: 0.05, estimated: false, wouldHaveCostUsd: null }).persisted).toBe(false);
      expect(() => fixture.gov.admission.admit(attempt(alice, 0.1))).toThrow(LedgerUnavailableError);
      admitted(fixture.gov.admission.admit(attempt(alice, 0, { alias: 'local-coder' })));
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    admitted(fixture.gov.admission.admit(attempt(alice, 0.1)));
    expect(fixture.gov.ledger.pendingCount).toBe(0);
  });
});

describe('admission follows the directory', () => {
  it('moves spend with a user who changes team', () => {
    budget({ kind: 'team', id: 'marketing' }, 1);
    spend(fixture, bob, 0.9);
    fixture.gov.directory.updateUser('alice', { teamId: 'marketing' });
    const moved = fixture.gov.keys.resolve(alice);
    expect(fixture.gov.admission.admit(attempt(moved, 0.5)).kind).toBe('blocked');
  });
});

describe('admission under concurrency', () => {
  const gpt4o = resolveModelInfo('gpt-4o', 'cloud');

  /** Deterministic pseudo-random numbers in [0, 1), so a failure can be replayed. */
  function random(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
  }

  interface Outcome {
    admitted: number;
    blocked: number;
    released: number;
    /** Settled minus reserved cost of each settled request. */
    differences: number[];
    /** Positive differences of requests still in progress at each admission, summed. */
    inFlightOverrun: number;
  }

  /**
   * Sends 50 requests against a team budget with room for about two thirds of their worst cases.
   * Each waits a random 0 to 19 ms before admission and 0 to 5 ms before settling, so
   * admissions and settlements interleave and late requests fill what early ones left. Requests
   * write 90 to 100 % of their output limit, and every ninth attempt fails and is released.
   * `overrun(i)` returns how many tokens request i writes beyond its output limit.
   */
  async function runEdge(seed: number, overrun: (i: number) => number): Promise<Outcome> {
    const next = random(seed);
    const limitUsd = 0.8;
    budget({ kind: 'team', id: 'backend' }, limitUsd);
    const outcome: Outcome = { admitted: 0, blocked: 0, released: 0, differences: [], inFlightOverrun: 0 };
    const inFlight = new Map<number, number>();

    async function request(i: number): Promise<void> {
      await sleep(Math.floor(next() * 20));
      const promptTokens = 500 + Math.floor(next() * 2500);
      const maxOutputTokens = 1000 + Math.floor(next() * 2000);
      const worst = worstCaseCost({ modelInfo: gpt4o, promptTokens, maxOutputTokens, promptCaching: 'none' });
      const decision = fixture.gov.admission.admit(attempt(alice, worst.usd, { requestId: `edge-${i}` }));
      if (decision.kind === 'blocked') {
        outcome.blocked += 1;
        return;
      }
      const reservation = admitted(decision);
      outcome.admitted += 1;
      const extra = overrun(i);
      inFlight.set(i, extra > 0 ? (extra * (gpt4o.prices.output ?? 0)) / 1_000_000 : 0);
      outcome.inFlightOverrun = Math.max(outcome.inFlightOverrun, [...inFlight.values()].reduce((a, b) => a + b, 0));

      await sleep(Math.floor(next() * 6));
      if (i % 9 === 4) {
        fixture.gov.admission.release(reservation);
        outcome.released += 1;
      } else {
        const outputTokens = extra > 0 ? maxOutputTokens + extra : Math.floor(maxOutputTokens * (0.9 + 0.1 * next()));
        const usage = { inputTokens: promptTokens, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, outputTokens, reasoningTokens: null };
        const costUsd = computeCost(gpt4o, usage)!;
        const settlement = fixture.gov.admission.settle(reservation, { costUsd, estimated: false, wouldHaveCostUsd: costUsd });
        outcome.differences.push(settlement.differenceUsd);
      }
      inFlight.delete(i);
    }

    await Promise.all(Array.from({ length: 50 }, (_, i) => request(i)));
    return outcome;
  }

  function settledTotal(): { settledUsd: number; reservedUsd: number } {
    const period = periodAt({ kind: 'monthly', timeZone: 'UTC' }, new Date(fixture.clock.now));
    return fixture.gov.ledger.spend({ kind: 'team', id: 'backend' }, period);
  }

  for (const seed of [1, 2, 3]) {
    it(`bounds overspend by the largest overrun (seed ${seed})`, async () => {
      // Request 7 writes 1,500 tokens more than it reserved, as a model without a known output limit can.
      const outcome = await runEdge(seed, (i) => (i === 7 ? 1500 : 0));
      const total = settledTotal();
      const largestDifference = Math.max(0, ...outcome.differences);

      expect(outcome.admitted + outcome.blocked).toBe(50);
      expect(outcome.blocked).toBeGreaterThan(0);
      expect(outcome.released).toBeGreaterThan(0);
      expect(total.reservedUsd).toBe(0);
      // Late requests fill the budget, so the run ends at its edge.
      expect(total.settledUsd).toBeGreaterThan(0.7);
      expect(total.settledUsd).toBeLessThanOrEqual(0.8 + largestDifference + 1e-9);
    });
  }

  it('stays within the limit when reservations hold', async () => {
    const outcome = await runEdge(4, () => 0);
    expect(outcome.differences.every((difference) => difference <= 0)).toBe(true);
    expect(settledTotal().settledUsd).toBeLessThanOrEqual(0.8 + 1e-9);
  });

  it('bounds overspend by the overruns in progress', async () => {
    const outcome = await runEdge(5, (i) => (i % 5 === 0 ? 800 : 0));
    expect(settledTotal().settledUsd).toBeLessThanOrEqual(0.8 + outcome.inFlightOverrun + 1e-9);
  });
});
