import { GatewayError } from '../errors';

const maxPageSize = 500;

/** Returns a query parameter given once as non-empty text, or undefined when absent. */
export function queryText(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    throw new GatewayError('invalid_value', `Query parameter '${name}' must be given once, as text.`, { param: name });
  }
  return value;
}

/** Returns a time query parameter given as ISO 8601 or milliseconds since the epoch. */
export function queryTime(query: Record<string, unknown>, name: string): number | undefined {
  const value = queryText(query, name);
  if (value === undefined) return undefined;
  const parsed = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(parsed)) {
    throw new GatewayError('invalid_value', `Query parameter '${name}' must be an ISO 8601 time or milliseconds since the epoch.`, {
      param: name,
    });
  }
  return parsed;
}

/** Returns the page size from `limit`: default 50, at most 500. */
export function queryLimit(query: Record<string, unknown>): number {
  const limitText = queryText(query, 'limit');
  const limit = limitText === undefined ? 50 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxPageSize) {
    throw new GatewayError('invalid_value', `Query parameter 'limit' must be a whole number from 1 to ${maxPageSize}.`, { param: 'limit' });
  }
  return limit;
}
