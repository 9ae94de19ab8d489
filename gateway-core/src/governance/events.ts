/**
 * Budget events for the UI, notifications and the admin server: a threshold of a budget reached
 * by settled spend, and the first request of a period that a budget blocked or downgraded. Each
 * event happens at most once per budget period, which a unique index enforces.
 */
import type { SqliteDatabase } from '../storage/database';
import type { ScopeKind, ScopeRef } from './scopes';

export type BudgetEventKind = 'threshold' | 'blocked' | 'downgraded';

export interface BudgetEvent {
  seq: number;
  budgetId: string;
  kind: BudgetEventKind;
  /** The percentage reached, for threshold events; null otherwise. */
  thresholdPct: number | null;
  scope: ScopeRef;
  periodStart: number;
  periodEnd: number;
  limitUsd: number;
  /** Settled spend of the period when the event happened. */
  spentUsd: number;
  /** The request that caused the event. */
  requestId: string | null;
  createdAt: number;
}

export type BudgetEventInput = Omit<BudgetEvent, 'seq'>;

interface EventRow {
  seq: number;
  budget_id: string;
  kind: BudgetEventKind;
  threshold_pct: number | null;
  scope_kind: ScopeKind;
  scope_id: string;
  period_start: number;
  period_end: number;
  limit_usd: number;
  spent_usd: number;
  request_id: string | null;
  created_at: number;
}

/** Memo entries kept before the memo is emptied; it only saves queries, so emptying is safe. */
const MAX_MEMO_ENTRIES = 10_000;

export class BudgetEventLog {
  private readonly statements;
  /** Highest threshold recorded per budget period, and which other kinds it has. */
  private readonly memo = new Map<string, { highestThreshold: number; kinds: Set<BudgetEventKind> }>();

  constructor(db: SqliteDatabase) {
    this.statements = {
      insert: db.prepare<unknown[], EventRow>(`
        INSERT OR IGNORE INTO budget_events (budget_id, kind, threshold_pct, scope_kind, scope_id, period_start, period_end,
                                             limit_usd, spent_usd, request_id, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        RETURNING *`),
      ofPeriod: db.prepare<[string, number], { kind: BudgetEventKind; threshold_pct: number | null }>(
        'SELECT kind, threshold_pct FROM budget_events WHERE budget_id = ? AND period_start = ?',
      ),
      recent: db.prepare<[number, number], EventRow>('SELECT * FROM budget_events WHERE created_at >= ? ORDER BY seq DESC LIMIT ?'),
      ofBudget: db.prepare<[string, number], EventRow>('SELECT * FROM budget_events WHERE budget_id = ? ORDER BY seq DESC LIMIT ?'),
    };
  }

  /** Returns the highest threshold percentage recorded for the budget period, or 0. */
  highestThreshold(budgetId: string, periodStart: number): number {
    return this.periodState(budgetId, periodStart).highestThreshold;
  }

  /** Returns whether the budget period already has an event of `kind` (blocked or downgraded). */
  has(budgetId: string, periodStart: number, kind: BudgetEventKind): boolean {
    return this.periodState(budgetId, periodStart).kinds.has(kind);
  }

  /** Records an event unless its budget period already has it; returns the new event or null. */
  record(input: BudgetEventInput): BudgetEvent | null {
    const state = this.periodState(input.budgetId, input.periodStart);
    const row = this.statements.insert.get(
      input.budgetId, input.kind, input.thresholdPct, input.scope.kind, input.scope.id, input.periodStart, input.periodEnd,
      input.limitUsd, input.spentUsd, input.requestId, input.createdAt,
    );
    if (input.kind === 'threshold') state.highestThreshold = Math.max(state.highestThreshold, input.thresholdPct ?? 0);
    else state.kinds.add(input.kind);
    return row ? toEvent(row) : null;
  }

  /** Returns events newest first: since an instant, or of one budget. */
  list(filter: { since?: number; budgetId?: string; limit?: number } = {}): BudgetEvent[] {
    const limit = filter.limit ?? 100;
    const rows = filter.budgetId !== undefined ? this.statements.ofBudget.all(filter.budgetId, limit) : this.statements.recent.all(filter.since ?? 0, limit);
    return rows.filter((row) => filter.since === undefined || row.created_at >= filter.since).map(toEvent);
  }

  /** Forgets what was read, after another connection may have written events. */
  clearMemo(): void {
    this.memo.clear();
  }

  private periodState(budgetId: string, periodStart: number): { highestThreshold: number; kinds: Set<BudgetEventKind> } {
    const key = `${budgetId}\u0001${periodStart}`;
    let state = this.memo.get(key);
    if (state) return state;

    state = { highestThreshold: 0, kinds: new Set() };
    for (const row of this.statements.ofPeriod.all(budgetId, periodStart)) {
      if (row.kind === 'threshold') state.highestThreshold = Math.max(state.highestThreshold, row.threshold_pct ?? 0);
      else state.kinds.add(row.kind);
    }
    if (this.memo.size >= MAX_MEMO_ENTRIES) this.memo.clear();
    this.memo.set(key, state);
    return state;
  }
}

function toEvent(row: EventRow): BudgetEvent {
  return {
    seq: row.seq,
    budgetId: row.budget_id,
    kind: row.kind,
    thresholdPct: row.threshold_pct,
    scope: { kind: row.scope_kind, id: row.scope_id },
    periodStart: row.period_start,
    periodEnd: row.period_end,
    limitUsd: row.limit_usd,
    spentUsd: row.spent_usd,
    requestId: row.request_id,
    createdAt: row.created_at,
  };
}
