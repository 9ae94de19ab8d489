import type { UsageRecord } from '../usage/record';
import type { SqliteDatabase } from './database';

/** One try of one deployment inside a request. */
export interface AttemptRecord {
  deploymentId: string;
  provider: string;
  model: string;
  /** HTTP status the provider answered, or null when it never answered. */
  status: number | null;
  errorKind: string | null;
  errorMessage: string | null;
  latencyMs: number;
}

export interface AuditRecord {
  id: string;
  createdAt: number;
  keyId: string | null;
  client: string | null;
  inboundApi: string;
  alias: string | null;
  provider: string | null;
  providerModel: string | null;
  deploymentId: string | null;
  stream: boolean;
  httpStatus: number;
  errorKind: string | null;
  errorMessage: string | null;
  attempts: AttemptRecord[];
  usage: UsageRecord | null;
  rawUsage: unknown;
  costUsd: number | null;
  pricing: string | null;
  latencyMs: number;
  ttftMs: number | null;
  flags: string[];
  routeReason: string | null;
  fallbackFrom: string | null;
  /** The strongest guard action (block, route_local, redact, allow), or null when the guard found nothing. */
  guardAction: string | null;
  /** Guard findings in the request; their events are in guard_events. */
  guardFindings: number;
  /** hit-exact, hit-semantic, miss or skip; null when the request did not consult the cache. */
  cacheStatus: string | null;
  /** For a cache hit, the cost in USD of the response it served; null otherwise. */
  cacheSavedUsd: number | null;
  /** For a cache hit, the original response time minus this request's, at least 0; null otherwise. */
  cacheSavedMs: number | null;
}

export interface AuditFilter {
  since?: number;
  until?: number;
  keyId?: string;
  alias?: string;
  provider?: string;
  httpStatus?: number;
  errorKind?: string;
  inboundApi?: string;
  guardAction?: string;
  /** Return records created before this record (for paging newest first). */
  before?: { createdAt: number; id: string };
  limit: number;
}

interface AuditRow {
  id: string;
  created_at: number;
  key_id: string | null;
  client: string | null;
  inbound_api: string;
  alias: string | null;
  provider: string | null;
  provider_model: string | null;
  deployment_id: string | null;
  stream: number;
  http_status: number;
  error_kind: string | null;
  error_message: string | null;
  attempts: string;
  usage: string | null;
  raw_usage: string | null;
  cost_usd: number | null;
  pricing: string | null;
  latency_ms: number;
  ttft_ms: number | null;
  flags: string;
  route_reason: string | null;
  fallback_from: string | null;
  guard_action: string | null;
  guard_findings: number;
  cache_status: string | null;
  cache_saved_usd: number | null;
  cache_saved_ms: number | null;
}

/** The audit log: one row per request, written once the response has finished. */
export class AuditStore {
  private readonly insert;
  private readonly byId;

  constructor(private readonly db: SqliteDatabase) {
    this.insert = db.prepare(`INSERT INTO audit_log (id, created_at, key_id, client, inbound_api, alias, provider, provider_model,
      deployment_id, stream, http_status, error_kind, error_message, attempts, usage, raw_usage, cost_usd, pricing, latency_ms,
      ttft_ms, flags, route_reason, fallback_from, guard_action, guard_findings, cache_status, cache_saved_usd, cache_saved_ms)
      VALUES (@id, @created_at, @key_id, @client, @inbound_api, @alias, @provider, @provider_model, @deployment_id,
      @stream, @http_status, @error_kind, @error_message, @attempts, @usage, @raw_usage, @cost_usd, @pricing, @latency_ms, @ttft_ms,
      @flags, @route_reason, @fallback_from, @guard_action, @guard_findings, @cache_status, @cache_saved_usd, @cache_saved_ms)`);
    this.byId = db.prepare<[string], AuditRow>('SELECT * FROM audit_log WHERE id = ?');
  }

  write(record: AuditRecord): void {
    this.insert.run({
      id: record.id,
      created_at: record.createdAt,
      key_id: record.keyId,
      client: record.client,
      inbound_api: record.inboundApi,
      alias: record.alias,
      provider: record.provider,
      provider_model: record.providerModel,
      deployment_id: record.deploymentId,
      stream: record.stream ? 1 : 0,
      http_status: record.httpStatus,
      error_kind: record.errorKind,
      error_message: record.errorMessage,
      attempts: JSON.stringify(record.attempts),
      usage: record.usage === null ? null : JSON.stringify(record.usage),
      raw_usage: record.rawUsage === null || record.rawUsage === undefined ? null : JSON.stringify(record.rawUsage),
      cost_usd: record.costUsd,
      pricing: record.pricing,
      latency_ms: record.latencyMs,
      ttft_ms: record.ttftMs,
      flags: JSON.stringify(record.flags),
      route_reason: record.routeReason,
      fallback_from: record.fallbackFrom,
      guard_action: record.guardAction,
      guard_findings: record.guardFindings,
      cache_status: record.cacheStatus,
      cache_saved_usd: record.cacheSavedUsd,
      cache_saved_ms: record.cacheSavedMs,
    });
  }

  get(id: string): AuditRecord | null {
    const row = this.byId.get(id);
    return row ? fromRow(row) : null;
  }

  /** Records matching every given filter, newest first. */
  list(filter: AuditFilter): AuditRecord[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: filter.limit };
    const add = (clause: string, name: string, value: unknown): void => {
      if (value === undefined) return;
      where.push(clause);
      params[name] = value;
    };
    add('created_at >= @since', 'since', filter.since);
    add('created_at < @until', 'until', filter.until);
    add('key_id = @key_id', 'key_id', filter.keyId);
    add('alias = @alias', 'alias', filter.alias);
    add('provider = @provider', 'provider', filter.provider);
    add('http_status = @http_status', 'http_status', filter.httpStatus);
    add('error_kind = @error_kind', 'error_kind', filter.errorKind);
    add('inbound_api = @inbound_api', 'inbound_api', filter.inboundApi);
    add('guard_action = @guard_action', 'guard_action', filter.guardAction);
    if (filter.before) {
      where.push('(created_at < @before_at OR (created_at = @before_at AND id < @before_id))');
      params.before_at = filter.before.createdAt;
      params.before_id = filter.before.id;
    }
    const sql = `SELECT * FROM audit_log ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id DESC LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as AuditRow[]).map(fromRow);
  }
}

function fromRow(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    createdAt: row.created_at,
    keyId: row.key_id,
    client: row.client,
    inboundApi: row.inbound_api,
    alias: row.alias,
    provider: row.provider,
    providerModel: row.provider_model,
    deploymentId: row.deployment_id,
    stream: row.stream === 1,
    httpStatus: row.http_status,
    errorKind: row.error_kind,
    errorMessage: row.error_message,
    attempts: JSON.parse(row.attempts) as AttemptRecord[],
    usage: row.usage === null ? null : (JSON.parse(row.usage) as UsageRecord),
    rawUsage: row.raw_usage === null ? null : (JSON.parse(row.raw_usage) as unknown),
    costUsd: row.cost_usd,
    pricing: row.pricing,
    latencyMs: row.latency_ms,
    ttftMs: row.ttft_ms,
    flags: JSON.parse(row.flags) as string[],
    routeReason: row.route_reason,
    fallbackFrom: row.fallback_from,
    guardAction: row.guard_action,
    guardFindings: row.guard_findings,
    cacheStatus: row.cache_status,
    cacheSavedUsd: row.cache_saved_usd,
    cacheSavedMs: row.cache_saved_ms,
  };
}
