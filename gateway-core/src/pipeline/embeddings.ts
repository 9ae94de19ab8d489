import type { ServerResponse } from 'node:http';
import { embeddingRequestSchema, validateBody, type EmbeddingRequestBody } from '../formats/openai-chat/schema';
import type { RequestScan } from '../guard/guard';
import { BudgetGate } from './budget-step';
import type { RoutePlan } from './router';
import { GatewayError } from '../errors';
import { runAttempts, type Admission } from './attempts';
import type { ChatDependencies } from './chat';
import { setRouteHeaders, writeJson } from './chat';
import type { RequestContext } from './context';
import { guardFirst, routeLocalPlan } from './guard-step';
import { settleUsage } from './settle';

/**
 * POST /v1/embeddings: one provider call, encoding_format honoured both ways. The guard scans the
 * string inputs. A destination class that redacts receives the inputs with placeholders, which
 * nothing restores, because an embedding carries no text back.
 */
export async function handleEmbeddings(deps: ChatDependencies, ctx: RequestContext, raw: unknown, res: ServerResponse): Promise<void> {
  const body = validateBody(embeddingRequestSchema, raw);
  ctx.alias = body.model;
  const routeRequest = { mode: 'embedding' as const, stream: false, estimatedTokens: 0 };
  let plan = deps.router.plan({ ...routeRequest, requested: body.model });

  const scan = deps.guard.scanEmbeddingRequest(raw as Record<string, unknown>);
  ctx.guardScan = scan;
  if (scan !== null) {
    const narrowed = routeLocalPlan(plan, scan, deps.router, deps.guard.settings.localModel, routeRequest);
    plan = narrowed.plan;
    ctx.guardRoutedLocal = narrowed.changed;
  }
  const inputText = typeof body.input === 'string' ? body.input : body.input.every((item) => typeof item === 'string') ? body.input.join('\n') : '';
  const gate = new BudgetGate(deps.governance, deps.router, ctx, {
    requestedModel: body.model,
    promptText: () => inputText,
    // Embeddings have no output tokens.
    maxOutputTokens: 0,
    choices: 1,
    promptCaching: 'none',
  });
  gate.acquireRateLimit(Math.ceil(inputText.length / 4));
  const admit = guardFirst(ctx, scan, gate.admit);
  const encodingFormat = body.encoding_format ?? 'float';

  try {
    await embed(deps, ctx, res, { body, raw, plan, routeRequest, scan, admit, encodingFormat, gate });
  } finally {
    gate.settle(ctx.usage === null ? null : ctx.deployment);
  }
}

interface EmbeddingCall {
  body: EmbeddingRequestBody;
  raw: unknown;
  plan: RoutePlan;
  routeRequest: { mode: 'embedding'; stream: boolean; estimatedTokens: number };
  scan: RequestScan | null;
  admit: Admission;
  encodingFormat: 'float' | 'base64';
  gate: BudgetGate;
}

async function embed(deps: ChatDependencies, ctx: RequestContext, res: ServerResponse, call: EmbeddingCall): Promise<void> {
  const { body, raw, plan, routeRequest, scan, admit, encodingFormat, gate } = call;
  const { value, deployment, call: attempt } = await runAttempts(
    ctx,
    deps.router,
    plan,
    routeRequest,
    async (d, c) => {
      const provider = deps.providers.get(d.kind);
      if (!provider.embed) {
        throw new GatewayError('unsupported_parameter', `The model '${body.model}' is served by a provider without an embeddings API.`, {
          param: 'model',
        });
      }
      const sent = (scan?.redactedBody(d.destination)?.body ?? raw) as Record<string, unknown>;
      const input = sent.input;
      const inputs = typeof input === 'string' ? [input] : Array.isArray(input) && input.every((i) => typeof i === 'string') ? (input as string[]) : null;
      return provider.embed(d, { body: sent, inputs, encodingFormat }, { signal: c.signal, timeoutMs: c.timeoutMs, headers: {} });
    },
    admit,
  );
  attempt.finish();
  settleUsage(ctx, deployment, value.usage, value.rawUsage);
  gate.settle(deployment);
  setRouteHeaders(res, ctx, deployment);
  writeJson(ctx, res, 200, value.body);
}
