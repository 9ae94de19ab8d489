import { GatewayError } from '../errors';

const maxPageSize = 500;

/**
 * Returns a query parameter given once as non-empty text, or undefined when absent. `example`,
 * such as "namespace=team:backend", completes the error for an empty value.
 */
export function queryText(query: Record<string, unknown>, name: string, example?: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    throw new GatewayError('invalid_value', `Query parameter '${name}' is given ${value.length} times; give it once.`, { param: name });
  }
  if (typeof value !== 'string') {
    throw new GatewayError('invalid_value', `Query parameter '${name}' must be plain text, such as ${example ?? `${name}=value`}.`, { param: name });
  }
  if (value === '') {
    const fix = example === undefined ? 'give it a value' : `give a value such as ${example}`;
    throw new GatewayError('invalid_value', `Query parameter '${name}' is empty; ${fix}, or leave the parameter out.`, { param: name });
  }
  return value;
}

/** Throws invalid_value for the first query parameter not in `known`, listing the known ones. */
export function rejectUnknownQuery(query: Record<string, unknown>, known: readonly string[], usage: string): void {
  const unknown = Object.keys(query).find((name) => !known.includes(name));
  if (unknown !== undefined) {
    throw new GatewayError('invalid_value', `Unknown query parameter '${unknown}'; ${usage}.`, { param: unknown });
  }
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
