import { ClientDisconnected, GatewayError, UpstreamError } from '../errors';
import type { Deployment } from '../providers/types';
import type { RequestContext } from './context';

/** The signal and timer of one call to one deployment; `finish()` clears both. */
export interface AttemptCall {
  signal: AbortSignal;
  timeoutMs: number;
  finish(): void;
}

/**
 * Start a call: its signal aborts with ClientDisconnected when the client goes away and with an
 * upstream_timeout UpstreamError when the deployment's timeout passes, so providers can rethrow
 * `signal.reason` and the pipeline can tell the two apart.
 */
export function startAttemptCall(ctx: RequestContext, deployment: Deployment): AttemptCall {
  const controller = new AbortController();
  const onClientAbort = (): void => controller.abort(new ClientDisconnected());
  const clientSignal = ctx.clientAbort.signal;
  if (clientSignal.aborted) onClientAbort();
  else clientSignal.addEventListener('abort', onClientAbort, { once: true });
  const timer = setTimeout(() => {
    controller.abort(
      new UpstreamError('upstream_timeout', `deployment '${deployment.id}' did not finish within ${deployment.timeoutMs / 1000} s`, {
        provider: deployment.providerLabel,
        deployment: deployment.id,
      }),
    );
  }, deployment.timeoutMs);
  return {
    signal: controller.signal,
    timeoutMs: deployment.timeoutMs,
    finish() {
      clearTimeout(timer);
      clientSignal.removeEventListener('abort', onClientAbort);
    },
  };
}

/** Whether a failure before the first content event lets the next candidate try. */
function movesToNextCandidate(error: unknown): boolean {
  return error instanceof UpstreamError || (error instanceof GatewayError && error.kind === 'unsupported_parameter');
}

/**
 * The attempt loop: try each candidate in order until one succeeds. Each try is recorded on the
 * context. On success the call stays open (a stream is still flowing) and the caller finishes it.
 */
export async function runAttempts<T>(
  ctx: RequestContext,
  candidates: Deployment[],
  attempt: (deployment: Deployment, call: AttemptCall) => Promise<T>,
): Promise<{ value: T; deployment: Deployment; call: AttemptCall }> {
  let lastError: unknown = null;
  for (const deployment of candidates) {
    const started = performance.now();
    const call = startAttemptCall(ctx, deployment);
    ctx.deployment = deployment;
    try {
      const value = await attempt(deployment, call);
      ctx.attempts.push({
        deploymentId: deployment.id,
        provider: deployment.providerLabel,
        model: deployment.model,
        status: 200,
        errorKind: null,
        errorMessage: null,
        latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
      });
      return { value, deployment, call };
    } catch (error) {
      call.finish();
      const failure = error instanceof ClientDisconnected || call.signal.reason === error ? (call.signal.reason ?? error) : error;
      ctx.attempts.push({
        deploymentId: deployment.id,
        provider: deployment.providerLabel,
        model: deployment.model,
        status: failure instanceof UpstreamError ? failure.upstreamStatus : null,
        errorKind: failure instanceof GatewayError ? failure.kind : failure instanceof ClientDisconnected ? 'client_disconnected' : 'internal',
        errorMessage: failure instanceof Error ? failure.message : String(failure),
        latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
      });
      lastError = failure;
      if (!movesToNextCandidate(failure)) throw failure;
      ctx.log.debug({ deployment: deployment.id, kind: (failure as GatewayError).kind }, 'attempt failed');
    }
  }
  throw lastError ?? new GatewayError('internal', 'no candidate deployment to try');
}
