import type express from 'express';
import type { Request, Response } from 'express';
import { GatewayError } from '../errors';
import type { ResponseCache } from '../pipeline/cache-step';
import type { SqliteDatabase } from '../storage/database';
import type { Principal } from '../storage/keys';
import { requireAdmin } from './auth';
import { queryText, queryTime } from './query';

type Route = (handler: (req: Request, res: Response, principal: Principal) => Promise<void> | void) => express.RequestHandler;

const DAY_MS = 86_400_000;

/**
 * Adds the cache routes: settings, size and statistics (GET /cache) and invalidation by
 * namespace or model (DELETE /cache). Statistics and savings come from the audit log, so they
 * outlive the entries that earned them.
 */
export function addCacheRoutes(router: express.Router, route: Route, deps: { cache: ResponseCache; db: SqliteDatabase }): void {
  router.get('/cache', route((req, res, principal) => {
    requireAdmin(principal);
    const query = req.query as Record<string, unknown>;
    const until = queryTime(query, 'until') ?? Date.now();
    const since = queryTime(query, 'since') ?? until - 30 * DAY_MS;
    const rows = deps.db
      .prepare(
        `SELECT alias, date(created_at / 1000, 'unixepoch') AS day, cache_status AS status, count(*) AS requests,
           total(cache_saved_usd) AS saved_usd, total(cache_saved_ms) AS saved_ms
         FROM audit_log WHERE cache_status IS NOT NULL AND created_at >= ? AND created_at < ?
         GROUP BY alias, day, status ORDER BY day, alias`,
      )
      .all(since, until) as Array<{ alias: string | null; day: string; status: string; requests: number; saved_usd: number; saved_ms: number }>;
    const count = (matches: (status: string) => boolean): number =>
      rows.filter((row) => matches(row.status)).reduce((sum, row) => sum + row.requests, 0);
    const hits = count((status) => status.startsWith('hit'));
    const misses = count((status) => status === 'miss');
    const size = deps.cache.store.size();
    res.json({
      enabled: deps.cache.settings.enabled,
      namespace: deps.cache.settings.namespace,
      ttl_seconds: deps.cache.settings.ttlSeconds,
      max_bytes: deps.cache.settings.maxBytes,
      store_redacted: deps.cache.settings.storeRedacted,
      opt_in: deps.cache.settings.optIn,
      semantic: {
        enabled: deps.cache.semantic !== null,
        threshold: deps.cache.settings.semantic.threshold,
        max_turns: deps.cache.settings.semantic.maxTurns,
        max_temperature: deps.cache.settings.semantic.maxTemperature,
        lexical_check: deps.cache.settings.semantic.lexicalCheck,
        embedder: deps.cache.settings.semantic.embedder.kind,
      },
      entries: size.entries,
      bytes: size.bytes,
      hits,
      misses,
      hits_exact: count((status) => status === 'hit-exact'),
      hits_semantic: count((status) => status === 'hit-semantic'),
      skips: count((status) => status === 'skip'),
      hit_rate: hits + misses === 0 ? null : hits / (hits + misses),
      saved_usd: rows.reduce((sum, row) => sum + row.saved_usd, 0),
      saved_ms: rows.reduce((sum, row) => sum + row.saved_ms, 0),
      by_model_and_day: rows,
    });
  }));

  router.delete('/cache', route((req, res, principal) => {
    requireAdmin(principal);
    const query = req.query as Record<string, unknown>;
    // A misspelt filter must not turn into "remove everything".
    const unknown = Object.keys(query).find((name) => !['namespace', 'model', 'all'].includes(name));
    if (unknown !== undefined) {
      throw new GatewayError('invalid_value', `Unknown query parameter '${unknown}'; use namespace, model, or all=true to remove every entry.`, { param: unknown });
    }
    const namespace = queryText(query, 'namespace');
    const model = queryText(query, 'model');
    const all = queryText(query, 'all');
    if (all !== undefined && all !== 'true') throw new GatewayError('invalid_value', "Query parameter 'all' must be true.", { param: 'all' });
    if (namespace === undefined && model === undefined && all === undefined) {
      throw new GatewayError('invalid_value', 'Name what to remove: namespace (such as team:backend), model, or all=true for every entry.', { param: 'namespace' });
    }
    const removed = deps.cache.store.invalidate({ ...(namespace === undefined ? {} : { namespace }), ...(model === undefined ? {} : { alias: model }) });
    res.json({ removed });
  }));
}
