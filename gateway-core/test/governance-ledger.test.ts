import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerUnavailableError } from '../src/governance/errors';
import type { ReservationInput } from '../src/governance/ledger';
import { periodSumSql } from '../src/governance/ledger-rows';
import { periodAt } from '../src/governance/periods';
import { SCOPE_KINDS, type GovernancePrincipal } from '../src/governance/scopes';
import { databaseFileName } from '../src/storage/database';
import { openGovernance, seedOrganisation, type GovernanceFixture } from './helpers/governance';

let fixture: GovernanceFixture;
let alice: GovernancePrincipal;
let bob: GovernancePrincipal;

const org = { kind: 'org', id: 'org' } as const;
const backend = { kind: 'team', id: 'backend' } as const;

beforeEach(() => {
  fixture = openGovernance({ start: '2026-11-10T12:00:00Z' });
  ({ alice, bob } = seedOrganisation(fixture));
});

afterEach(() => {
  fixture.dispose();
});

function thisMonth(): { start: Date; end: Date } {
  return periodAt({ kind: 'monthly', timeZone: 'UTC' }, new Date(fixture.clock.now));
}

function reservation(principal: GovernancePrincipal, reservedUsd: number, requestId = 'req-1'): ReservationInput {
  return { requestId, principal, alias: 'gpt-4o', requestedModel: 'gpt-4o', deploymentId: 'gpt-4o#0', model: 'gpt-4o', reservedUsd };
}

/** Opens a second connection to the same file, as another process would. */
function otherConnection(): Database.Database {
  return new Database(join(fixture.dataDir, databaseFileName));
}

