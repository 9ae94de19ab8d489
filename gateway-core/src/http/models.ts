import { GatewayError } from '../errors';

/**
 * GET /v1/models in the caller's shape: Anthropic's when the request carries an
 * anthropic-version header (paged with limit, after_id and before_id), OpenAI's otherwise.
 */
export function listModels(aliases: string[], startedAt: number, anthropicShape: boolean, query: Record<string, unknown> = {}): Record<string, unknown> {
  if (!anthropicShape) return { object: 'list', data: aliases.map((id) => describeModel(id, startedAt, false)) };

  const limit = query.limit === undefined ? 20 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new GatewayError('invalid_value', "Query parameter 'limit' must be a whole number from 1 to 1000.", { param: 'limit' });
  }
  let start = 0;
  let end = aliases.length;
  if (typeof query.after_id === 'string') start = aliases.indexOf(query.after_id) + 1;
  if (typeof query.before_id === 'string') {
    end = Math.max(0, aliases.indexOf(query.before_id));
    start = Math.max(start, end - limit);
  }
  const page = aliases.slice(start, Math.min(end, start + limit));
  return {
    data: page.map((id) => describeModel(id, startedAt, true)),
    has_more: start + page.length < end,
    first_id: page[0] ?? null,
    last_id: page[page.length - 1] ?? null,
  };
}

/** One model entry in the caller's shape. */
export function describeModel(id: string, startedAt: number, anthropicShape: boolean): Record<string, unknown> {
  if (anthropicShape) return { type: 'model', id, display_name: id, created_at: new Date(startedAt * 1000).toISOString() };
  return { id, object: 'model', created: startedAt, owned_by: 'airlock' };
}
