/**
 * Budgets and rate limits in the request path. Rate limits are checked once per request, after
 * authentication. Budgets are checked for each attempt at that deployment's prices: the attempt
 * reserves its worst-case cost, a failed attempt releases it, and the request settles the winning
 * reservation to the real cost at the end (step 7).
 */
import type { GatewayError } from '../errors';
import type { Governance } from '../governance/governance';
import type { ResolvedPrincipal } from '../governance/key-directory';
import type { Reservation } from '../governance/ledger';
import type { RateLease } from '../governance/rate-limits';
import { detectPromptCaching, FALLBACK_MAX_OUTPUT_TOKENS, worstCaseCost, type PromptCachingTier } from '../governance/reservation';
import { computeCost } from '../models/table';
import type { Deployment } from '../providers/types';
import { estimateTokens } from '../usage/estimate';
import { totalInputTokens } from '../usage/record';
import type { Admission, AdmissionVerdict } from './attempts';
import type { RequestContext } from './context';
import type { Router } from './router';

export interface BudgetRequest {
  /** The model name the client sent. */
  requestedModel: string;
  /** All text the provider would see, tokenized once on first use. */
  promptText: () => string;
  /** max_tokens or max_completion_tokens, or null when the request sets none. */
  maxOutputTokens: number | null;
  /** Choices the request requests (OpenAI's `n`). Each can write the whole output limit. */
  choices: number;
  promptCaching: PromptCachingTier;
}

/** The governance state of one request: its rate-limit lease and its open reservation. */
export class BudgetGate {
  private reservation: Reservation | null = null;
  private lease: RateLease | null = null;
  private promptTokens: number | null = null;
  private downgradedBy: string | null = null;
  private readonly principal: ResolvedPrincipal | null;

  constructor(
    private readonly governance: Governance,
    private readonly router: Router,
    private readonly ctx: RequestContext,
    private readonly request: BudgetRequest,
  ) {
    this.principal = ctx.principal === null ? null : governance.keys.resolve(ctx.principal);
  }

  /** Counts the request against the key's, user's and team's rpm and tpm; throws 429 when over. */
  acquireRateLimit(estimatedTokens: number): void {
    if (this.principal === null) return;
    const decision = this.governance.rateLimits.acquire(this.principal, estimatedTokens);
    if (decision.kind === 'limited') throw decision.error;
    this.lease = decision.lease;
  }

  /** The admission check for one attempt, for runAttempts. */
  readonly admit: Admission = (deployment) => this.admitAttempt(deployment);

  private admitAttempt(deployment: Deployment): AdmissionVerdict {
    this.releaseOpen();
    if (this.principal === null) return null;
    const decision = this.governance.admission.admit({
      requestId: this.ctx.id,
      principal: this.principal,
      alias: deployment.alias,
      requestedModel: this.request.requestedModel,
      deployment: { id: deployment.id, model: deployment.model },
      worstCaseUsd: this.worstCaseUsd(deployment),
      downgradedBy: this.downgradedBy,
    });
    if (decision.kind === 'admitted') {
      this.reservation = decision.reservation;
      return null;
    }
    if (decision.kind === 'blocked') return decision.error as GatewayError;

    this.downgradedBy = decision.budgetId;
    this.ctx.budgetDowngradedFrom ??= deployment.alias;
    this.ctx.flags.add(`budget_downgraded:${decision.budgetId}`);
    return { redirect: decision.alias, reason: `budget ${decision.budgetId}: downgrade to ${decision.alias}` };
  }

  /**
   * Returns the attempt's worst-case cost, or 0 when no budget applies to the request, since then
   * nothing reads it and the prompt need not be tokenized.
   */
  private worstCaseUsd(deployment: Deployment): number | null {
    if (this.governance.admission.applicableBudgets(this.principal!, deployment.alias).length === 0) return 0;
    const perChoice = this.request.maxOutputTokens ?? deployment.modelInfo.maxOutputTokens ?? FALLBACK_MAX_OUTPUT_TOKENS;
    const cost = worstCaseCost({
      modelInfo: deployment.modelInfo,
      promptTokens: this.tokens(),
      maxOutputTokens: perChoice * this.request.choices,
      promptCaching: this.request.promptCaching,
    });
    return cost.usd;
  }

  /** Prompt tokens for the worst-case cost: o200k for every model, computed once per request. */
  private tokens(): number {
    // NOTE: o200k is OpenAI's tokenizer; Anthropic's and local models' counts differ by an
    // unmeasured margin, which the settlement corrects.
    this.promptTokens ??= estimateTokens(this.request.promptText());
    return this.promptTokens;
  }

  /**
   * Settles the open reservation to the cost recorded on the context, with what the request
   * would have cost on the model the client asked for, and completes the rate-limit lease.
   * Releases the reservation instead when the request produced no usage.
   */
  settle(deployment: Deployment | null): void {
    const usage = this.ctx.usage;
    if (this.lease !== null) {
      // A cache hit costs no provider tokens, so only its request counts toward the limits.
      let tokens: number | null = null;
      if (this.ctx.flags.has('cache_hit')) tokens = 0;
      else if (usage !== null) tokens = totalInputTokens(usage) + usage.outputTokens;
      this.governance.rateLimits.complete(this.lease, tokens);
      this.lease = null;
    }
    if (this.reservation === null) return;
    if (usage === null || deployment === null) {
      this.releaseOpen();
      return;
    }
    const baseline = this.baselineDeployment();
    const wouldHaveCostUsd = baseline === null ? this.ctx.costUsd : computeCost(baseline.modelInfo, usage);
    const settlement = this.governance.admission.settle(this.reservation, {
      costUsd: this.ctx.costUsd,
      estimated: usage.source === 'estimated',
      wouldHaveCostUsd,
    });
    this.reservation = null;
    if (!settlement.persisted) this.ctx.flags.add('ledger_write_pending');
  }

  /** Records a cache hit: $0 spent, and what the stored response cost as savings. */
  recordCacheHit(alias: string, originalCostUsd: number | null, model: string | null = null): void {
    if (this.principal === null) return;
    const result = this.governance.admission.recordCacheHit({
      requestId: this.ctx.id,
      principal: this.principal,
      alias,
      requestedModel: this.request.requestedModel,
      wouldHaveCostUsd: originalCostUsd,
      model,
    });
    if (!result.persisted) this.ctx.flags.add('ledger_write_pending');
  }

  /** Releases a reservation that no attempt will settle. */
  releaseOpen(): void {
    if (this.reservation === null) return;
    this.governance.admission.release(this.reservation);
    this.reservation = null;
  }

  /** Returns the first deployment of the requested name, or of the policy's strongest model for `auto`. */
  private baselineDeployment(): Deployment | null {
    const requested = this.router.policy?.isAutoModel(this.request.requestedModel) ? this.router.policy.strongest : this.request.requestedModel;
    try {
      return this.router.candidates(requested, { mode: 'chat', stream: false, estimatedTokens: 0 }).ordered[0] ?? null;
    } catch {
      return null;
    }
  }
}

/** Returns the number of choices a chat body requests: OpenAI's `n`, default 1. */
export function requestedChoices(body: Record<string, unknown>): number {
  const n = body.n;
  return typeof n === 'number' && Number.isInteger(n) && n > 1 ? n : 1;
}

/** Returns the output limit a chat body requests: max_completion_tokens, max_tokens, or null. */
export function requestedOutputLimit(body: Record<string, unknown>): number | null {
  for (const key of ['max_completion_tokens', 'max_tokens']) {
    const value = body[key];
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  }
  return null;
}

export { detectPromptCaching };
