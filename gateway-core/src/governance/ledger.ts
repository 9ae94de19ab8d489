/**
 * The spend ledger. A reservation keeps a request's worst-case cost in memory while the request
 * is in progress. Settlement writes one row with the real cost to SQLite, so spend per scope and
 * period survives a restart, and a request costs one small write transaction.
 *
 * Sums per scope and period are read from the database once, with one query per scope kind and
 * period, then kept in memory and changed by every reservation, settlement and release.
 * When PRAGMA data_version shows that another connection (another process) has written, its new
 * rows are read by seq and added. Any database failure becomes LedgerUnavailableError.
 *
 * NOTE: reservations of another process on the same database file are not visible here, so two
 * gateways sharing one file can together pass a budget by what both have in progress. One
 * gateway per data folder, as the desktop app and `npm start` run, has no such gap.
 */
import Database from 'better-sqlite3';
import { GatewayError } from '../errors';
import type { Logger } from '../logger';
import type { SqliteDatabase } from '../storage/database';
import { LedgerUnavailableError } from './errors';
import { insertEntryParams, insertEntrySql, periodSumSql, toEntry, type EntryRow, type LedgerEntry, type NewEntry } from './ledger-rows';
import type { GovernancePrincipal, ScopeKind, ScopeRef } from './scopes';
import { PeriodSums, SpendSums, type CountedRow } from './spend-sums';

export type { LedgerEntry } from './ledger-rows';

export interface ReservationInput {
  requestId: string;
  principal: GovernancePrincipal;
  /** The model_name this attempt serves; alias budgets count it. */
  alias: string;
  /** The model name the client sent, the baseline for savings. */
  requestedModel: string;
  deploymentId: string | null;
  /** Provider model of the deployment. */
  model: string | null;
  /** Worst-case cost in USD; 0 for a free model or one whose price is unknown. */
  reservedUsd: number;
  /** The budget whose downgrade action chose this alias, if any. */
  downgradedBy?: string | null;
}

/** A reservation of a request in progress. Settle or release it once: settling it again throws. */
export interface Reservation extends Readonly<ReservationInput> {
  readonly id: number;
  /** Milliseconds since the epoch; the request counts toward the periods containing this instant. */
  readonly createdAt: number;
}

export interface SettlementInput {
  /** Real cost in USD, or null when the deployment's price is unknown. */
  costUsd: number | null;
  /** True when usage was counted from text because the provider reported none. */
  estimated: boolean;
  /** Cost on the model the client asked for, or null when unknown. */
  wouldHaveCostUsd: number | null;
}

export interface CacheHitInput {
  requestId: string;
  principal: GovernancePrincipal;
  alias: string;
  requestedModel: string;
  wouldHaveCostUsd: number | null;
  /** The provider model that wrote the stored answer, for spend by model; null when unknown. */
  model?: string | null;
}

export interface ScopeSpend {
  /** Settled cost of the period. */
  settledUsd: number;
  /** Worst-case cost reserved by this gateway's requests in progress. */
  reservedUsd: number;
}

export interface SpendLedgerOptions {
  /** Clock in milliseconds since the epoch; default Date.now. Tests move it. */
  now?: () => number;
  logger?: Logger;
}

/** Settlements kept in memory while the database cannot be written; the oldest are dropped past this. */
const MAX_PENDING = 10_000;

export class SpendLedger {
  private readonly db: SqliteDatabase;
  private readonly now: () => number;
  private readonly logger: Logger | null;
  private readonly statements;
  private readonly periodSums: Record<ScopeKind, Database.Statement<[number, number, number], { id: string | null; settled: number }>>;
  private readonly runImmediate: (fn: () => unknown) => unknown;
  private readonly sums = new SpendSums();
  private readonly open = new Map<number, Reservation>();
  /** Settlements whose write failed; written before anything else once the database works again. */
  private readonly pending: NewEntry[] = [];
  private readonly changeListeners: Array<() => void> = [];
  private nextId = 1;
  /** Every row up to this seq is in the sums. */
  private lastSeq = 0;
  private dataVersion: number | null = null;

  constructor(db: SqliteDatabase, options: SpendLedgerOptions = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? null;
    this.statements = {
      dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
      maxSeq: db.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM ledger_entries').pluck(),
      rowsAfter: db.prepare<[number], CountedRow & { seq: number; cost: number | null }>(
        `SELECT seq, created_at AS createdAt, key_id AS keyId, user_id AS userId, team_id AS teamId, alias, cost_usd AS cost
         FROM ledger_entries WHERE seq > ? ORDER BY seq`,
      ),
      insert: db.prepare(insertEntrySql),
      byRequest: db.prepare<[string], EntryRow>('SELECT * FROM ledger_entries WHERE request_id = ? ORDER BY seq'),
    };
    this.periodSums = {
      org: db.prepare(periodSumSql('org')),
      team: db.prepare(periodSumSql('team')),
      user: db.prepare(periodSumSql('user')),
      key: db.prepare(periodSumSql('key')),
      alias: db.prepare(periodSumSql('alias')),
    };
    const transaction = db.transaction((fn: () => unknown) => {
      this.sync();
      return fn();
    });
    this.runImmediate = (fn) => transaction.immediate(fn);
  }

