import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdmissionDecision, AdmissionRequest } from '../../src/governance/admission';
import type { BudgetEvent } from '../../src/governance/events';
import { createGovernance, type Governance, type GovernanceOptions } from '../../src/governance/governance';
import type { Reservation } from '../../src/governance/ledger';
import type { GovernancePrincipal } from '../../src/governance/scopes';
import { openDatabase, type SqliteDatabase } from '../../src/storage/database';
import { KeyStore } from '../../src/storage/keys';

/** A clock the tests move by hand, in milliseconds since the epoch. */
export interface TestClock {
  now: number;
  set(iso: string): void;
  advance(ms: number): void;
}

export function createClock(iso: string): TestClock {
  const clock: TestClock = {
    now: Date.parse(iso),
    set(value) {
      clock.now = Date.parse(value);
    },
    advance(ms) {
      clock.now += ms;
    },
  };
  return clock;
}

export interface GovernanceFixture {
  dataDir: string;
  db: SqliteDatabase;
  gov: Governance;
  keyStore: KeyStore;
  clock: TestClock;
  events: BudgetEvent[];
  /** Closes the database and opens it again, as a restart does, with new governance objects. */
  restart(): void;
  /** Closes the database and deletes the data folder. */
  dispose(): void;
}

/** Opens a real database in a temporary folder with the governance layer on a test clock. */
export function openGovernance(options: { start?: string } & Omit<GovernanceOptions, 'now' | 'onEvent'> = {}): GovernanceFixture {
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-governance-'));
  const clock = createClock(options.start ?? '2026-11-10T12:00:00Z');
  const events: BudgetEvent[] = [];
  const build = (db: SqliteDatabase): Governance =>
    createGovernance(db, { ...options, now: () => clock.now, onEvent: (event) => events.push(event) });

  const fixture: GovernanceFixture = {
    dataDir,
    db: openDatabase(dataDir),
    gov: undefined as unknown as Governance,
    keyStore: undefined as unknown as KeyStore,
    clock,
    events,
    restart() {
      fixture.db.close();
      fixture.db = openDatabase(dataDir);
      fixture.gov = build(fixture.db);
      fixture.keyStore = new KeyStore(fixture.db, null);
    },
    dispose() {
      if (fixture.db.open) fixture.db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  fixture.gov = build(fixture.db);
  fixture.keyStore = new KeyStore(fixture.db, null);
  return fixture;
}

/** Creates teams "backend" and "marketing", users alice (backend) and bob (marketing), and a key for each user. */
export function seedOrganisation(fixture: GovernanceFixture): { alice: GovernancePrincipal; bob: GovernancePrincipal } {
  const { directory } = fixture.gov;
  directory.createTeam({ id: 'backend', name: 'Backend' });
  directory.createTeam({ id: 'marketing', name: 'Marketing' });
  directory.createUser({ id: 'alice', teamId: 'backend' });
  directory.createUser({ id: 'bob', teamId: 'marketing' });
  const aliceKey = fixture.keyStore.create('alice-laptop', 'user', { userId: 'alice', teamId: 'backend' }).record;
  const bobKey = fixture.keyStore.create('bob-laptop', 'user', { userId: 'bob', teamId: 'marketing' }).record;
  return {
    alice: fixture.gov.keys.resolve({ keyId: aliceKey.id, userId: 'alice', teamId: 'backend' }),
    bob: fixture.gov.keys.resolve({ keyId: bobKey.id, userId: 'bob', teamId: 'marketing' }),
  };
}

let requestCounter = 0;

/** Returns an admission request by `principal` at a fixed worst-case cost, for gpt-4o unless `overrides` name another alias. */
export function attempt(principal: GovernancePrincipal, worstCaseUsd: number | null, overrides: Partial<AdmissionRequest> = {}): AdmissionRequest {
  requestCounter += 1;
  return {
    requestId: `req-${requestCounter}`,
    principal,
    alias: 'gpt-4o',
    requestedModel: 'gpt-4o',
    deployment: { id: 'gpt-4o#0', model: 'gpt-4o' },
    worstCaseUsd,
    ...overrides,
  };
}

/** Returns the reservation of an admitted decision, and fails the test on any other decision. */
export function admitted(decision: AdmissionDecision): Reservation {
  if (decision.kind !== 'admitted') {
    throw new Error(`expected the request to be admitted, got ${decision.kind}: ${decision.kind === 'blocked' ? decision.error.message : decision.alias}`);
  }
  return decision.reservation;
}

/** Admits a request at `usd` and settles it at the same cost. */
export function spend(fixture: GovernanceFixture, principal: GovernancePrincipal, usd: number, overrides: Partial<AdmissionRequest> = {}): void {
  const reservation = admitted(fixture.gov.admission.admit(attempt(principal, usd, overrides)));
  fixture.gov.admission.settle(reservation, { costUsd: usd, estimated: false, wouldHaveCostUsd: usd });
}
