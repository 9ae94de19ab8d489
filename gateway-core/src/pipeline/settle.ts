import { computeCost } from '../models/table';
import type { Deployment } from '../providers/types';
import { estimateTokens } from '../usage/estimate';
import type { UsageRecord } from '../usage/record';
import type { RequestContext } from './context';

/** Record usage and its cost on the context (step 7 of the request path). */
export function settleUsage(ctx: RequestContext, deployment: Deployment, usage: UsageRecord, rawUsage: unknown): void {
  ctx.usage = usage;
  ctx.rawUsage = rawUsage ?? null;
  ctx.pricing = deployment.modelInfo.pricing;
  ctx.costUsd = computeCost(deployment.modelInfo, usage);
  if (deployment.modelInfo.pricing === 'unknown') ctx.flags.add('price_unknown');
  if (usage.source === 'estimated') ctx.flags.add('usage_estimated');
}

/** Usage counted from text when the provider reported none (an aborted or cut stream). */
export function estimateUsage(promptText: string, outputText: string): UsageRecord {
  return {
    inputTokens: estimateTokens(promptText),
    cacheReadTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    outputTokens: estimateTokens(outputText),
    reasoningTokens: null,
    source: 'estimated',
  };
}
