import type { ServerResponse } from 'node:http';
import { embeddingRequestSchema, validateBody } from '../formats/openai-chat/schema';
import { GatewayError } from '../errors';
import { runAttempts } from './attempts';
import type { ChatDependencies } from './chat';
import { writeJson } from './chat';
import type { RequestContext } from './context';
import { settleUsage } from './settle';

/** POST /v1/embeddings: one provider call, encoding_format honoured both ways. */
export async function handleEmbeddings(deps: ChatDependencies, ctx: RequestContext, raw: unknown, res: ServerResponse): Promise<void> {
  const body = validateBody(embeddingRequestSchema, raw);
  ctx.alias = body.model;
  const routeRequest = { mode: 'embedding' as const, stream: false, estimatedTokens: 0 };
  const plan = deps.router.plan({ ...routeRequest, requested: body.model });
  const inputs = typeof body.input === 'string' ? [body.input] : body.input.every((i) => typeof i === 'string') ? (body.input as string[]) : null;
  const encodingFormat = body.encoding_format ?? 'float';

  const { value, deployment, call } = await runAttempts(ctx, deps.router, plan, routeRequest, async (d, c) => {
    const provider = deps.providers.get(d.kind);
    if (!provider.embed) {
      throw new GatewayError('unsupported_parameter', `The model '${body.model}' is served by a provider without an embeddings API.`, {
        param: 'model',
      });
    }
    return provider.embed(d, { body: body as Record<string, unknown>, inputs, encodingFormat }, { signal: c.signal, timeoutMs: c.timeoutMs, headers: {} });
  });
  call.finish();
  settleUsage(ctx, deployment, value.usage, value.rawUsage);
  writeJson(ctx, res, 200, value.body);
}
