/**
 * Rows of the ledger_entries table and the queries over them that more than one module uses.
 */
import { ORG_SCOPE_ID, type ScopeKind } from './scopes';

/** One settled request or cache hit, as stored. */
export interface LedgerEntry {
  seq: number;
  requestId: string;
  createdAt: number;
  settledAt: number;
  keyId: string;
  userId: string | null;
  teamId: string | null;
  alias: string;
  requestedModel: string;
  deploymentId: string | null;
  model: string | null;
  reservedUsd: number;
  costUsd: number | null;
  estimated: boolean;
  wouldHaveCostUsd: number | null;
  cacheHit: boolean;
  downgradedBy: string | null;
}

/** A row before it is written; the table assigns seq. */
export type NewEntry = Omit<LedgerEntry, 'seq'>;

export interface EntryRow {
  seq: number;
  request_id: string;
  created_at: number;
  settled_at: number;
  key_id: string;
  user_id: string | null;
  team_id: string | null;
  alias: string;
  requested_model: string;
  deployment_id: string | null;
  model: string | null;
  reserved_usd: number;
  cost_usd: number | null;
  estimated: number;
  would_have_cost_usd: number | null;
  cache_hit: number;
  downgraded_by: string | null;
}

export const insertEntrySql = `
  INSERT INTO ledger_entries (request_id, created_at, settled_at, key_id, user_id, team_id, alias, requested_model,
                              deployment_id, model, reserved_usd, cost_usd, estimated, would_have_cost_usd, cache_hit, downgraded_by)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Returns the parameters of insertEntrySql for `e`, in column order. */
export function insertEntryParams(e: NewEntry): unknown[] {
  return [
    e.requestId, e.createdAt, e.settledAt, e.keyId, e.userId, e.teamId, e.alias, e.requestedModel, e.deploymentId, e.model,
    e.reservedUsd, e.costUsd, e.estimated ? 1 : 0, e.wouldHaveCostUsd, e.cacheHit ? 1 : 0, e.downgradedBy,
  ];
}

const scopeColumns: Record<ScopeKind, string | null> = {
  org: null,
  team: 'team_id',
  user: 'user_id',
  key: 'key_id',
  alias: 'alias',
};

/** Returns the column a scope kind filters on, or null for the org scope, which counts every row. */
export function scopeColumn(kind: ScopeKind): string | null {
  return scopeColumns[kind];
}

/**
 * Returns the query that sums settled spend per id of a scope kind in a period, up to a seq.
 * Exported so that a test can check its plan.
 */
export function periodSumSql(kind: ScopeKind): string {
  const column = scopeColumn(kind);
  const id = column ?? `'${ORG_SCOPE_ID}'`;
  const group = column === null ? '' : `GROUP BY ${column}`;
  // "+seq" keeps the planner on the created_at index instead of a scan of the rowid range.
  return `SELECT ${id} AS id, total(cost_usd) AS settled FROM ledger_entries
          WHERE created_at >= ? AND created_at < ? AND +seq <= ? ${group}`;
}

export function toEntry(row: EntryRow): LedgerEntry {
  return {
    seq: row.seq,
    requestId: row.request_id,
    createdAt: row.created_at,
    settledAt: row.settled_at,
    keyId: row.key_id,
    userId: row.user_id,
    teamId: row.team_id,
    alias: row.alias,
    requestedModel: row.requested_model,
    deploymentId: row.deployment_id,
    model: row.model,
    reservedUsd: row.reserved_usd,
    costUsd: row.cost_usd,
    estimated: row.estimated === 1,
    wouldHaveCostUsd: row.would_have_cost_usd,
    cacheHit: row.cache_hit === 1,
    downgradedBy: row.downgraded_by,
  };
}
