import express, { type Request, type Response } from 'express';
import { GatewayError } from '../errors';
import type { GuardSettings } from '../guard/settings';
import type { AuditFilter, AuditStore } from '../storage/audit';
import type { GuardEventStore } from '../storage/guard-events';
import type { SqliteDatabase } from '../storage/database';
import type { KeyStore, Principal } from '../storage/keys';
import { authenticate, requireAdmin } from './auth';
import { readJsonBody } from './body';
import type { Governance } from '../governance/governance';
import type { ResponseCache } from '../pipeline/cache-step';
import { addCacheRoutes } from './management-cache';
import { addGovernanceRoutes } from './management-governance';
import { addGuardRoutes } from './management-guard';
import { queryLimit, queryText, queryTime } from './query';
import type { Router } from '../pipeline/router';
import { openAIErrorSurface } from './surfaces/openai';

export interface ManagementDependencies {
  keys: KeyStore;
  audit: AuditStore;
  guardEvents: GuardEventStore;
  guardSettings: GuardSettings;
  governance: Governance;
  cache: ResponseCache;
  /** The database, for statistics that read the audit log directly. */
  db: SqliteDatabase;
  router: Router;
  maxBodyBytes: number;
}

type Handler = (req: Request, res: Response, principal: Principal) => Promise<void> | void;

/** Build the management API under /airlock/api/: keys, deployments, the audit log and the guard. Errors use OpenAI's envelope. */
export function managementRouter(deps: ManagementDependencies): express.Router {
  const router = express.Router();
  const route =
    (handler: Handler) =>
    async (req: Request, res: Response): Promise<void> => {
      try {
        await handler(req, res, authenticate(req, deps.keys));
      } catch (error) {
        const failure = error instanceof GatewayError ? error : new GatewayError('internal', 'The management call failed unexpectedly.');
        const rendered = openAIErrorSurface.renderError(failure);
        res.status(rendered.status).set(rendered.headers).json(rendered.body);
      }
    };

  router.post(
    '/keys',
    route(async (req, res, principal) => {
      requireAdmin(principal);
      const body = (await readJsonBody(req, deps.maxBodyBytes)) as Record<string, unknown>;
      const name = body.name;
      if (typeof name !== 'string' || name.trim() === '' || name.length > 200) {
        throw new GatewayError('invalid_value', "'name' must be a non-empty string of at most 200 characters.", { param: 'name' });
      }
      const role = body.role ?? 'user';
      if (role !== 'user' && role !== 'admin') {
        throw new GatewayError('invalid_value', "'role' must be \"user\" or \"admin\".", { param: 'role' });
      }
      const unknown = Object.keys(body).find((field) => !KEY_FIELDS.has(field));
      if (unknown !== undefined) {
        throw new GatewayError('invalid_value', `Unknown field '${unknown}'; a key takes ${[...KEY_FIELDS].join(', ')}.`, { param: unknown });
      }
      let owner = { userId: optionalName(body.user, 'user'), teamId: optionalName(body.team, 'team') };
      // The owner must exist, so that a misspelt user or team cannot escape its budgets.
      if (owner.userId !== null || owner.teamId !== null) owner = deps.governance.keys.checkKeyOwner(owner);
      const limits = { rpmLimit: optionalLimit(body.rpm_limit, 'rpm_limit'), tpmLimit: optionalLimit(body.tpm_limit, 'tpm_limit') };
      const { record, key } = deps.keys.create(name.trim(), role, owner);
      if (limits.rpmLimit !== null || limits.tpmLimit !== null) deps.governance.keys.setKeyLimits(record.id, limits);
      res.status(201).json({ ...keyJson(record), rpm_limit: limits.rpmLimit, tpm_limit: limits.tpmLimit, key });
    }),
  );

  router.get(
    '/keys',
    route((_req, res, principal) => {
      requireAdmin(principal);
      res.json({ object: 'list', data: deps.keys.all().map(keyJson) });
    }),
  );

  router.patch(
    '/keys/:id',
    route(async (req, res, principal) => {
      requireAdmin(principal);
      const id = String(req.params.id);
      const body = (await readJsonBody(req, deps.maxBodyBytes)) as Record<string, unknown>;
      const unknown = Object.keys(body).filter((field) => field !== 'rpm_limit' && field !== 'tpm_limit');
      if (unknown.length > 0) {
        throw new GatewayError('invalid_value', `Unknown field '${unknown[0]}': a key's rpm_limit and tpm_limit can be changed.`, { param: unknown[0]! });
      }
      const current = deps.governance.keys.keyLimits(id);
      const limits = {
        rpmLimit: 'rpm_limit' in body ? optionalLimit(body.rpm_limit, 'rpm_limit') : current.rpm,
        tpmLimit: 'tpm_limit' in body ? optionalLimit(body.tpm_limit, 'tpm_limit') : current.tpm,
      };
      deps.governance.keys.setKeyLimits(id, limits);
      res.json({ id, rpm_limit: limits.rpmLimit, tpm_limit: limits.tpmLimit });
    }),
  );

  router.delete(
    '/keys/:id',
    route((req, res, principal) => {
      requireAdmin(principal);
      const id = String(req.params.id);
      if (!deps.keys.revokeKey(id)) throw new GatewayError('not_found', `No active key has the id '${id}'.`, { param: 'id' });
      res.json({ id, revoked: true });
    }),
  );

  router.get(
    '/deployments',
    route((_req, res) => {
      const deployments = deps.router.deployments();
      const health = new Map(deps.router.health.snapshot(deployments.map((d) => d.id)).map((view) => [view.id, view]));
      res.json({
        object: 'list',
        strategy: deps.router.strategy,
        data: deployments.map((d) => ({
          id: d.id,
          model_name: d.alias,
          provider: d.providerLabel,
          model: d.model,
          api_base: d.apiBase,
          destination: d.destination,
          pricing: d.modelInfo.pricing,
          limits: d.limits ?? null,
          timeout_ms: d.timeoutMs,
          health: health.get(d.id) ?? null,
        })),
      });
    }),
  );

  router.get(
    '/requests/:id',
    route((req, res, principal) => {
      const record = deps.audit.get(String(req.params.id));
      if (!record || (principal.role !== 'admin' && record.keyId !== principal.keyId)) {
        throw new GatewayError('not_found', `No request has the id '${String(req.params.id)}'.`, { param: 'id' });
      }
      res.json(record);
    }),
  );

  router.get(
    '/requests',
    route((req, res, principal) => {
      const filter = parseFilter(req.query as Record<string, unknown>);
      if (principal.role !== 'admin') filter.keyId = principal.keyId;
      const data = deps.audit.list(filter);
      const last = data.length === filter.limit ? data[data.length - 1] : undefined;
      res.json({ object: 'list', data, next_cursor: last ? `${last.createdAt}.${last.id}` : null });
    }),
  );

  addGuardRoutes(router, route, deps);
  addGovernanceRoutes(router, route, deps);
  addCacheRoutes(router, route, deps);
  return router;
}

