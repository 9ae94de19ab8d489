import type express from 'express';
import type { Request, Response } from 'express';
import { GatewayError } from '../errors';
import type { Budget } from '../governance/budgets';
import {
  budgetEntrySchema,
  budgetPatchSchema,
  parseBody,
  teamEntrySchema,
  toBudgetInput,
  toBudgetPatch,
  toTeamInput,
  toUserInput,
  userEntrySchema,
} from '../governance/config-schema';
import type { Team, User } from '../governance/directory';
import type { Governance } from '../governance/governance';
import type { BudgetStatus, SpendDimension, SpendRow } from '../governance/reports';
import { SPEND_DIMENSIONS } from '../governance/reports';
import { SCOPE_KINDS, type ScopeRef } from '../governance/scopes';
import type { Principal } from '../storage/keys';
import { requireAdmin } from './auth';
import { readJsonBody } from './body';
import { roundUsd } from './money';
import { queryLimit, queryText, queryTime } from './query';

type Route = (handler: (req: Request, res: Response, principal: Principal) => Promise<void> | void) => express.RequestHandler;

interface Dependencies {
  governance: Governance;
  maxBodyBytes: number;
}

const DAY_MS = 86_400_000;

/**
 * Adds the governance routes: teams, users and budgets (CRUD, admin only), budget status with
 * spend, remaining amount and forecast, spend reports, savings and budget events.
 */
