import type { ServerResponse } from 'node:http';
import { anthropicCountTokensSchema, validateAnthropicBody } from '../formats/anthropic-messages/schema';
import { anthropicPromptText } from '../http/surfaces/anthropic';
import { estimateTokens } from '../usage/estimate';
import { runAttempts } from './attempts';
import type { ChatDependencies } from './chat';
import { writeJson } from './chat';
import type { RequestContext } from './context';

/**
 * POST /v1/messages/count_tokens. An Anthropic deployment counts with its own tokenizer; any
 * other deployment gets an estimate from the o200k tokenizer, flagged in the audit record. When
 * the guard would block, redact or move the request away from the deployment, the text is not
 * sent for counting either, and the estimate is returned instead.
 */
export async function handleCountTokens(
  deps: ChatDependencies,
  ctx: RequestContext,
  raw: unknown,
  forwarded: Record<string, string>,
  res: ServerResponse,
): Promise<void> {
  const body = validateAnthropicBody(anthropicCountTokensSchema, raw);
  ctx.alias = body.model;
  const routeRequest = { mode: 'chat' as const, stream: false, estimatedTokens: 0 };
  const plan = deps.router.plan({ ...routeRequest, requested: body.model });
  const scan = deps.guard.scanRequest('anthropic-messages', raw as Record<string, unknown>);
  ctx.guardScan = scan;
  const { value, call } = await runAttempts(ctx, deps.router, plan, routeRequest, async (deployment, c) => {
    const provider = deps.providers.get(deployment.kind);
    const decision = scan?.decision(deployment.destination);
    const guarded = decision !== undefined && (!decision.admitted || decision.redacting.length > 0);
    if (guarded) ctx.flags.add('guard_counted_locally');
    if (!guarded && provider.nativeFormat === 'anthropic-messages' && provider.countTokensNative) {
      return provider.countTokensNative(deployment, raw as Record<string, unknown>, { signal: c.signal, timeoutMs: c.timeoutMs, headers: forwarded });
    }
    ctx.flags.add('usage_estimated');
    return { inputTokens: estimateTokens(anthropicPromptText(body)) };
  });
  call.finish();
  writeJson(ctx, res, 200, { input_tokens: value.inputTokens });
}
