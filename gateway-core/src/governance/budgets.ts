/**
 * Budgets: a USD limit on one scope for a period, and what happens when a request would pass
 * it (block with HTTP 429, or downgrade to another alias). The store keeps every budget in
 * memory, indexed by scope, so admission finds the budgets of a request without a query.
 */
import { randomBytes } from 'node:crypto';
import type { SqliteDatabase } from '../storage/database';
import { definedInConfig, invalidField, notFound } from './errors';
import { checkBudgetId, checkLimitUsd, checkPeriod, checkThresholds, checkTimeZone } from './budget-checks';
import type { CalendarPeriodKind, PeriodSpec } from './periods';
import { ORG_SCOPE_ID, SCOPE_KINDS, scopeKey, type ScopeKind, type ScopeRef } from './scopes';
import type { RowSource } from './directory';

export const BUDGET_ACTIONS = ['block', 'downgrade'] as const;
export type BudgetAction = (typeof BUDGET_ACTIONS)[number];

/** Percentages of the limit that raise a threshold event when settled spend reaches them. */
export const DEFAULT_THRESHOLDS: readonly number[] = [50, 80, 100];

/** Returns spend as a percentage of a limit. Any spend on a $0 limit is Infinity. */
export function percentOfLimit(spentUsd: number, limitUsd: number): number {
  if (limitUsd > 0) return (spentUsd / limitUsd) * 100;
  return spentUsd > 0 ? Infinity : 0;
}

export type BudgetPeriod =
  /** timeZone null follows the configured default zone (airlock.governance.time_zone). */
  | { kind: CalendarPeriodKind; timeZone: string | null }
  /** start is an ISO 8601 instant; lengthDays counts exact 24-hour days. */
  | { kind: 'fixed'; start: string; lengthDays: number };

export interface Budget {
  id: string;
  name: string | null;
  scope: ScopeRef;
  period: BudgetPeriod;
  limitUsd: number;
  action: BudgetAction;
  /** The model_name a downgrade routes to; null for the block action. */
  downgradeAlias: string | null;
  /** Ascending percentages of limitUsd. */
  thresholds: number[];
  source: RowSource;
  createdAt: number;
  updatedAt: number;
}

export interface BudgetInput {
  /** Generated for API budgets when missing; config budgets always have one. */
  id?: string;
  name?: string | null;
  scope: ScopeRef;
  period: BudgetPeriod;
  limitUsd: number;
  /** Default "block". */
  action?: BudgetAction;
  downgradeAlias?: string | null;
  /** Default DEFAULT_THRESHOLDS. */
  thresholds?: number[];
}

/** A budget with the period spec that periods.ts reads, its zone resolved. */
export interface ActiveBudget {
  budget: Budget;
  spec: PeriodSpec;
  /** The zone of a calendar period, or null for a fixed window. */
  timeZone: string | null;
}

export interface BudgetStoreOptions {
  /** Zone of calendar periods that name none; default "UTC". */
  defaultTimeZone?: string;
  /** Whether a model_name exists, to check alias scopes and downgrade targets; default accepts any. */
  isKnownAlias?: (alias: string) => boolean;
}

interface BudgetRow {
  id: string;
  name: string | null;
  scope_kind: ScopeKind;
  scope_id: string;
  period_kind: BudgetPeriod['kind'];
  time_zone: string | null;
  window_start: number | null;
  window_days: number | null;
  limit_usd: number;
  action: BudgetAction;
  downgrade_alias: string | null;
  thresholds: string;
  source: RowSource;
  created_at: number;
  updated_at: number;
}

export class BudgetStore {
  private readonly statements;
  private defaultZone: string;
  private isKnownAlias: (alias: string) => boolean;
  private byScope = new Map<string, ActiveBudget[]>();
  private byId = new Map<string, ActiveBudget>();

