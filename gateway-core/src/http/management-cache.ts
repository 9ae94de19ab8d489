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
 * namespace or model (DELETE /cache). Statistics come from the audit log's cache status.
 */
export function addCacheRoutes(router: express.Router, route: Route, deps: { cache: ResponseCache; db: SqliteDatabase }): void {
  router.get('/cache', route((req, res, principal) => {
    requireAdmin(principal);
    const query = req.query as Record<string, unknown>;
    const until = queryTime(query, 'until') ?? Date.now();
    const since = queryTime(query, 'since') ?? until - 30 * DAY_MS;
    const rows = deps.db
      .prepare(
        `SELECT alias, date(created_at / 1000, 'unixepoch') AS day, cache_status AS status, count(*) AS requests
         FROM audit_log WHERE cache_status IS NOT NULL AND created_at >= ? AND created_at < ?
         GROUP BY alias, day, status ORDER BY day, alias`,
      )
      .all(since, until) as Array<{ alias: string | null; day: string; status: string; requests: number }>;
    const saved = deps.db
      .prepare('SELECT total(cost_usd * hits) AS usd, total(latency_ms * hits) AS ms FROM cache_entries')
      .get() as { usd: number; ms: number };
    const hits = rows.filter((row) => row.status.startsWith('hit')).reduce((sum, row) => sum + row.requests, 0);
    const misses = rows.filter((row) => row.status === 'miss').reduce((sum, row) => sum + row.requests, 0);
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
      hit_rate: hits + misses === 0 ? null : hits / (hits + misses),
      // Counted over the entries still stored: an evicted entry's hits leave the sum.
      saved_usd_live_entries: saved.usd,
      saved_ms_live_entries: saved.ms,
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