function keyJson(record: ReturnType<KeyStore['all']>[number]): Record<string, unknown> {
  return {
    id: record.id,
    name: record.name,
    role: record.role,
    user: record.userId,
    team: record.teamId,
    prefix: record.prefix,
    created_at: new Date(record.createdAt).toISOString(),
    revoked_at: record.revokedAt === null ? null : new Date(record.revokedAt).toISOString(),
  };
}

const KEY_FIELDS: ReadonlySet<string> = new Set(['name', 'role', 'user', 'team', 'rpm_limit', 'tpm_limit']);

/** A per-minute limit from a request body: absent or null for no limit, else a whole number of at least 1. */
function optionalLimit(value: unknown, field: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new GatewayError('invalid_value', `'${field}' must be a whole number of at least 1, or null for no limit.`, { param: field });
  }
  return value;
}

/** A user or team name from a request body: absent, or a short string of letters, digits, . _ @ and -. */
function optionalName(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !/^[\w.@-]{1,100}$/.test(value)) {
    throw new GatewayError('invalid_value', `'${field}' must be a name of 1 to 100 letters, digits, '.', '_', '@' or '-'.`, { param: field });
  }
  return value;
}

function parseFilter(query: Record<string, unknown>): AuditFilter {
  const text = (name: string): string | undefined => queryText(query, name);
  const time = (name: string): number | undefined => queryTime(query, name);
  const limit = queryLimit(query);
  const statusText = text('status');
  const status = statusText === undefined ? undefined : Number(statusText);
  if (status !== undefined && !Number.isInteger(status)) {
    throw new GatewayError('invalid_value', "Query parameter 'status' must be an HTTP status such as 200 or 429.", { param: 'status' });
  }
  const cursor = text('cursor');
  let before: AuditFilter['before'];
  if (cursor !== undefined) {
    const dot = cursor.indexOf('.');
    const createdAt = Number(cursor.slice(0, dot));
    if (dot <= 0 || !Number.isInteger(createdAt)) {
      throw new GatewayError('invalid_value', "Query parameter 'cursor' must be a next_cursor value from a previous page.", { param: 'cursor' });
    }
    before = { createdAt, id: cursor.slice(dot + 1) };
  }
  const filter: AuditFilter = { limit };
  const since = time('since');
  const until = time('until');
  if (since !== undefined) filter.since = since;
  if (until !== undefined) filter.until = until;
  if (status !== undefined) filter.httpStatus = status;
  if (before) filter.before = before;
  const keyId = text('key_id');
  const alias = text('model');
  const provider = text('provider');
  const errorKind = text('error_kind');
  const inboundApi = text('api');
  if (keyId !== undefined) filter.keyId = keyId;
  if (alias !== undefined) filter.alias = alias;
  if (provider !== undefined) filter.provider = provider;
  if (errorKind !== undefined) filter.errorKind = errorKind;
  if (inboundApi !== undefined) filter.inboundApi = inboundApi;
  const guardAction = text('guard_action');
  if (guardAction !== undefined) filter.guardAction = guardAction;
  return filter;
}
