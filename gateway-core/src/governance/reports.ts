/**
 * Reports over the spend ledger for the management API. The budget status gives each budget's
 * current period with spend, remaining amount and a forecast. Spend is grouped by day, model,
 * alias, key, user or team. Savings compare the cost on the model the client asked for with
 * the real cost. Grouped reports read settled rows only, while requests in progress show in
 * the budget status as reserved spend.
 */
import type { SqliteDatabase } from '../storage/database';
import { percentOfLimit, type Budget, type BudgetStore } from './budgets';
import { notFound } from './errors';
import type { SpendLedger } from './ledger';
import { scopeColumn } from './ledger-rows';
import { budgetInForce, budgetPeriodAt, periodAt, type Period, type PeriodSpec } from './periods';
import type { ScopeRef } from './scopes';

export interface Forecast {
  /** Settled spend at the end of the period if it goes on at the average rate so far. */
  projectedUsd: number;
  /** When spend at that rate reaches the limit within the period; null when it does not. */
  exhaustsAt: number | null;
}

export interface BudgetStatus {
  budget: Budget;
  periodStart: number;
  /** The end of the period, when spend starts again from zero. */
  resetAt: number;
  /** "2026-12", "2026-W49", "2026-12-05", or a fixed window's start. */
  periodKey: string;
  spentUsd: number;
  reservedUsd: number;
  /** The limit minus spent and reserved spend, never below 0. */
  remainingUsd: number;
  /** Settled spend as a percentage of the limit; Infinity for spend on a $0 limit. */
  percentUsed: number;
  /** False for a fixed window that has not begun or has ended: the budget checks nothing then. */
  inForce: boolean;
  forecast: Forecast;
}

export const SPEND_DIMENSIONS = ['day', 'model', 'alias', 'key', 'user', 'team'] as const;
export type SpendDimension = (typeof SPEND_DIMENSIONS)[number];

export interface SpendRow {
  /** The day ("2026-12-05"), or the model, alias, key, user or team id; null for rows without one. */
  group: string | null;
  costUsd: number;
  /** The cost on the model each client asked for; the real cost where that is unknown. */
  wouldHaveCostUsd: number;
  savedUsd: number;
  requests: number;
  cacheHits: number;
  /** Requests whose deployment has no price, which costUsd leaves out. */
  unpricedRequests: number;
}

export interface SpendQuery {
  /** Inclusive, milliseconds since the epoch. */
  from: number;
  /** Exclusive. */
  to: number;
  /** Only rows that count toward this scope. */
  scope?: ScopeRef;
  /** The zone of day boundaries; default the budgets' default zone. */
  timeZone?: string;
}

export interface SavingsRow {
  /** "2026-12". */
  month: string;
  teamId: string | null;
  /** Before: what the requests would have cost on the models the clients asked for. */
  wouldHaveCostUsd: number;
  /** After: what they cost. */
  costUsd: number;
  savedUsd: number;
  /** Saved by responses served from the cache. */
  cacheSavedUsd: number;
  /** Saved by routing to a cheaper model than the one asked for, downgrades included. */
  routingSavedUsd: number;
  requests: number;
  cacheHits: number;
}

interface AggregateRow {
  grp: string | null;
  cost: number;
  would_have: number;
  requests: number;
  cache_hits: number;
  unpriced: number;
}

interface SavingsAggregateRow {
  team_id: string | null;
  cost: number;
  would_have: number;
  cache_saved: number;
  requests: number;
  cache_hits: number;
}

const groupColumns: Record<Exclude<SpendDimension, 'day'>, string> = {
  model: 'model',
  alias: 'alias',
  key: 'key_id',
  user: 'user_id',
  team: 'team_id',
};

const aggregates = `
  total(cost_usd) AS cost,
  total(coalesce(would_have_cost_usd, cost_usd)) AS would_have,
  count(*) AS requests,
  count(CASE WHEN cache_hit = 1 THEN 1 END) AS cache_hits,
  count(CASE WHEN cost_usd IS NULL THEN 1 END) AS unpriced`;