  constructor(db: SqliteDatabase, options: BudgetStoreOptions = {}) {
    this.statements = {
      all: db.prepare<[], BudgetRow>('SELECT * FROM budgets ORDER BY id'),
      insert: db.prepare(`
        INSERT INTO budgets (id, name, scope_kind, scope_id, period_kind, time_zone, window_start, window_days,
                             limit_usd, action, downgrade_alias, thresholds, source, created_at, updated_at)
        VALUES (@id, @name, @scope_kind, @scope_id, @period_kind, @time_zone, @window_start, @window_days,
                @limit_usd, @action, @downgrade_alias, @thresholds, @source, @created_at, @updated_at)`),
      update: db.prepare(`
        UPDATE budgets SET name = @name, scope_kind = @scope_kind, scope_id = @scope_id, period_kind = @period_kind,
          time_zone = @time_zone, window_start = @window_start, window_days = @window_days, limit_usd = @limit_usd,
          action = @action, downgrade_alias = @downgrade_alias, thresholds = @thresholds, source = @source,
          updated_at = @updated_at
        WHERE id = @id`),
      delete: db.prepare('DELETE FROM budgets WHERE id = ?'),
      teamExists: db.prepare<[string], { id: string }>('SELECT id FROM teams WHERE id = ?'),
      userExists: db.prepare<[string], { id: string }>('SELECT id FROM users WHERE id = ?'),
      keyExists: db.prepare<[string], { id: string }>('SELECT id FROM api_keys WHERE id = ?'),
    };
    this.defaultZone = checkTimeZone(options.defaultTimeZone ?? 'UTC', 'time_zone');
    this.isKnownAlias = options.isKnownAlias ?? (() => true);
    this.reload();
  }

  get defaultTimeZone(): string {
    return this.defaultZone;
  }

  /** Sets the zone of calendar budgets that name none. Throws invalid_value for an unknown zone. */
  setDefaultTimeZone(timeZone: string): void {
    this.defaultZone = checkTimeZone(timeZone, 'time_zone');
    this.reload();
  }

  /** Sets the check for model_names, once the config's model_list is known. */
  setAliasCheck(isKnownAlias: (alias: string) => boolean): void {
    this.isKnownAlias = isKnownAlias;
  }

  /** Reads every budget again, after another connection may have changed them. */
  reload(): void {
    const byScope = new Map<string, ActiveBudget[]>();
    const byId = new Map<string, ActiveBudget>();
    for (const row of this.statements.all.all()) {
      const active = this.activate(toBudget(row));
      byId.set(active.budget.id, active);
      const key = scopeKey(active.budget.scope.kind, active.budget.scope.id);
      const list = byScope.get(key);
      if (list) list.push(active);
      else byScope.set(key, [active]);
    }
    this.byScope = byScope;
    this.byId = byId;
  }

  list(filter: { scope?: ScopeRef; source?: RowSource } = {}): Budget[] {
    let budgets = [...this.byId.values()].map((active) => active.budget);
    if (filter.scope) budgets = budgets.filter((b) => b.scope.kind === filter.scope!.kind && b.scope.id === filter.scope!.id);
    if (filter.source) budgets = budgets.filter((b) => b.source === filter.source);
    return budgets;
  }

  get(id: string): Budget | null {
    return this.byId.get(id)?.budget ?? null;
  }

  getActive(id: string): ActiveBudget | null {
    return this.byId.get(id) ?? null;
  }

  allActive(): ActiveBudget[] {
    return [...this.byId.values()];
  }

  /** Returns the budgets on any of `scopes`, in the order of `scopes`. */
  applicable(scopes: readonly ScopeRef[]): ActiveBudget[] {
    const found: ActiveBudget[] = [];
    for (const scope of scopes) {
      const list = this.byScope.get(scopeKey(scope.kind, scope.id));
      if (list) found.push(...list);
    }
    return found;
  }