describe('ledger reserve, settle and release', () => {
  it('counts a reservation until it settles', () => {
    const { ledger } = fixture.gov;
    const open = ledger.reserve(reservation(alice, 0.5));
    expect(ledger.spend(backend, thisMonth())).toEqual({ settledUsd: 0, reservedUsd: 0.5 });

    ledger.settle(open, { costUsd: 0.2, estimated: false, wouldHaveCostUsd: 0.3 });
    expect(ledger.spend(backend, thisMonth())).toEqual({ settledUsd: 0.2, reservedUsd: 0 });
    expect(ledger.spend(org, thisMonth())).toEqual({ settledUsd: 0.2, reservedUsd: 0 });
    expect(ledger.spend({ kind: 'team', id: 'marketing' }, thisMonth())).toEqual({ settledUsd: 0, reservedUsd: 0 });
  });

  it('keeps settled rows with their details', () => {
    const { ledger } = fixture.gov;
    const open = ledger.reserve(reservation(alice, 0.5, 'req-details'));
    ledger.settle(open, { costUsd: 0.2, estimated: true, wouldHaveCostUsd: 0.3 });
    const [entry] = ledger.entriesOf('req-details');
    expect(entry).toMatchObject({
      requestId: 'req-details',
      keyId: alice.keyId,
      userId: 'alice',
      teamId: 'backend',
      reservedUsd: 0.5,
      costUsd: 0.2,
      estimated: true,
      wouldHaveCostUsd: 0.3,
      cacheHit: false,
    });
  });

  it('writes alsoWrite in the settlement transaction', () => {
    const { ledger } = fixture.gov;
    fixture.db.exec('CREATE TABLE audit_probe (request_id TEXT NOT NULL) STRICT');
    const open = ledger.reserve(reservation(alice, 0.5, 'req-audit'));
    const result = ledger.settle(open, { costUsd: 0.2, estimated: false, wouldHaveCostUsd: null }, () => {
      fixture.db.prepare('INSERT INTO audit_probe (request_id) VALUES (?)').run('req-audit');
    });
    expect(result.persisted).toBe(true);
    expect(fixture.db.prepare('SELECT count(*) AS n FROM audit_probe').get()).toEqual({ n: 1 });
    expect(ledger.entriesOf('req-audit')).toHaveLength(1);
  });

  it('releases a failed attempt', () => {
    const { ledger } = fixture.gov;
    const open = ledger.reserve(reservation(alice, 0.5));
    expect(ledger.release(open)).toBe(true);
    expect(ledger.spend(backend, thisMonth())).toEqual({ settledUsd: 0, reservedUsd: 0 });
    expect(ledger.entriesOf('req-1')).toEqual([]);
    expect(ledger.openCount).toBe(0);
  });

  it('releases only once', () => {
    const { ledger } = fixture.gov;
    const open = ledger.reserve(reservation(alice, 0.5));
    ledger.release(open);
    expect(ledger.release(open)).toBe(false);
    expect(ledger.spend(backend, thisMonth()).reservedUsd).toBe(0);
  });

  it('refuses to settle a released reservation', () => {
    const { ledger } = fixture.gov;
    const open = ledger.reserve(reservation(alice, 0.5));
    ledger.release(open);
    expect(() => ledger.settle(open, { costUsd: 0.1, estimated: false, wouldHaveCostUsd: null })).toThrow(/is not open/);
    expect(ledger.spend(backend, thisMonth())).toEqual({ settledUsd: 0, reservedUsd: 0 });
  });

  it('does not release a settled reservation', () => {
    const { ledger } = fixture.gov;
    const open = ledger.reserve(reservation(alice, 0.5));
    ledger.settle(open, { costUsd: 0.4, estimated: false, wouldHaveCostUsd: null });
    expect(ledger.release(open)).toBe(false);
    expect(ledger.spend(backend, thisMonth()).settledUsd).toBe(0.4);
  });

  it('counts an unknown price as no settled spend', () => {
    const { ledger } = fixture.gov;
    const open = ledger.reserve(reservation(alice, 0));
    ledger.settle(open, { costUsd: null, estimated: false, wouldHaveCostUsd: null });
    expect(ledger.spend(backend, thisMonth())).toEqual({ settledUsd: 0, reservedUsd: 0 });
  });

  it('rejects a negative reservation', () => {
    expect(() => fixture.gov.ledger.reserve(reservation(alice, -1))).toThrow(RangeError);
  });

  it('rejects a reservation without requested model', () => {
    const input = { ...reservation(alice, 0.1), requestedModel: undefined as unknown as string };
    expect(() => fixture.gov.ledger.reserve(input)).toThrow(/Invalid requestedModel undefined/);
    expect(fixture.gov.ledger.openCount).toBe(0);
  });

  it('drops a row the table rejects', () => {
    const { ledger } = fixture.gov;
    const other = otherConnection();
    other.exec(`CREATE TRIGGER reject_bad BEFORE INSERT ON ledger_entries WHEN NEW.request_id = 'req-bad' BEGIN SELECT RAISE(ABORT, 'rejected'); END`);
    other.close();

    const bad = ledger.reserve(reservation(alice, 0.1, 'req-bad'));
    expect(ledger.settle(bad, { costUsd: 0.1, estimated: false, wouldHaveCostUsd: null }).persisted).toBe(true);
    const good = ledger.reserve(reservation(alice, 0.1, 'req-good'));
    expect(ledger.settle(good, { costUsd: 0.1, estimated: false, wouldHaveCostUsd: null }).persisted).toBe(true);

    expect(ledger.entriesOf('req-bad')).toEqual([]);
    expect(ledger.entriesOf('req-good')).toHaveLength(1);
    expect(ledger.pendingCount).toBe(0);
  });

  it('records a cache hit at no cost', () => {
    const { ledger } = fixture.gov;
    ledger.recordCacheHit({ requestId: 'req-cached', principal: alice, alias: 'gpt-4o', requestedModel: 'gpt-4o', wouldHaveCostUsd: 0.03 });
    expect(ledger.entriesOf('req-cached')[0]).toMatchObject({ costUsd: 0, reservedUsd: 0, cacheHit: true, wouldHaveCostUsd: 0.03 });
    expect(ledger.spend(backend, thisMonth()).settledUsd).toBe(0);
  });

  it('counts a row in the period it was reserved in', () => {
    const { ledger } = fixture.gov;
    fixture.clock.set('2026-11-30T23:59:59Z');
    const november = thisMonth();
    const open = ledger.reserve(reservation(alice, 1));
    fixture.clock.set('2026-12-01T00:00:05Z');
    ledger.settle(open, { costUsd: 0.7, estimated: false, wouldHaveCostUsd: null });
    expect(ledger.spend(backend, november).settledUsd).toBe(0.7);
    expect(ledger.spend(backend, thisMonth()).settledUsd).toBe(0);
  });
});