  /** Calls `listener` when another connection has written to the database. */
  onExternalChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  /**
   * Brings the sums up to date with other connections and writes settlements that failed
   * before. Throws LedgerUnavailableError when either fails, which admission turns into a
   * refusal of requests that cost money.
   */
  ensureCurrent(): void {
    if (this.pending.length > 0) {
      this.write(() => undefined);
      return;
    }
    this.read(() => this.sync());
  }

  /** Returns the spend of `scope` in the period [start, end), this gateway's reservations included. */
  spend(scope: ScopeRef, period: { start: Date; end: Date }): ScopeSpend {
    this.read(() => this.sync());
    return this.spendAsSynced(scope, period);
  }

  /**
   * Returns the spend of `scope` as of the last sync, without asking the database whether other
   * connections wrote since. Admission calls ensureCurrent once and then this per budget.
   */
  spendAsSynced(scope: ScopeRef, period: { start: Date; end: Date }): ScopeSpend {
    return this.read(() => {
      const counter = this.periodSumsFor(scope.kind, period.start.getTime(), period.end.getTime()).byId.get(scope.id);
      return counter ? { settledUsd: counter.settled, reservedUsd: counter.reserved } : { settledUsd: 0, reservedUsd: 0 };
    });
  }

  /** Reserves a worst-case cost in memory. Check budgets with `spend` right before, with no await between. */
  reserve(input: ReservationInput): Reservation {
    checkUsd(input.reservedUsd, 'reservedUsd');
    // Checked here, because a row that the table rejects at settlement would be lost.
    checkText(input.requestId, 'requestId');
    checkText(input.principal.keyId, 'principal.keyId');
    checkText(input.alias, 'alias');
    checkText(input.requestedModel, 'requestedModel');
    const reservation: Reservation = {
      ...input,
      principal: { keyId: input.principal.keyId, userId: input.principal.userId, teamId: input.principal.teamId },
      downgradedBy: input.downgradedBy ?? null,
      id: this.nextId++,
      createdAt: this.now(),
    };
    this.open.set(reservation.id, reservation);
    this.apply(countedRow(reservation), 0, reservation.reservedUsd);
    return reservation;
  }

  /**
   * Settles a reservation to its real cost and writes the ledger row, with `alsoWrite` in the
   * same transaction. When the write fails, the row stays in memory, counts toward the sums and
   * is written later; `persisted` is then false. Throws when the reservation is not open.
   */
  settle(reservation: Reservation, input: SettlementInput, alsoWrite?: () => void): { persisted: boolean } {
    if (input.costUsd !== null) checkUsd(input.costUsd, 'costUsd');
    if (!this.open.delete(reservation.id)) {
      throw new Error(`Reservation ${reservation.id} of request ${reservation.requestId} is not open: it was settled or released already.`);
    }
    const entry: NewEntry = {
      requestId: reservation.requestId,
      createdAt: reservation.createdAt,
      settledAt: this.now(),
      keyId: reservation.principal.keyId,
      userId: reservation.principal.userId,
      teamId: reservation.principal.teamId,
      alias: reservation.alias,
      requestedModel: reservation.requestedModel,
      deploymentId: reservation.deploymentId,
      model: reservation.model,
      reservedUsd: reservation.reservedUsd,
      costUsd: input.costUsd,
      estimated: input.estimated,
      wouldHaveCostUsd: input.wouldHaveCostUsd,
      cacheHit: false,
      downgradedBy: reservation.downgradedBy ?? null,
    };
    this.apply(entry, input.costUsd ?? 0, -reservation.reservedUsd);
    return this.persist(entry, alsoWrite);
  }

  /** Releases a reservation whose attempt failed. Returns false when it was not open. */
  release(reservation: Reservation): boolean {
    if (!this.open.delete(reservation.id)) return false;
    this.apply(countedRow(reservation), 0, -reservation.reservedUsd);
    return true;
  }

  /** Records a request served from the cache: cost 0, and its cost on the requested model. */
  recordCacheHit(input: CacheHitInput): { persisted: boolean } {
    const now = this.now();
    return this.persist({
      requestId: input.requestId,
      createdAt: now,
      settledAt: now,
      keyId: input.principal.keyId,
      userId: input.principal.userId,
      teamId: input.principal.teamId,
      alias: input.alias,
      requestedModel: input.requestedModel,
      deploymentId: null,
      model: input.model ?? null,
      reservedUsd: 0,
      costUsd: 0,
      estimated: false,
      wouldHaveCostUsd: input.wouldHaveCostUsd,
      cacheHit: true,
      downgradedBy: null,
    });
  }

  /** Writes settlements whose write failed. Call at shutdown; returns false when they are still unwritten. */
  flushPending(): boolean {
    if (this.pending.length === 0) return true;
    try {
      this.write(() => undefined);
      return true;
    } catch (error) {
      if (error instanceof LedgerUnavailableError) return false;
      throw error;
    }
  }