  /** Creates a budget through the API. Throws invalid_value naming the field and the fix. */
  create(input: BudgetInput): Budget {
    const id = input.id === undefined ? `bud_${randomBytes(6).toString('hex')}` : checkBudgetId(input.id);
    if (this.byId.has(id)) throw invalidField('id', `Budget '${id}' already exists. Choose another id, or update the existing budget.`);
    const now = Date.now();
    this.statements.insert.run(this.toRow({ ...input, id }, 'api', now, now));
    this.reload();
    return this.get(id)!;
  }

  /** Updates an API budget; fields missing from `patch` keep their values. */
  update(id: string, patch: Partial<Omit<BudgetInput, 'id'>>): Budget {
    const existing = this.get(id);
    if (!existing) throw notFound('Budget', id, 'List budgets to find its id.');
    if (existing.source === 'config') throw definedInConfig('Budget', id, 'airlock.governance.budgets');
    const merged: BudgetInput & { id: string } = { ...existing, ...withoutUndefined(patch), id };
    // A change to the block action drops the downgrade target unless the patch sets one.
    if (patch.action === 'block' && patch.downgradeAlias === undefined) merged.downgradeAlias = null;
    this.statements.update.run(this.toRow(merged, 'api', existing.createdAt, Date.now()));
    this.reload();
    return this.get(id)!;
  }

  delete(id: string): void {
    const existing = this.get(id);
    if (!existing) throw notFound('Budget', id, 'List budgets to find its id.');
    if (existing.source === 'config') throw definedInConfig('Budget', id, 'airlock.governance.budgets');
    this.statements.delete.run(id);
    this.reload();
  }

  /** Creates or replaces a budget from the config file; an API budget with the same id becomes a config budget. */
  putConfigBudget(input: BudgetInput & { id: string }): 'created' | 'updated' {
    const existing = this.get(input.id);
    const now = Date.now();
    if (existing) {
      this.statements.update.run(this.toRow(input, 'config', existing.createdAt, now));
    } else {
      this.statements.insert.run(this.toRow(input, 'config', now, now));
    }
    this.reload();
    return existing ? 'updated' : 'created';
  }

  /** Deletes config budgets whose ids are not in `keep`; returns the deleted ids. */
  removeConfigBudgets(keep: ReadonlySet<string>): string[] {
    const removed = this.list({ source: 'config' })
      .map((budget) => budget.id)
      .filter((id) => !keep.has(id));
    for (const id of removed) this.statements.delete.run(id);
    if (removed.length > 0) this.reload();
    return removed;
  }

  private activate(budget: Budget): ActiveBudget {
    if (budget.period.kind === 'fixed') {
      return { budget, spec: { kind: 'fixed', start: new Date(budget.period.start), lengthDays: budget.period.lengthDays }, timeZone: null };
    }
    const timeZone = budget.period.timeZone ?? this.defaultZone;
    return { budget, spec: { kind: budget.period.kind, timeZone }, timeZone };
  }

  /** Validates a budget and returns its row. Every check names the API and config field. */
  private toRow(input: BudgetInput & { id: string }, source: RowSource, createdAt: number, updatedAt: number): Record<string, unknown> {
    const scope = this.checkScope(input.scope);
    const period = checkPeriod(input.period);
    const limitUsd = checkLimitUsd(input.limitUsd);
    const action = input.action ?? 'block';
    if (!BUDGET_ACTIONS.includes(action)) {
      throw invalidField('action', `Invalid action ${JSON.stringify(action)}: expected "block" (refuse with HTTP 429) or "downgrade" (route to downgrade_alias).`);
    }
    const downgradeAlias = this.checkDowngradeAlias(action, input.downgradeAlias ?? null, scope);
    const thresholds = checkThresholds(input.thresholds ?? [...DEFAULT_THRESHOLDS]);
    const name = input.name ?? null;
    if (name !== null && (typeof name !== 'string' || name.length > 200)) {
      throw invalidField('name', 'Invalid name: expected text of at most 200 characters, or leave it out.');
    }

    return {
      id: input.id,
      name,
      scope_kind: scope.kind,
      scope_id: scope.id,
      period_kind: period.kind,
      time_zone: period.kind === 'fixed' ? null : period.timeZone,
      window_start: period.kind === 'fixed' ? Date.parse(period.start) : null,
      window_days: period.kind === 'fixed' ? period.lengthDays : null,
      limit_usd: limitUsd,
      action,
      downgrade_alias: downgradeAlias,
      thresholds: JSON.stringify(thresholds),
      source,
      created_at: createdAt,
      updated_at: updatedAt,
    };
  }

