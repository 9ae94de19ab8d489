import type { DestinationClass } from '../models/table';
import type { GuardAction, GuardEvent } from '../guard/event';
import type { SqliteDatabase } from './database';

/** A stored guard event: the finding's type, place and value hash, never the value. */
export interface StoredGuardEvent extends GuardEvent {
  seq: number;
  requestId: string;
  createdAt: number;
  destination: DestinationClass;
}

export interface GuardEventFilter {
  requestId?: string;
  type?: string;
  category?: string;
  action?: GuardAction;
  since?: number;
  until?: number;
  /** Only events of requests made with this key (joined through the audit log). */
  keyId?: string;
  /** Return events with a smaller sequence number (paging newest first). */
  beforeSeq?: number;
  limit: number;
}

export interface GuardSummaryRow {
  type: string;
  category: string;
  action: GuardAction;
  /** Findings of this type that got this action. */
  count: number;
  /** Distinct values among them, counted by keyed hash. */
  distinctValues: number;
  /** Requests they occurred in. */
  requests: number;
}

interface GuardEventRow {
  seq: number;
  request_id: string;
  created_at: number;
  type: string;
  category: GuardEvent['category'];
  action: GuardAction;
  destination: DestinationClass;
  path: string;
  message_index: number | null;
  offset: number;
  length: number;
  value_hash: string;
}

/** The guard_events table: written with the audit record at the end of each request. */
export class GuardEventStore {
  private readonly insertAll;

  constructor(private readonly db: SqliteDatabase) {
    const insert = db.prepare(`INSERT INTO guard_events (request_id, created_at, type, category, action, destination, path,
      message_index, offset, length, value_hash) VALUES (@request_id, @created_at, @type, @category, @action, @destination,
      @path, @message_index, @offset, @length, @value_hash)`);
    this.insertAll = db.transaction((requestId: string, createdAt: number, events: ReadonlyArray<{ destination: DestinationClass; event: GuardEvent }>) => {
      for (const { destination, event } of events) {
        insert.run({
          request_id: requestId,
          created_at: createdAt,
          type: event.type,
          category: event.category,
          action: event.action,
          destination,
          path: event.path,
          message_index: event.messageIndex,
          offset: event.offset,
          length: event.length,
          value_hash: event.valueHash,
        });
      }
    });
  }

  /** Stores the events of one request in one transaction. */
  write(requestId: string, createdAt: number, events: ReadonlyArray<{ destination: DestinationClass; event: GuardEvent }>): void {
    if (events.length > 0) this.insertAll(requestId, createdAt, events);
  }

  /** Events matching every given filter, newest first. */
  list(filter: GuardEventFilter): StoredGuardEvent[] {
    const { where, params } = whereClause(filter);
    if (filter.beforeSeq !== undefined) {
      where.push('g.seq < @before_seq');
      params.before_seq = filter.beforeSeq;
    }
    params.limit = filter.limit;
    const rows = this.db
      .prepare(`SELECT g.* FROM guard_events g ${joinFor(filter)} ${sqlWhere(where)} ORDER BY g.seq DESC LIMIT @limit`)
      .all(params) as GuardEventRow[];
    return rows.map(fromRow);
  }

  /** Counts per type and action, with distinct values by hash, for a time range. */
  summary(filter: Omit<GuardEventFilter, 'limit' | 'beforeSeq'>): GuardSummaryRow[] {
    const { where, params } = whereClause(filter);
    const rows = this.db
      .prepare(
        `SELECT g.type, g.category, g.action, COUNT(*) AS count, COUNT(DISTINCT g.value_hash) AS distinct_values,
           COUNT(DISTINCT g.request_id) AS requests
         FROM guard_events g ${joinFor(filter)} ${sqlWhere(where)}
         GROUP BY g.type, g.category, g.action ORDER BY count DESC, g.type`,
      )
      .all(params) as Array<{ type: string; category: string; action: GuardAction; count: number; distinct_values: number; requests: number }>;
    return rows.map((row) => ({
      type: row.type,
      category: row.category,
      action: row.action,
      count: row.count,
      distinctValues: row.distinct_values,
      requests: row.requests,
    }));
  }
}

function whereClause(filter: Omit<GuardEventFilter, 'limit' | 'beforeSeq'>): { where: string[]; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  const add = (clause: string, name: string, value: unknown): void => {
    if (value === undefined) return;
    where.push(clause);
    params[name] = value;
  };
  add('g.request_id = @request_id', 'request_id', filter.requestId);
  add('g.type = @type', 'type', filter.type);
  add('g.category = @category', 'category', filter.category);
  add('g.action = @action', 'action', filter.action);
  add('g.created_at >= @since', 'since', filter.since);
  add('g.created_at < @until', 'until', filter.until);
  add('a.key_id = @key_id', 'key_id', filter.keyId);
  return { where, params };
}

function joinFor(filter: { keyId?: string }): string {
  return filter.keyId === undefined ? '' : 'JOIN audit_log a ON a.id = g.request_id';
}

function sqlWhere(where: string[]): string {
  return where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
}

function fromRow(row: GuardEventRow): StoredGuardEvent {
  return {
    seq: row.seq,
    requestId: row.request_id,
    createdAt: row.created_at,
    type: row.type,
    category: row.category,
    action: row.action,
    destination: row.destination,
    path: row.path,
    messageIndex: row.message_index,
    offset: row.offset,
    length: row.length,
    valueHash: row.value_hash,
  };
}