export function addGovernanceRoutes(router: express.Router, route: Route, deps: Dependencies): void {
  const { directory, budgets, reports, events } = deps.governance;
  const body = async (req: Request): Promise<unknown> => readJsonBody(req, deps.maxBodyBytes);

  router.get('/teams', route((_req, res, principal) => {
    requireAdmin(principal);
    res.json({ object: 'list', data: directory.listTeams().map(teamJson) });
  }));
  router.post('/teams', route(async (req, res, principal) => {
    requireAdmin(principal);
    res.status(201).json(teamJson(directory.createTeam(toTeamInput(parseBody(teamEntrySchema, await body(req))))));
  }));
  router.get('/teams/:id', route((req, res, principal) => {
    requireAdmin(principal);
    res.json(teamJson(found(directory.getTeam(String(req.params.id)), 'Team', String(req.params.id))));
  }));
  router.patch('/teams/:id', route(async (req, res, principal) => {
    requireAdmin(principal);
    const id = String(req.params.id);
    const entry = parseBody(teamEntrySchema.partial(), await body(req));
    if (entry.id !== undefined && entry.id !== id) throw new GatewayError('invalid_value', 'A team id cannot be changed.', { param: 'id' });
    const patch = toTeamInput({ ...entry, id });
    res.json(teamJson(directory.updateTeam(id, pick(patch, entry, { name: 'name', rpmLimit: 'rpm_limit', tpmLimit: 'tpm_limit' }))));
  }));
  router.delete('/teams/:id', route((req, res, principal) => {
    requireAdmin(principal);
    directory.deleteTeam(String(req.params.id));
    res.json({ id: String(req.params.id), deleted: true });
  }));

  router.get('/users', route((req, res, principal) => {
    requireAdmin(principal);
    const teamId = queryText(req.query as Record<string, unknown>, 'team_id');
    res.json({ object: 'list', data: directory.listUsers(teamId === undefined ? {} : { teamId }).map(userJson) });
  }));
  router.post('/users', route(async (req, res, principal) => {
    requireAdmin(principal);
    res.status(201).json(userJson(directory.createUser(toUserInput(parseBody(userEntrySchema, await body(req))))));
  }));
  router.get('/users/:id', route((req, res, principal) => {
    requireAdmin(principal);
    res.json(userJson(found(directory.getUser(String(req.params.id)), 'User', String(req.params.id))));
  }));
  router.patch('/users/:id', route(async (req, res, principal) => {
    requireAdmin(principal);
    const id = String(req.params.id);
    const current = found(directory.getUser(id), 'User', id);
    const entry = parseBody(userEntrySchema.partial(), await body(req));
    if (entry.id !== undefined && entry.id !== id) throw new GatewayError('invalid_value', 'A user id cannot be changed.', { param: 'id' });
    const patch = toUserInput({ ...entry, id, team_id: entry.team_id ?? current.teamId });
    const fields = { name: 'name', email: 'email', teamId: 'team_id', rpmLimit: 'rpm_limit', tpmLimit: 'tpm_limit' } as const;
    res.json(userJson(directory.updateUser(id, pick(patch, entry, fields))));
  }));
  router.delete('/users/:id', route((req, res, principal) => {
    requireAdmin(principal);
    directory.deleteUser(String(req.params.id));
    res.json({ id: String(req.params.id), deleted: true });
  }));

  router.get('/budgets', route((req, res, principal) => {
    requireAdmin(principal);
    const scope = scopeQuery(req.query as Record<string, unknown>);
    res.json({ object: 'list', data: reports.budgetStatuses(scope === undefined ? {} : { scope }).map(statusJson) });
  }));
  router.post('/budgets', route(async (req, res, principal) => {
    requireAdmin(principal);
    const created = budgets.create(toBudgetInput(parseBody(budgetEntrySchema, await body(req))));
    res.status(201).json(statusJson(reports.budgetStatus(created.id)));
  }));
  router.get('/budgets/:id', route((req, res, principal) => {
    requireAdmin(principal);
    const id = String(req.params.id);
    found(budgets.get(id), 'Budget', id);
    res.json(statusJson(reports.budgetStatus(id)));
  }));
  router.patch('/budgets/:id', route(async (req, res, principal) => {
    requireAdmin(principal);
    const id = String(req.params.id);
    budgets.update(id, toBudgetPatch(parseBody(budgetPatchSchema, await body(req))));
    res.json(statusJson(reports.budgetStatus(id)));
  }));
  router.delete('/budgets/:id', route((req, res, principal) => {
    requireAdmin(principal);
    budgets.delete(String(req.params.id));
    res.json({ id: String(req.params.id), deleted: true });
  }));

  router.get('/budget-events', route((req, res, principal) => {
    requireAdmin(principal);
    const query = req.query as Record<string, unknown>;
    const budgetId = queryText(query, 'budget_id');
    const since = queryTime(query, 'since');
    const list = events.list({ limit: queryLimit(query), ...(budgetId === undefined ? {} : { budgetId }), ...(since === undefined ? {} : { since }) });
    res.json({ object: 'list', data: list.map((event) => ({ ...event, spentUsd: roundUsd(event.spentUsd) })) });
  }));

  router.get('/spend', route((req, res, principal) => {
    requireAdmin(principal);
    const query = req.query as Record<string, unknown>;
    const by = queryText(query, 'by') ?? 'day';
    if (!(SPEND_DIMENSIONS as readonly string[]).includes(by)) {
      throw new GatewayError('invalid_value', `Query parameter 'by' must be one of ${SPEND_DIMENSIONS.join(', ')}.`, { param: 'by' });
    }
    const range = rangeQuery(query);
    const scope = scopeQuery(query);
    const rows = reports.spendBy(by as SpendDimension, { ...range, ...(scope === undefined ? {} : { scope }) });
    res.json({ object: 'list', by, from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(), data: rows.map(spendJson) });
  }));

  router.get('/savings', route((req, res, principal) => {
    requireAdmin(principal);
    const range = rangeQuery(req.query as Record<string, unknown>);
    const rows = reports.savingsByTeamAndMonth(range);
    res.json({
      object: 'list',
      data: rows.map((row) => ({
        month: row.month,
        team: row.teamId,
        would_have_cost_usd: roundUsd(row.wouldHaveCostUsd),
        cost_usd: roundUsd(row.costUsd),
        saved_usd: roundUsd(row.savedUsd),
        cache_saved_usd: roundUsd(row.cacheSavedUsd),
        routing_saved_usd: roundUsd(row.routingSavedUsd),
        requests: row.requests,
        cache_hits: row.cacheHits,
      })),
    });
  }));
}

function found<T>(value: T | null, entity: string, id: string): T {
  if (value === null) throw new GatewayError('not_found', `${entity} '${id}' does not exist.`, { param: 'id' });
  return value;
}

