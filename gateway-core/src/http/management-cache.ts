import type express from 'express';
import type { Request, Response } from 'express';
import { GatewayError } from '../errors';
import type { ResponseCache } from '../pipeline/cache-step';
import type { SqliteDatabase } from '../storage/database';
import type { Principal } from '../storage/keys';
import { requireAdmin } from './auth';
import { roundUsd } from './money';
import { queryText, queryTime, rejectUnknownQuery } from './query';

type Route = (handler: (req: Request, res: Response, principal: Principal) => Promise<void> | void) => express.RequestHandler;

const DAY_MS = 86_400_000;

/** Formats a time for a message; milliseconds beyond the range of Date stay a number. */
function iso(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

/**
 * Adds the cache routes: settings, size and statistics (GET /cache) and invalidation by
 * namespace or model (DELETE /cache). Statistics and savings come from the audit log, so they
 * outlive the entries that earned them.
 */
export function addCacheRoutes(router: express.Router, route: Route, deps: { cache: ResponseCache; db: SqliteDatabase }): void {
  router.get('/cache', route((req, res, principal) => {
    requireAdmin(principal);
    const query = req.query as Record<string, unknown>;
    rejectUnknownQuery(query, ['since', 'until'], 'use since and until, each an ISO 8601 time or milliseconds since the epoch');
    const givenUntil = queryTime(query, 'until');
    const until = givenUntil ?? Date.now();
    const since = queryTime(query, 'since') ?? until - 30 * DAY_MS;
    if (since >= until) {
      const untilShown = givenUntil === undefined ? `now, ${iso(until)}` : iso(until);
      throw new GatewayError(
        'invalid_value',
        `Query parameter 'since' (${iso(since)}) must be before 'until' (${untilShown}); swap them or move since earlier.`,
        { param: 'since' },
      );
    }
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
      saved_usd: roundUsd(rows.reduce((sum, row) => sum + row.saved_usd, 0)),
      saved_ms: rows.reduce((sum, row) => sum + row.saved_ms, 0),
      by_model_and_day: rows.map((row) => ({ ...row, saved_usd: roundUsd(row.saved_usd) })),
    });
  }));

  router.delete('/cache', route((req, res, principal) => {
    requireAdmin(principal);
    const query = req.query as Record<string, unknown>;
    // A misspelt filter must not turn into "remove everything".
    rejectUnknownQuery(query, ['namespace', 'model', 'all'], 'use namespace, model, or all=true to remove every entry');
    const namespace = queryText(query, 'namespace', 'namespace=team:backend');
    const model = queryText(query, 'model', 'model=gpt-4o');
    const all = queryText(query, 'all', 'all=true');
    if (all !== undefined && all !== 'true') {
      throw new GatewayError('invalid_value', `Query parameter 'all' is ${JSON.stringify(all)}; pass all=true to remove every entry, or leave it out.`, { param: 'all' });
    }
    // all=true with a filter is ambiguous: it could mean every entry or only the filtered ones.
    if (all !== undefined && (namespace !== undefined || model !== undefined)) {
      throw new GatewayError(
        'invalid_value',
        'Query parameter all=true cannot be combined with namespace or model; send all=true alone to remove every entry, or only the filters.',
        { param: 'all' },
      );
    }
    if (namespace === undefined && model === undefined && all === undefined) {
      throw new GatewayError('invalid_value', 'Name what to remove: namespace (such as team:backend), model, or all=true for every entry.', { param: 'namespace' });
    }
    const removed = deps.cache.store.invalidate({ ...(namespace === undefined ? {} : { namespace }), ...(model === undefined ? {} : { alias: model }) });
    res.json({ removed });
  }));
}