export interface SpendReportsOptions {
  db: SqliteDatabase;
  ledger: SpendLedger;
  budgets: BudgetStore;
  /** Clock in milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

export class SpendReports {
  private readonly db: SqliteDatabase;
  private readonly ledger: SpendLedger;
  private readonly budgets: BudgetStore;
  private readonly now: () => number;

  constructor(options: SpendReportsOptions) {
    this.db = options.db;
    this.ledger = options.ledger;
    this.budgets = options.budgets;
    this.now = options.now ?? Date.now;
  }

  /** Returns the current period of a budget. Throws not_found for an unknown id. */
  budgetStatus(budgetId: string): BudgetStatus {
    const active = this.budgets.getActive(budgetId);
    if (!active) throw notFound('Budget', budgetId, 'List budgets to find its id.');
    const now = this.now();
    const period = budgetPeriodAt(active.spec, new Date(now));
    const spend = this.ledger.spend(active.budget.scope, period);
    const limit = active.budget.limitUsd;
    const inForce = budgetInForce(active.spec, new Date(now));
    return {
      budget: active.budget,
      periodStart: period.start.getTime(),
      resetAt: period.end.getTime(),
      periodKey: period.key,
      spentUsd: spend.settledUsd,
      reservedUsd: spend.reservedUsd,
      remainingUsd: Math.max(0, limit - spend.settledUsd - spend.reservedUsd),
      percentUsed: percentOfLimit(spend.settledUsd, limit),
      inForce,
      // A fixed window that has not begun or has ended has nothing to project.
      forecast: inForce ? forecastLinear(spend.settledUsd, limit, period, now) : { projectedUsd: spend.settledUsd, exhaustsAt: null },
    };
  }

  /** Returns the current period of every budget, or of the budgets on one scope. */
  budgetStatuses(filter: { scope?: ScopeRef } = {}): BudgetStatus[] {
    return this.budgets.list(filter).map((budget) => this.budgetStatus(budget.id));
  }

  /** Returns the spend of any scope in the period of `spec` that contains `at`, with or without a budget. */
  scopeSpend(scope: ScopeRef, spec: PeriodSpec, at: number = this.now()): { period: Period; spentUsd: number; reservedUsd: number } {
    const period = periodAt(spec, new Date(at));
    const spend = this.ledger.spend(scope, period);
    return { period, spentUsd: spend.settledUsd, reservedUsd: spend.reservedUsd };
  }

  /** Returns spend in [from, to) grouped by `dimension`; days are local days of `timeZone`. */
  spendBy(dimension: SpendDimension, query: SpendQuery): SpendRow[] {
    checkRange(query);
    if (dimension === 'day') {
      const spec: PeriodSpec = { kind: 'daily', timeZone: query.timeZone ?? this.budgets.defaultTimeZone };
      return periodsBetween(spec, query.from, query.to).map((day) => {
        const row = this.aggregate(null, Math.max(day.start.getTime(), query.from), Math.min(day.end.getTime(), query.to), query.scope)[0];
        return toSpendRow(row, day.key);
      });
    }
    const column = groupColumns[dimension];
    if (column === undefined) throw new RangeError(`Invalid dimension ${JSON.stringify(dimension)}: expected one of ${SPEND_DIMENSIONS.join(', ')}.`);
    return this.aggregate(column, query.from, query.to, query.scope).map((row) => toSpendRow(row, row.grp));
  }

