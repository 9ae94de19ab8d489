import OpenAI from 'openai';
import { UpstreamError, connectionFailureReason, describeConnectionFailure, isGatewayError, upstreamErrorFromStatus } from '../../errors';
import type { Deployment } from '../types';

/**
 * Map whatever an OpenAI call threw to the gateway's error types. The caller's own abort is
 * rethrown unchanged so that the pipeline can tell a disconnect or its timeout from a failure.
 */
export function mapOpenAIError(error: unknown, deployment: Deployment, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? error;
  if (isGatewayError(error)) return error;
  const details = { provider: deployment.providerLabel, deployment: deployment.id, cause: error };
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new UpstreamError('upstream_timeout', `deployment '${deployment.id}' did not respond within ${deployment.timeoutMs} ms`, details);
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new UpstreamError(
      'upstream_error',
      describeConnectionFailure(deployment.id, describeBase(deployment), connectionFailureReason(error)),
      details,
    );
  }
  if (error instanceof OpenAI.APIError && typeof error.status === 'number') {
    const body = error.error as { message?: unknown; code?: unknown; type?: unknown } | undefined;
    const message = typeof body?.message === 'string' ? body.message : `HTTP ${error.status}`;
    const code = providerCode(body);
    return upstreamErrorFromStatus(error.status, message, {
      ...details,
      upstreamCode: code,
      upstreamRequestId: error.requestID ?? null,
      retryAfter: error.headers?.get('retry-after') ?? null,
    });
  }
  if (error instanceof SyntaxError) {
    return new UpstreamError('upstream_error', `deployment '${deployment.id}' returned invalid JSON`, details);
  }
  return error;
}

/** Map an `error` object an OpenAI stream sent in-band. */
export function mapOpenAIStreamError(payload: unknown, deployment: Deployment): UpstreamError {
  const error = (payload ?? {}) as { message?: unknown; type?: unknown; code?: unknown };
  const message = typeof error.message === 'string' ? error.message : 'the provider sent an error event';
  const type = `${String(error.type ?? '')} ${String(error.code ?? '')}`;
  const status = /rate_limit/.test(type) ? 429 : /overloaded/.test(type) ? 529 : /invalid_request/.test(type) ? 400 : 500;
  const code = providerCode(error);
  return upstreamErrorFromStatus(status, message, { provider: deployment.providerLabel, deployment: deployment.id, upstreamCode: code });
}

/** Return OpenAI's error `code`, else its `type`, else null. */
function providerCode(body: { code?: unknown; type?: unknown } | undefined): string | null {
  if (typeof body?.code === 'string') return body.code;
  if (typeof body?.type === 'string') return body.type;
  return null;
}

function describeBase(deployment: Deployment): string {
  return deployment.apiBase ?? 'https://api.openai.com/v1';
}