  /** Settlements waiting for the database to work again. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Reservations of requests in progress. */
  get openCount(): number {
    return this.open.size;
  }

  /** Runs `fn` and turns database failures into LedgerUnavailableError, for reads outside a transaction. */
  read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw this.toLedgerError(error);
    }
  }

  /**
   * Returns the rows of one request, for diagnostics and tests. It scans the table, because no
   * index on request_id is kept.
   */
  entriesOf(requestId: string): LedgerEntry[] {
    return this.read(() => this.statements.byRequest.all(requestId).map(toEntry));
  }

  private persist(entry: NewEntry, alsoWrite?: () => void): { persisted: boolean } {
    this.pending.push(entry);
    try {
      this.write(() => alsoWrite?.());
      return { persisted: true };
    } catch (error) {
      if (!(error instanceof LedgerUnavailableError)) throw error;
      if (this.pending.length > MAX_PENDING) {
        const dropped = this.pending.splice(0, this.pending.length - MAX_PENDING);
        this.logger?.error({ dropped: dropped.length }, 'dropped unwritten ledger rows: the database has not been writable for too long');
      }
      this.logger?.error({ err: error.cause, requestId: entry.requestId, pending: this.pending.length }, 'ledger write failed; the settlement is kept in memory and written later');
      return { persisted: false };
    }
  }

  /**
   * Runs a BEGIN IMMEDIATE transaction that syncs, inserts the pending rows and runs `fn`. The
   * pending rows leave memory only once the transaction has committed.
   */
  private write(fn: () => void): void {
    let written = { count: 0, lastSeq: 0 };
    try {
      this.runImmediate(() => {
        written = this.insertPending();
        fn();
      });
    } catch (error) {
      throw this.toLedgerError(error);
    }
    if (written.count === 0) return;
    this.pending.splice(0, written.count);
    // The write lock was held from sync() to commit, so no other connection's row lies between.
    this.lastSeq = written.lastSeq;
  }

  private insertPending(): { count: number; lastSeq: number } {
    let lastSeq = this.lastSeq;
    for (const e of this.pending) {
      try {
        const result = this.statements.insert.run(...insertEntryParams(e));
        lastSeq = Number(result.lastInsertRowid);
      } catch (error) {
        // A row the table rejects would fail every later write too, so it is dropped, not kept.
        if (!(error instanceof Database.SqliteError) || !error.code.startsWith('SQLITE_CONSTRAINT')) throw error;
        this.logger?.error({ err: error, requestId: e.requestId }, 'dropped a ledger row that the table rejects');
      }
    }
    return { count: this.pending.length, lastSeq };
  }

  /** Adds the rows other connections wrote since the last look, when PRAGMA data_version reports a change. */
  private sync(): void {
    const version = this.statements.dataVersion.get()!;
    if (version === this.dataVersion) return;
    if (this.dataVersion === null) {
      this.lastSeq = this.statements.maxSeq.get()!;
      this.dataVersion = version;
      return;
    }
    // The version is stored only after the rows are read, so a failed read is tried again.
    const rows = this.statements.rowsAfter.all(this.lastSeq);
    this.dataVersion = version;
    for (const row of rows) {
      this.apply(row, row.cost ?? 0, 0);
      this.lastSeq = row.seq;
    }
    for (const listener of this.changeListeners) listener();
  }

  private periodSumsFor(kind: ScopeKind, start: number, end: number): PeriodSums {
    const found = this.sums.get(kind, start, end);
    if (found) return found;
    // lastSeq is only known after the first sync.
    if (this.dataVersion === null) this.sync();

    const sums = new PeriodSums(kind, start, end);
    for (const row of this.periodSums[kind].all(start, end, this.lastSeq)) {
      if (row.id !== null) sums.byId.set(row.id, { settled: row.settled, reserved: 0 });
    }
    // Rows not in the table yet: reservations in progress and settlements whose write failed.
    for (const reservation of this.open.values()) sums.add(countedRow(reservation), 0, reservation.reservedUsd);
    for (const entry of this.pending) sums.add(entry, entry.costUsd ?? 0, 0);
    this.sums.put(sums);
    return sums;
  }

  private apply(row: CountedRow, settledDelta: number, reservedDelta: number): void {
    this.sums.apply(row, settledDelta, reservedDelta);
  }

  private toLedgerError(error: unknown): unknown {
    if (error instanceof GatewayError) return error;
    if (error instanceof Database.SqliteError || !this.db.open) return new LedgerUnavailableError(error);
    return error;
  }
}

function countedRow(reservation: Reservation): CountedRow {
  return {
    createdAt: reservation.createdAt,
    keyId: reservation.principal.keyId,
    userId: reservation.principal.userId,
    teamId: reservation.principal.teamId,
    alias: reservation.alias,
  };
}

function checkText(value: unknown, name: string): void {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`Invalid ${name} ${JSON.stringify(value) ?? String(value)}: expected a non-empty string.`);
  }
}

function checkUsd(value: number, name: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`Invalid ${name} ${String(value)}: expected a finite USD amount >= 0.`);
  }
}