  private checkScope(scope: ScopeRef | undefined): ScopeRef {
    const kind = scope?.kind;
    if (kind === undefined || !SCOPE_KINDS.includes(kind)) {
      throw invalidField('scope', `Invalid scope ${JSON.stringify(kind) ?? 'undefined'}: expected one of ${SCOPE_KINDS.join(', ')}.`);
    }
    const id = scope!.id;
    if (kind === 'org') {
      if (id !== undefined && id !== null && id !== ORG_SCOPE_ID) {
        throw invalidField('scope_id', `Invalid scope_id ${JSON.stringify(id)} for the org scope: leave scope_id out (there is one organisation).`);
      }
      return { kind, id: ORG_SCOPE_ID };
    }
    if (typeof id !== 'string' || id === '') {
      throw invalidField('scope_id', `Missing scope_id: a ${kind} budget must name the ${kind} it applies to.`);
    }
    const exists =
      kind === 'team'
        ? this.statements.teamExists.get(id) !== undefined
        : kind === 'user'
          ? this.statements.userExists.get(id) !== undefined
          : kind === 'key'
            ? this.statements.keyExists.get(id) !== undefined
            : this.isKnownAlias(id);
    if (!exists) {
      const fix: Record<Exclude<ScopeKind, 'org'>, string> = {
        team: 'Create the team first (airlock.governance.teams or the teams API).',
        user: 'Create the user first (airlock.governance.users or the users API).',
        key: 'Use the id of an existing key (key_…), as listed by the keys API.',
        alias: 'Use a model_name from model_list.',
      };
      throw invalidField('scope_id', `Invalid scope_id: ${kind} '${id}' does not exist. ${fix[kind]}`);
    }
    return { kind, id };
  }

  private checkDowngradeAlias(action: BudgetAction, alias: string | null, scope: ScopeRef): string | null {
    if (action === 'block') {
      if (alias !== null) throw invalidField('downgrade_alias', 'downgrade_alias applies only to the downgrade action. Remove it, or set action to "downgrade".');
      return null;
    }
    if (typeof alias !== 'string' || alias === '') {
      throw invalidField('downgrade_alias', 'Missing downgrade_alias: the downgrade action needs the model_name to route to, normally a local model.');
    }
    if (!this.isKnownAlias(alias)) throw invalidField('downgrade_alias', `Invalid downgrade_alias '${alias}': it is not a model_name in model_list.`);
    if (scope.kind === 'alias' && scope.id === alias) {
      throw invalidField('downgrade_alias', `Invalid downgrade_alias '${alias}': it is the alias this budget limits, so a downgrade would not change anything. Name another alias.`);
    }
    return alias;
  }
}

function toBudget(row: BudgetRow): Budget {
  const period: BudgetPeriod =
    row.period_kind === 'fixed'
      ? { kind: 'fixed', start: new Date(row.window_start!).toISOString(), lengthDays: row.window_days! }
      : { kind: row.period_kind, timeZone: row.time_zone };
  return {
    id: row.id,
    name: row.name,
    scope: { kind: row.scope_kind, id: row.scope_id },
    period,
    limitUsd: row.limit_usd,
    action: row.action,
    downgradeAlias: row.downgrade_alias,
    thresholds: JSON.parse(row.thresholds) as number[],
    source: row.source,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