  /**
   * Returns savings per calendar month of `timeZone` and team: the cost on the models the
   * clients asked for (before) against the real cost (after), split into cache and routing.
   */
  savingsByTeamAndMonth(query: SpendQuery): SavingsRow[] {
    checkRange(query);
    const spec: PeriodSpec = { kind: 'monthly', timeZone: query.timeZone ?? this.budgets.defaultTimeZone };
    const filter = scopeFilter(query.scope);
    const sql = `
      SELECT team_id,
        total(cost_usd) AS cost,
        total(coalesce(would_have_cost_usd, cost_usd)) AS would_have,
        total(CASE WHEN cache_hit = 1 THEN would_have_cost_usd END) AS cache_saved,
        count(*) AS requests,
        count(CASE WHEN cache_hit = 1 THEN 1 END) AS cache_hits
      FROM ledger_entries
      WHERE created_at >= ? AND created_at < ? ${filter.sql}
      GROUP BY team_id ORDER BY team_id`;

    const rows: SavingsRow[] = [];
    for (const month of periodsBetween(spec, query.from, query.to)) {
      const from = Math.max(month.start.getTime(), query.from);
      const to = Math.min(month.end.getTime(), query.to);
      const found = this.ledger.read(() => this.db.prepare<unknown[], SavingsAggregateRow>(sql).all(from, to, ...filter.params));
      for (const row of found) {
        const saved = row.would_have - row.cost;
        rows.push({
          month: month.key,
          teamId: row.team_id,
          wouldHaveCostUsd: row.would_have,
          costUsd: row.cost,
          savedUsd: saved,
          cacheSavedUsd: row.cache_saved,
          routingSavedUsd: saved - row.cache_saved,
          requests: row.requests,
          cacheHits: row.cache_hits,
        });
      }
    }
    return rows;
  }

  private aggregate(column: string | null, from: number, to: number, scope: ScopeRef | undefined): AggregateRow[] {
    const filter = scopeFilter(scope);
    const group = column === null ? '' : `GROUP BY ${column} ORDER BY cost DESC, ${column}`;
    const sql = `
      SELECT ${column ?? 'NULL'} AS grp, ${aggregates}
      FROM ledger_entries WHERE created_at >= ? AND created_at < ? ${filter.sql} ${group}`;
    return this.ledger.read(() => this.db.prepare<unknown[], AggregateRow>(sql).all(from, to, ...filter.params));
  }
}

/**
 * Extrapolates settled spend linearly from the period's start to its end. Early in a period
 * the rate rests on few requests, so the projection moves a lot.
 */
export function forecastLinear(spentUsd: number, limitUsd: number, period: { start: Date; end: Date }, now: number): Forecast {
  const start = period.start.getTime();
  const end = period.end.getTime();
  const elapsed = Math.min(now, end) - start;
  if (elapsed <= 0 || spentUsd <= 0) return { projectedUsd: spentUsd, exhaustsAt: spentUsd > limitUsd ? now : null };

  const rate = spentUsd / elapsed;
  const projectedUsd = spentUsd + rate * Math.max(0, end - now);
  if (spentUsd >= limitUsd) return { projectedUsd, exhaustsAt: now };
  const exhaustsAt = Math.ceil(now + (limitUsd - spentUsd) / rate);
  return { projectedUsd, exhaustsAt: exhaustsAt < end ? exhaustsAt : null };
}

/** Returns the periods of `spec` that overlap [from, to). */
export function periodsBetween(spec: PeriodSpec, from: number, to: number): Period[] {
  const periods: Period[] = [];
  let period = periodAt(spec, new Date(from));
  while (period.start.getTime() < to) {
    periods.push(period);
    period = periodAt(spec, period.end);
  }
  return periods;
}

function scopeFilter(scope: ScopeRef | undefined): { sql: string; params: string[] } {
  if (scope === undefined) return { sql: '', params: [] };
  const column = scopeColumn(scope.kind);
  return column === null ? { sql: '', params: [] } : { sql: `AND ${column} = ?`, params: [scope.id] };
}

/** Reports read one row per day, so a range is capped at about ten years of days. */
const MAX_RANGE_MS = 3660 * 86_400_000;

function checkRange(query: SpendQuery): void {
  if (!Number.isFinite(query.from) || !Number.isFinite(query.to) || query.to <= query.from || query.to - query.from > MAX_RANGE_MS) {
    throw new RangeError(`Invalid report range from ${query.from} to ${query.to}: "to" must be after "from", at most ten years later, both in milliseconds since the epoch.`);
  }
}

function toSpendRow(row: AggregateRow | undefined, group: string | null): SpendRow {
  const cost = row?.cost ?? 0;
  const wouldHave = row?.would_have ?? 0;
  return {
    group,
    costUsd: cost,
    wouldHaveCostUsd: wouldHave,
    savedUsd: wouldHave - cost,
    requests: row?.requests ?? 0,
    cacheHits: row?.cache_hits ?? 0,
    unpricedRequests: row?.unpriced ?? 0,
  };
}
