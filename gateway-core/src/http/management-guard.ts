import type express from 'express';
import type { Request, Response } from 'express';
import { GatewayError } from '../errors';
import type { GuardSettings } from '../guard/settings';
import { DEFAULT_ACTIONS } from '../guard/settings';
import type { Principal } from '../storage/keys';
import type { GuardEventFilter, GuardEventStore, StoredGuardEvent } from '../storage/guard-events';
import { queryLimit, queryText, queryTime } from './query';

type Route = (handler: (req: Request, res: Response, principal: Principal) => Promise<void> | void) => express.RequestHandler;

const ACTIONS = new Set(['block', 'redact', 'route_local', 'allow']);
const CATEGORIES = new Set(['secret', 'personal', 'organization']);

/**
 * Adds the guard's management routes: its settings, its events (newest first, paged by cursor)
 * and a summary per type and action. A non-admin key gets only the events of its own requests.
 */
export function addGuardRoutes(router: express.Router, route: Route, deps: { guardEvents: GuardEventStore; guardSettings: GuardSettings }): void {
  router.get(
    '/guard/settings',
    route((_req, res) => {
      const settings = deps.guardSettings;
      res.json({
        enabled: settings.enabled,
        defaults: DEFAULT_ACTIONS,
        actions: Object.fromEntries(settings.actions),
        local_model: settings.localModel,
        disabled_detectors: [...settings.disabledTypes],
        rules: [...settings.rules.patterns.map((rule) => rule.name), ...settings.rules.words.map((rule) => rule.name)],
      });
    }),
  );

  router.get(
    '/guard/events',
    route((req, res, principal) => {
      const query = req.query as Record<string, unknown>;
      const filter: GuardEventFilter = { ...eventFilter(query, principal), limit: queryLimit(query) };
      const cursor = queryText(query, 'cursor');
      if (cursor !== undefined) {
        if (!/^\d+$/.test(cursor)) {
          throw new GatewayError('invalid_value', "Query parameter 'cursor' must be a next_cursor value from a previous page.", { param: 'cursor' });
        }
        filter.beforeSeq = Number(cursor);
      }
      const data = deps.guardEvents.list(filter);
      const last = data.length === filter.limit ? data[data.length - 1] : undefined;
      res.json({ object: 'list', data: data.map(eventJson), next_cursor: last ? String(last.seq) : null });
    }),
  );

  router.get(
    '/guard/summary',
    route((req, res, principal) => {
      const rows = deps.guardEvents.summary(eventFilter(req.query as Record<string, unknown>, principal));
      res.json({
        object: 'list',
        total: rows.reduce((sum, row) => sum + row.count, 0),
        data: rows.map((row) => ({
          type: row.type,
          category: row.category,
          action: row.action,
          count: row.count,
          distinct_values: row.distinctValues,
          requests: row.requests,
        })),
      });
    }),
  );
}

function eventFilter(query: Record<string, unknown>, principal: Principal): Omit<GuardEventFilter, 'limit'> {
  const filter: Omit<GuardEventFilter, 'limit'> = {};
  const requestId = queryText(query, 'request_id');
  const type = queryText(query, 'type');
  const category = queryText(query, 'category');
  const action = queryText(query, 'action');
  const since = queryTime(query, 'since');
  const until = queryTime(query, 'until');
  if (category !== undefined && !CATEGORIES.has(category)) {
    throw new GatewayError('invalid_value', "Query parameter 'category' must be secret, personal or organization.", { param: 'category' });
  }
  if (action !== undefined && !ACTIONS.has(action)) {
    throw new GatewayError('invalid_value', "Query parameter 'action' must be block, redact, route_local or allow.", { param: 'action' });
  }
  if (requestId !== undefined) filter.requestId = requestId;
  if (type !== undefined) filter.type = type;
  if (category !== undefined) filter.category = category;
  if (action !== undefined) filter.action = action as GuardEventFilter['action'];
  if (since !== undefined) filter.since = since;
  if (until !== undefined) filter.until = until;
  if (principal.role !== 'admin') filter.keyId = principal.keyId;
  return filter;
}

function eventJson(event: StoredGuardEvent): Record<string, unknown> {
  return {
    id: event.seq,
    request_id: event.requestId,
    created_at: new Date(event.createdAt).toISOString(),
    type: event.type,
    category: event.category,
    action: event.action,
    destination: event.destination,
    path: event.path,
    message_index: event.messageIndex,
    offset: event.offset,
    length: event.length,
    value_hash: event.valueHash,
  };
}
