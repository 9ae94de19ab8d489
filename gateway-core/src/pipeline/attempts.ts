import { ClientDisconnected, GatewayError, UpstreamError } from '../errors';
import type { Deployment } from '../providers/types';
import { classifyFailure, countsTowardCooldown, isRetryable, retryAfterOf, retryDelayMs } from '../routing/retry';
import { wouldExceedLimit } from '../routing/strategies';
import type { RequestContext } from './context';
import type { PlanRequest, RoutePlan, Router } from './router';

/** The signal and timers of one call to one deployment; `finish()` clears them. */
export interface AttemptCall {
  signal: AbortSignal;
  timeoutMs: number;
  /** Stops the first-byte timer once a stream sent its first event. */
  firstByte(): void;
  finish(): void;
}

/**
 * Start a call: its signal aborts with ClientDisconnected when the client goes away, and with an
 * upstream_timeout UpstreamError when the total time, or for a stream the time to its first
 * event, runs out. Providers rethrow `signal.reason`, so the pipeline can tell the cases apart.
 */
export function startAttemptCall(ctx: RequestContext, deployment: Deployment, stream: boolean): AttemptCall {
  const controller = new AbortController();
  const onClientAbort = (): void => controller.abort(new ClientDisconnected());
  const clientSignal = ctx.clientAbort.signal;
  if (clientSignal.aborted) onClientAbort();
  else clientSignal.addEventListener('abort', onClientAbort, { once: true });
  const timer = setTimeout(() => {
    controller.abort(new AttemptTimeout(deployment, deployment.timeoutMs, false));
  }, deployment.timeoutMs);
  const firstByteMs = deployment.firstByteTimeoutMs ?? deployment.timeoutMs;
  let firstByteTimer: NodeJS.Timeout | null = null;
  if (stream && firstByteMs < deployment.timeoutMs) {
    firstByteTimer = setTimeout(() => {
      controller.abort(new AttemptTimeout(deployment, firstByteMs, true));
    }, firstByteMs);
  }
  return {
    signal: controller.signal,
    timeoutMs: deployment.timeoutMs,
    firstByte() {
      if (firstByteTimer !== null) clearTimeout(firstByteTimer);
      firstByteTimer = null;
    },
    finish() {
      clearTimeout(timer);
      if (firstByteTimer !== null) clearTimeout(firstByteTimer);
      clientSignal.removeEventListener('abort', onClientAbort);
    },
  };
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** An attempt's own time limit ran out: the total timeout, or for a stream the time to its first event. */
class AttemptTimeout extends UpstreamError {
  constructor(
    deployment: Deployment,
    readonly limitMs: number,
    readonly firstEvent: boolean,
  ) {
    const message = firstEvent
      ? `deployment '${deployment.id}' sent no first event within ${seconds(limitMs)}`
      : `deployment '${deployment.id}' did not finish within ${seconds(limitMs)}`;
    super('upstream_timeout', message, { provider: deployment.providerLabel, deployment: deployment.id });
  }
}

export interface AttemptOutcome<T> {
  value: T;
  deployment: Deployment;
  call: AttemptCall;
}

type Attempt<T> = (deployment: Deployment, call: AttemptCall) => Promise<T>;

/**
 * The result of checking a deployment before it is called: null to call it; an error that keeps
 * the request away from it (the guard refusing its destination class, a budget that blocks),
 * which skips it without a call and is the request's error when no later candidate answers; or a
 * redirect to another model name (a budget that downgrades), whose deployments are tried in its
 * place.
 */
export type AdmissionVerdict = GatewayError | { redirect: string; reason: string } | null;

export type Admission = (deployment: Deployment) => AdmissionVerdict;

/**
 * The attempt loop (step 6): the plan's deployments in order, then up to num_retries more rounds
 * over them after a backoff (Retry-After first), then each fallback alias. A context-window or
 * content-policy failure goes straight to its own fallback list. A 4xx other than 408, 409 and
 * 429 ends the loop, and so does a client that went away. Every try is recorded on the context
 * and in the deployments' health, and the route reason explains each move.
 */
export async function runAttempts<T>(
  ctx: RequestContext,
  router: Router,
  plan: RoutePlan,
  request: Omit<PlanRequest, 'requested' | 'routingInput'>,
  attempt: Attempt<T>,
  admit: Admission = () => null,
): Promise<AttemptOutcome<T>> {
  ctx.routeReasons.push(...plan.reasons);
  let lastError: unknown = null;
  let lastDeployment: Deployment | null = null;
  let special: string[] | null = null;
  let limitedDeployments = 0;
  // The last real call that failed, so that a refusal ending the loop can report what happened first.
  let lastCallFailure: string | null = null;
  let lastRefusal: GatewayError | null = null;

  // The reason for moving on is written when the next candidate is reached, once per failure.
  const explainLastFailure = (): void => {
    if (lastDeployment !== null) ctx.routeReasons.push(`fallback: ${lastDeployment.id} ${describeFailure(lastError, lastDeployment)}`);
    lastDeployment = null;
  };

  const tryList = async (deployments: Deployment[], laterCandidates: () => boolean): Promise<AttemptOutcome<T> | null> => {
    for (let i = 0; i < deployments.length; i++) {
      const deployment = deployments[i]!;
      const othersLeft = i < deployments.length - 1 || laterCandidates();
      // rpm and tpm are hard limits: a deployment that this request would take over them is
      // skipped, and when every candidate is at its limit the request fails with 429.
      if (deployment.limits && wouldExceedLimit(deployment, router.health, deployment.limits, request.estimatedTokens)) {
        ctx.routeReasons.push(`${deployment.id} skipped: at its rpm/tpm limit`);
        recordAttempt(ctx, deployment, null, 'rate_limited', 'skipped: at its rpm/tpm limit', 0);
        limitedDeployments += 1;
        continue;
      }
      const verdict = admit(deployment);
      if (verdict !== null && !(verdict instanceof GatewayError)) {
        explainLastFailure();
        ctx.routeReasons.push(verdict.reason);
        const { ordered } = router.candidates(verdict.redirect, request);
        const redirected = await tryList(ordered, () => i < deployments.length - 1 || laterCandidates());
        if (redirected) return redirected;
        if (special !== null) return null;
        continue;
      }
      const refusal = verdict;
      if (refusal !== null) {
        explainLastFailure();
        ctx.routeReasons.push(`${deployment.id} skipped: ${refusal.kind.replace('_', ' ')}`);
        recordAttempt(ctx, deployment, null, refusal.kind, refusal.message, 0);
        lastError = refusal;
        lastRefusal = refusal;
        continue;
      }
      if (router.health.isCoolingDown(deployment.id) && othersLeft) {
        explainLastFailure();
        ctx.routeReasons.push(`fallback: ${deployment.id} skipped while cooling down`);
        recordAttempt(ctx, deployment, null, 'cooling_down', 'skipped: cooling down after repeated failures', 0);
        continue;
      }
      explainLastFailure();
      const outcome = await tryOne(ctx, router, deployment, request, attempt);
      if ('value' in outcome) return outcome;
      lastError = outcome.error;
      lastDeployment = deployment;
      lastCallFailure = `${deployment.id} ${describeFailure(outcome.error, deployment)}`;
      const failure = classifyFailure(outcome.error);
      if (outcome.error instanceof ClientDisconnected) throw outcome.error;
      if (failure === 'context_window') {
        special = plan.contextWindowFallbacks;
        return null;
      }
      if (failure === 'content_policy') {
        special = plan.contentPolicyFallbacks;
        return null;
      }
      if (!movesToNextCandidate(outcome.error)) throw outcome.error;
    }
    return null;
  };

  const hasFallbacks = (): boolean => plan.fallbacks.length > 0;
  const first = await tryList(plan.primary, hasFallbacks);
  if (first) return first;

  for (let round = 1; special === null && round <= router.settings.numRetries && isRetryable(lastError); round++) {
    const delay = retryDelayMs(round, { retryAfter: retryAfterOf(lastError) });
    if (delay === null) break;
    const waitMs = Math.max(delay, router.settings.retryAfterMs);
    await sleep(waitMs, ctx.clientAbort.signal);
    // The retry line names the failure that caused it, so the next try is not reported as a fallback.
    // tryList assigns lastDeployment, which TypeScript's narrowing does not see.
    const failed = lastDeployment as Deployment | null;
    const answered = failed === null ? '' : `: ${failed.id} ${describeFailure(lastError, failed)}`;
    ctx.routeReasons.push(`retry round ${round} after ${Math.round(waitMs)} ms${answered}`);
    lastDeployment = null;
    const retried = await tryList(plan.primary, hasFallbacks);
    if (retried) return retried;
  }

  const fallbackAliases: string[] = special ?? plan.fallbacks;
  for (let index = 0; index < fallbackAliases.length; index++) {
    const alias = fallbackAliases[index]!;
    const { ordered } = router.candidates(alias, request);
    ctx.fallbackFrom = plan.alias;
    const result = await tryList(ordered, () => index < fallbackAliases.length - 1);
    if (result) return result;
  }
  if (lastError === null && limitedDeployments > 0) {
    throw new GatewayError(
      'rate_limited',
      `Every deployment of '${plan.alias}' is at its rpm/tpm limit for this minute; retry shortly or raise litellm_params.rpm / tpm.`,
      { headers: { 'retry-after': '1' } },
    );
  }
  // tryList assigns these, which TypeScript's narrowing does not see.
  const refusal = lastRefusal as GatewayError | null;
  const callFailure = lastCallFailure as string | null;
  if (refusal !== null && lastError === refusal && callFailure !== null) {
    throw new GatewayError(refusal.kind, `${refusal.message} Before that, ${callFailure}.`, { headers: refusal.headers });
  }
  throw lastError ?? new GatewayError('internal', 'no candidate deployment to try');
}

async function tryOne<T>(
  ctx: RequestContext,
  router: Router,
  deployment: Deployment,
  request: Omit<PlanRequest, 'requested' | 'routingInput'>,
  attempt: Attempt<T>,
): Promise<AttemptOutcome<T> | { error: unknown }> {
  const started = performance.now();
  const call = startAttemptCall(ctx, deployment, request.stream);
  ctx.deployment = deployment;
  router.health.begin(deployment.id);
  try {
    const value = await attempt(deployment, call);
    const latencyMs = performance.now() - started;
    router.health.succeed(deployment.id, { latencyMs, ttftMs: request.stream ? latencyMs : null, tokens: request.estimatedTokens });
    recordAttempt(ctx, deployment, 200, null, null, latencyMs);
    return { value, deployment, call };
  } catch (caught) {
    call.finish();
    const error = call.signal.aborted && call.signal.reason !== undefined ? call.signal.reason : caught;
    if (error instanceof ClientDisconnected) router.health.cancel(deployment.id);
    else {
      router.health.fail(deployment.id, error instanceof GatewayError ? error.kind : 'internal', {
        countsTowardCooldown: countsTowardCooldown(error),
        tokens: request.estimatedTokens,
      });
    }
    recordAttempt(
      ctx,
      deployment,
      error instanceof UpstreamError ? error.upstreamStatus : null,
      error instanceof GatewayError ? error.kind : error instanceof ClientDisconnected ? 'client_disconnected' : 'internal',
      error instanceof Error ? error.message : String(error),
      performance.now() - started,
    );
    if (!(error instanceof GatewayError) && !(error instanceof ClientDisconnected)) throw error;
    ctx.log.debug({ deployment: deployment.id, kind: (error as GatewayError).kind }, 'attempt failed');
    return { error };
  }
}

/** Return whether a failure before the first content event lets the next candidate try; a client's own error does not. */
function movesToNextCandidate(error: unknown): boolean {
  if (error instanceof GatewayError && error.kind === 'unsupported_parameter') return true;
  return isRetryable(error) || (error instanceof UpstreamError && error.kind === 'upstream_auth');
}

function recordAttempt(
  ctx: RequestContext,
  deployment: Deployment,
  status: number | null,
  errorKind: string | null,
  errorMessage: string | null,
  latencyMs: number,
): void {
  ctx.attempts.push({
    deploymentId: deployment.id,
    provider: deployment.providerLabel,
    model: deployment.model,
    status,
    errorKind,
    errorMessage,
    latencyMs: Math.round(latencyMs * 1000) / 1000,
  });
}

/** "timed out after 30 s", "sent no first event within 5 s", "answered HTTP 429": for the route reason. */
function describeFailure(error: unknown, deployment: Deployment): string {
  if (!(error instanceof GatewayError)) return 'failed';
  if (error instanceof AttemptTimeout) {
    return error.firstEvent ? `sent no first event within ${seconds(error.limitMs)}` : `timed out after ${seconds(error.limitMs)}`;
  }
  // The providers' own timers run for the deployment's timeout; an HTTP 408 falls through to its status below.
  if (error.kind === 'upstream_timeout' && !(error instanceof UpstreamError && error.upstreamStatus !== null)) {
    return `timed out after ${seconds(deployment.timeoutMs)}`;
  }
  if (classifyFailure(error) === 'context_window') return 'exceeded its context window';
  if (classifyFailure(error) === 'content_policy') return 'refused the request under its content policy';
  if (error.kind === 'unsupported_parameter') return `cannot serve '${error.param ?? 'a parameter'}'`;
  if (error instanceof UpstreamError && error.upstreamStatus !== null) return `answered HTTP ${error.upstreamStatus}`;
  if (error.kind === 'upstream_auth') return 'rejected its provider key';
  return 'was unreachable or sent an invalid response';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new ClientDisconnected());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
