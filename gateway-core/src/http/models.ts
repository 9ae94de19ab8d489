/**
 * GET /v1/models in the caller's shape: Anthropic's when the request carries an
 * anthropic-version header, OpenAI's otherwise.
 */
export function listModels(aliases: string[], startedAt: number, anthropicShape: boolean): Record<string, unknown> {
  if (anthropicShape) {
    const createdAt = new Date(startedAt * 1000).toISOString();
    return {
      data: aliases.map((id) => ({ type: 'model', id, display_name: id, created_at: createdAt })),
      has_more: false,
      first_id: aliases[0] ?? null,
      last_id: aliases[aliases.length - 1] ?? null,
    };
  }
  return { object: 'list', data: aliases.map((id) => ({ id, object: 'model', created: startedAt, owned_by: 'airlock' })) };
}