describe('ledger across restarts and connections', () => {
  it('keeps settled spend over a restart', () => {
    const open = fixture.gov.ledger.reserve(reservation(alice, 2));
    fixture.gov.ledger.settle(open, { costUsd: 1.25, estimated: false, wouldHaveCostUsd: null });

    fixture.restart();
    expect(fixture.gov.ledger.spend(backend, thisMonth())).toEqual({ settledUsd: 1.25, reservedUsd: 0 });
    expect(fixture.gov.ledger.spend(org, thisMonth())).toEqual({ settledUsd: 1.25, reservedUsd: 0 });
  });

  it('forgets reservations of a stopped process', () => {
    fixture.gov.ledger.reserve(reservation(bob, 0.75));
    expect(fixture.gov.ledger.spend(org, thisMonth()).reservedUsd).toBe(0.75);
    fixture.restart();
    expect(fixture.gov.ledger.spend(org, thisMonth()).reservedUsd).toBe(0);
  });

  it('sees spend written by another connection', () => {
    const { ledger } = fixture.gov;
    expect(ledger.spend(backend, thisMonth()).settledUsd).toBe(0);

    const other = otherConnection();
    other
      .prepare(
        `INSERT INTO ledger_entries (request_id, created_at, settled_at, key_id, user_id, team_id, alias, requested_model, reserved_usd, cost_usd)
         VALUES ('req-other', ?, ?, ?, 'alice', 'backend', 'gpt-4o', 'gpt-4o', 3, 3)`,
      )
      .run(fixture.clock.now, fixture.clock.now, alice.keyId);
    other.close();

    expect(ledger.spend(backend, thisMonth()).settledUsd).toBe(3);
  });

  it('counts rows of another connection once', () => {
    const { ledger } = fixture.gov;
    expect(ledger.spend(org, thisMonth()).settledUsd).toBe(0);
    const other = otherConnection();
    const insert = other.prepare(
      `INSERT INTO ledger_entries (request_id, created_at, settled_at, key_id, team_id, alias, requested_model, reserved_usd, cost_usd)
       VALUES (?, ?, ?, 'key_other', 'backend', 'gpt-4o', 'gpt-4o', 1, 1)`,
    );
    insert.run('other-1', fixture.clock.now, fixture.clock.now);
    const open = ledger.reserve(reservation(alice, 0.5));
    ledger.settle(open, { costUsd: 0.5, estimated: false, wouldHaveCostUsd: null });
    insert.run('other-2', fixture.clock.now, fixture.clock.now);
    other.close();

    expect(ledger.spend(org, thisMonth()).settledUsd).toBe(2.5);
    fixture.restart();
    expect(fixture.gov.ledger.spend(org, thisMonth()).settledUsd).toBe(2.5);
  });
});

describe('ledger fails closed', () => {
  it('raises LedgerUnavailableError when the table is gone', () => {
    const { ledger } = fixture.gov;
    ledger.spend(backend, thisMonth());
    const other = otherConnection();
    other.exec('ALTER TABLE ledger_entries RENAME TO ledger_entries_moved');
    other.close();

    let caught: unknown;
    try {
      ledger.ensureCurrent();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LedgerUnavailableError);
    expect((caught as LedgerUnavailableError).status).toBe(503);
    expect((caught as LedgerUnavailableError).message).toMatch(/no such table: ledger_entries/);
    expect((caught as LedgerUnavailableError).message).toMatch(/requests that cost money are refused/);
    expect(() => ledger.spend(backend, thisMonth())).toThrow(LedgerUnavailableError);
  });

  it('keeps a settlement that cannot be written and writes it later', () => {
    const { ledger } = fixture.gov;
    fixture.db.pragma('busy_timeout = 50');
    const other = otherConnection();
    other.exec('BEGIN EXCLUSIVE');
    try {
      const open = ledger.reserve(reservation(alice, 1, 'req-locked'));
      expect(ledger.settle(open, { costUsd: 0.75, estimated: false, wouldHaveCostUsd: null })).toEqual({ persisted: false });
      expect(ledger.pendingCount).toBe(1);
      // The cost happened, so it counts although the row is not written yet.
      expect(ledger.spend(backend, thisMonth()).settledUsd).toBe(0.75);
      expect(() => ledger.ensureCurrent()).toThrow(/database is locked/);
      expect(() => ledger.ensureCurrent()).toThrow(LedgerUnavailableError);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }

    ledger.ensureCurrent();
    expect(ledger.pendingCount).toBe(0);
    expect(ledger.entriesOf('req-locked')[0]!.costUsd).toBe(0.75);
    fixture.restart();
    expect(fixture.gov.ledger.spend(backend, thisMonth()).settledUsd).toBe(0.75);
  });

  it('counts unwritten settlements in sums read later', () => {
    const { ledger } = fixture.gov;
    fixture.db.pragma('busy_timeout = 50');
    const other = otherConnection();
    other.exec('BEGIN EXCLUSIVE');
    try {
      const open = ledger.reserve(reservation(alice, 1));
      ledger.settle(open, { costUsd: 0.5, estimated: false, wouldHaveCostUsd: null });
      // No sum of user alice was read before, so this one is read from the table now.
      expect(ledger.spendAsSynced({ kind: 'user', id: 'alice' }, thisMonth()).settledUsd).toBe(0.5);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(ledger.flushPending()).toBe(true);
  });

  it('raises LedgerUnavailableError after the database closed', () => {
    fixture.db.close();
    expect(() => fixture.gov.ledger.ensureCurrent()).toThrow(LedgerUnavailableError);
    expect(() => fixture.gov.ledger.spend(backend, thisMonth())).toThrow(LedgerUnavailableError);
  });
});

describe('ledger queries', () => {
  it('sums every scope through the time index', () => {
    for (const kind of SCOPE_KINDS) {
      const plan = fixture.db
        .prepare(`EXPLAIN QUERY PLAN ${periodSumSql(kind)}`)
        .all(0, 1, 100)
        .map((row) => (row as { detail: string }).detail)
        .join('\n');
      expect(plan, kind).toMatch(/USING INDEX ledger_created_at/);
      expect(plan, kind).not.toMatch(/SCAN ledger_entries/);
    }
  });
});