/** Keeps the converted fields whose body field was sent, so a PATCH leaves the others alone. */
function pick<T extends object>(converted: T, sent: Record<string, unknown>, fields: Partial<Record<keyof T, string>>): Partial<T> {
  const patch: Partial<T> = {};
  for (const [field, bodyField] of Object.entries(fields) as Array<[keyof T, string]>) {
    if (sent[bodyField] !== undefined) patch[field] = converted[field];
  }
  return patch;
}

/** `scope=team:backend`, `scope=org` or `scope=alias:gpt-4o`. */
function scopeQuery(query: Record<string, unknown>): ScopeRef | undefined {
  const text = queryText(query, 'scope');
  if (text === undefined) return undefined;
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  let id = text.slice(colon + 1);
  if (colon < 0) id = kind === 'org' ? 'org' : '';
  if (!(SCOPE_KINDS as readonly string[]).includes(kind) || id === '') {
    throw new GatewayError('invalid_value', `Query parameter 'scope' must be org or kind:id with kind ${SCOPE_KINDS.filter((k) => k !== 'org').join(', ')}, such as team:backend.`, { param: 'scope' });
  }
  return { kind: kind as ScopeRef['kind'], id };
}

/** `from` and `to` (ISO 8601 or epoch ms); default the last 30 days. */
function rangeQuery(query: Record<string, unknown>): { from: number; to: number } {
  const to = queryTime(query, 'to') ?? Date.now();
  const from = queryTime(query, 'from') ?? to - 30 * DAY_MS;
  if (from >= to) throw new GatewayError('invalid_value', "Query parameter 'from' must be before 'to'.", { param: 'from' });
  return { from, to };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function teamJson(team: Team): Record<string, unknown> {
  return { id: team.id, name: team.name, rpm_limit: team.rpmLimit, tpm_limit: team.tpmLimit, source: team.source, created_at: iso(team.createdAt), updated_at: iso(team.updatedAt) };
}

function userJson(user: User): Record<string, unknown> {
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    team_id: user.teamId,
    rpm_limit: user.rpmLimit,
    tpm_limit: user.tpmLimit,
    source: user.source,
    created_at: iso(user.createdAt),
    updated_at: iso(user.updatedAt),
  };
}

function budgetJson(budget: Budget): Record<string, unknown> {
  return {
    id: budget.id,
    name: budget.name,
    scope: budget.scope.kind,
    scope_id: budget.scope.kind === 'org' ? null : budget.scope.id,
    // The same fields a budget is created with.
    period: budget.period.kind,
    time_zone: budget.period.kind === 'fixed' ? null : budget.period.timeZone,
    window_start: budget.period.kind === 'fixed' ? budget.period.start : null,
    window_days: budget.period.kind === 'fixed' ? budget.period.lengthDays : null,
    limit_usd: budget.limitUsd,
    action: budget.action,
    downgrade_alias: budget.downgradeAlias,
    thresholds: budget.thresholds,
    source: budget.source,
  };
}

function statusJson(status: BudgetStatus): Record<string, unknown> {
  return {
    ...budgetJson(status.budget),
    current_period: {
      key: status.periodKey,
      in_force: status.inForce,
      start: iso(status.periodStart),
      resets_at: iso(status.resetAt),
      spent_usd: roundUsd(status.spentUsd),
      reserved_usd: roundUsd(status.reservedUsd),
      remaining_usd: roundUsd(status.remainingUsd),
      percent_used: Number.isFinite(status.percentUsed) ? status.percentUsed : null,
      forecast_usd: roundUsd(status.forecast.projectedUsd),
      exhausts_at: status.forecast.exhaustsAt === null ? null : iso(status.forecast.exhaustsAt),
    },
  };
}

function spendJson(row: SpendRow): Record<string, unknown> {
  return {
    group: row.group,
    cost_usd: roundUsd(row.costUsd),
    would_have_cost_usd: roundUsd(row.wouldHaveCostUsd),
    saved_usd: roundUsd(row.savedUsd),
    requests: row.requests,
    cache_hits: row.cacheHits,
    unpriced_requests: row.unpricedRequests,
  };
}
