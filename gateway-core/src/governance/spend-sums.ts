/**
 * Spend sums in memory: for a scope kind and a period, the settled and reserved spend of every
 * id of that kind. The ledger reads each from the database once and then changes it with every
 * reservation, settlement and release, so admission reads spend without a query.
 */
import { ORG_SCOPE_ID, type ScopeKind } from './scopes';

/** A row as the sums see it: when it counts and toward which scopes. */
export interface CountedRow {
  createdAt: number;
  keyId: string;
  userId: string | null;
  teamId: string | null;
  alias: string;
}

export interface Counter {
  settled: number;
  reserved: number;
}

/** Reserved sums closer to zero than this are rounding residue, far below any real price. */
const RESIDUE_USD = 1e-12;
/** Period sums kept; when full, the half that ends first is dropped, and read again if needed. */
const MAX_PERIOD_SUMS = 64;

/** The sums of one scope kind in one period [start, end), for every id of that kind. */
export class PeriodSums {
  readonly byId = new Map<string, Counter>();

  constructor(
    readonly kind: ScopeKind,
    readonly start: number,
    readonly end: number,
  ) {}

  /** Adds a row's change when the row counts in this period and has an id of this kind. */
  add(row: CountedRow, settledDelta: number, reservedDelta: number): void {
    if (row.createdAt < this.start || row.createdAt >= this.end) return;
    const id = idOf(this.kind, row);
    if (id === null) return;
    let counter = this.byId.get(id);
    if (!counter) {
      counter = { settled: 0, reserved: 0 };
      this.byId.set(id, counter);
    }
    counter.settled += settledDelta;
    counter.reserved += reservedDelta;
    // Adding and removing the same amounts leaves rounding residue such as -1e-16.
    if (Math.abs(counter.reserved) < RESIDUE_USD) counter.reserved = 0;
  }
}

export class SpendSums {
  private readonly sums = new Map<string, PeriodSums>();

  get(kind: ScopeKind, start: number, end: number): PeriodSums | undefined {
    return this.sums.get(sumsKey(kind, start, end));
  }

  put(sums: PeriodSums): void {
    if (this.sums.size >= MAX_PERIOD_SUMS) {
      const oldest = [...this.sums.entries()].sort((a, b) => a[1].end - b[1].end).slice(0, MAX_PERIOD_SUMS / 2);
      for (const [key] of oldest) this.sums.delete(key);
    }
    this.sums.set(sumsKey(sums.kind, sums.start, sums.end), sums);
  }

  /** Applies a change of settled and reserved spend to every period sum that counts the row. */
  apply(row: CountedRow, settledDelta: number, reservedDelta: number): void {
    for (const sums of this.sums.values()) sums.add(row, settledDelta, reservedDelta);
  }
}

function sumsKey(kind: ScopeKind, start: number, end: number): string {
  return `${kind}\u0001${start}\u0001${end}`;
}

function idOf(kind: ScopeKind, row: CountedRow): string | null {
  switch (kind) {
    case 'org':
      return ORG_SCOPE_ID;
    case 'team':
      return row.teamId;
    case 'user':
      return row.userId;
    case 'key':
      return row.keyId;
    case 'alias':
      return row.alias;
  }
}
