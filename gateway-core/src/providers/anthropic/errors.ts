import Anthropic from '@anthropic-ai/sdk';
import { UpstreamError, connectionFailureReason, describeConnectionFailure, isGatewayError, upstreamErrorFromStatus } from '../../errors';
import { statusForAnthropicErrorType } from '../../formats/anthropic-messages/errors';
import type { Deployment } from '../types';

/** Return the base URL a call goes to, for error messages; it never contains the key. */
export function describeBase(deployment: Deployment): string {
  return deployment.apiBase ?? 'https://api.anthropic.com';
}

export function errorDetails(deployment: Deployment): { provider: string; deployment: string } {
  return { provider: deployment.providerLabel, deployment: deployment.id };
}

/**
 * Map whatever an Anthropic call threw to the gateway's error types. The caller's own abort is
 * rethrown unchanged (its signal's reason) so that the pipeline can tell a disconnect or its
 * own timeout from a failure. `deadline` is this provider's time limit for the call, if any.
 */
export function mapAnthropicError(
  error: unknown,
  deployment: Deployment,
  signal: AbortSignal,
  deadline?: { readonly timedOut: boolean; readonly ms: number },
): unknown {
  if (signal.aborted) return signal.reason ?? error;
  if (isGatewayError(error)) return error;
  const details = { ...errorDetails(deployment), cause: error };
  if (deadline?.timedOut || error instanceof Anthropic.APIConnectionTimeoutError) {
    const ms = deadline?.ms ?? deployment.timeoutMs;
    return new UpstreamError('upstream_timeout', `deployment '${deployment.id}' did not respond within ${ms} ms`, details);
  }
  if (error instanceof Anthropic.APIUserAbortError) {
    // Only the caller's signal and this provider's deadline abort a call, and both are handled above.
    return new UpstreamError('upstream_error', `the call to deployment '${deployment.id}' was aborted`, details);
  }
  if (error instanceof Anthropic.APIConnectionError) {
    return new UpstreamError(
      'upstream_error',
      describeConnectionFailure(deployment.id, describeBase(deployment), connectionFailureReason(error)),
      details,
    );
  }
  if (error instanceof Anthropic.APIError && typeof error.status === 'number') {
    const body = error.error as { error?: { type?: unknown } } | undefined;
    const type = typeof body?.error?.type === 'string' ? body.error.type : null;
    return upstreamErrorFromStatus(error.status, error.apiMessage ?? `HTTP ${error.status}`, {
      ...details,
      upstreamCode: type,
      upstreamRequestId: error.requestID ?? null,
      retryAfter: error.headers?.get('retry-after') ?? null,
    });
  }
  if (isConnectionFailure(error)) {
    return new UpstreamError(
      'upstream_error',
      `deployment '${deployment.id}' at ${describeBase(deployment)} closed the connection before the response was complete (${connectionFailureReason(error as Error)})`,
      details,
    );
  }
  return error;
}

/** Map an `event: error` that an Anthropic stream sent in-band, such as overloaded_error. */
export function mapAnthropicStreamError(payload: unknown, deployment: Deployment, requestId: string | null): UpstreamError {
  const error = (payload ?? {}) as { type?: unknown; message?: unknown };
  const type = typeof error.type === 'string' ? error.type : undefined;
  const message = typeof error.message === 'string' ? error.message : `the provider sent an error event of type ${type ?? 'unknown'}`;
  return upstreamErrorFromStatus(statusForAnthropicErrorType(type), message, {
    ...errorDetails(deployment),
    upstreamCode: type ?? null,
    upstreamRequestId: requestId,
  });
}

/** Node's fetch reports a connection cut mid-body as `TypeError: terminated` (undici). */
function isConnectionFailure(error: unknown): boolean {
  return error instanceof TypeError && (error.message === 'terminated' || error.cause instanceof Error);
}
