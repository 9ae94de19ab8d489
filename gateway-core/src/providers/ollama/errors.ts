import { GatewayError, UpstreamError, upstreamErrorFromStatus } from '../../errors';
import type { Deployment } from '../types';

/** The provider name carried by every UpstreamError from this folder. */
export const PROVIDER = 'ollama';

/** Ollama's own default address, used when a deployment sets no api_base. */
export const DEFAULT_OLLAMA_HOST = 'http://127.0.0.1:11434';

/**
 * The text ollama-js 0.6 throws when an NDJSON stream ends without a `done: true` object.
 * Matching it only chooses the wording of the error; the kind is upstream_error either way.
 */
const STREAM_CUT_MESSAGE = 'Did not receive done or success response in stream.';

/** The error ollama-js throws for an HTTP status outside 2xx; the class itself is not exported. */
interface OllamaResponseError extends Error {
  error: string;
  status_code: number;
}

function isResponseError(error: unknown): error is OllamaResponseError {
  return (
    error instanceof Error &&
    error.name === 'ResponseError' &&
    typeof (error as Partial<OllamaResponseError>).status_code === 'number'
  );
}

/** Returns the deployment's host for messages, without any user name or password in the URL. */
export function displayHost(deployment: Deployment): string {
  const host = deployment.apiBase ?? DEFAULT_OLLAMA_HOST;
  try {
    const url = new URL(host);
    url.username = '';
    url.password = '';
    return url.origin + url.pathname.replace(/\/$/, '');
  } catch (error) {
    if (error instanceof TypeError) return '(invalid api_base)';
    throw error;
  }
}

/**
 * Collects the `code` of every error along a cause chain. Node's fetch (undici) wraps the
 * socket error as `cause`, and an AggregateError contains one error per address it tried.
 */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const current = queue.shift();
    if (current === null || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    queue.push((current as { cause?: unknown }).cause);
    if (current instanceof AggregateError) queue.push(...current.errors);
  }
  return codes;
}

function details(deployment: Deployment, cause: unknown) {
  return { provider: PROVIDER, deployment: deployment.id, cause };
}

/** Builds an upstream_error for a body that is not what Ollama's API documents. */
export function invalidResponseError(deployment: Deployment, problem: string): UpstreamError {
  return new UpstreamError(
    'upstream_error',
    `Ollama deployment '${deployment.id}' at ${displayHost(deployment)} sent an invalid response: ${problem}`,
    details(deployment, undefined),
  );
}

/** Builds the error for a stream that ended before Ollama's final `done: true` object. */
export function streamCutError(deployment: Deployment, cause?: unknown): UpstreamError {
  return new UpstreamError(
    'upstream_error',
    `Ollama deployment '${deployment.id}' at ${displayHost(deployment)} ended the stream before its final object (done: true)`,
    details(deployment, cause),
  );
}

/**
 * Translates a failure of an ollama-js call into the gateway's error types. Callers handle the
 * caller's abort and the call deadline before this, because only they know which signal fired.
 */
export function toGatewayError(error: unknown, deployment: Deployment): GatewayError {
  if (error instanceof GatewayError) return error;
  const where = `Ollama deployment '${deployment.id}'`;
  const host = displayHost(deployment);

  if (isResponseError(error)) {
    let message = error.error || error.message;
    if (error.status_code === 404) {
      message += ` (if the model is not installed, run \`ollama pull ${deployment.model}\` on the Ollama host)`;
    }
    return upstreamErrorFromStatus(error.status_code, message, details(deployment, error));
  }

  const codes = errorCodes(error);
  if (codes.includes('ECONNREFUSED')) {
    return new UpstreamError(
      'upstream_error',
      `${where} is not reachable at ${host}: the connection was refused. Is \`ollama serve\` running?`,
      details(deployment, error),
    );
  }
  if (codes.includes('ENOTFOUND') || codes.includes('EAI_AGAIN')) {
    return new UpstreamError(
      'upstream_error',
      `${where} is not reachable at ${host}: the host name could not be resolved. Check the api_base of this deployment.`,
      details(deployment, error),
    );
  }
  // NOTE: Node's fetch gives up after 300 s without response headers or without body bytes
  // (undici's headersTimeout and bodyTimeout), even when the deployment allows longer.
  if (codes.some((code) => code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')) {
    return new UpstreamError('upstream_timeout', `${where} at ${host} timed out (${codes.join(', ')})`, details(deployment, error));
  }
  if (error instanceof TypeError) {
    // Node's fetch reports every network failure as a TypeError ("fetch failed", "terminated").
    const cause = (error as { cause?: unknown }).cause;
    const reason = cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
    return new UpstreamError('upstream_error', `${where}: the connection to ${host} failed (${reason})`, details(deployment, error));
  }
  if (error instanceof SyntaxError) {
    return invalidResponseError(deployment, `the body is not valid JSON (${error.message})`);
  }
  if (error instanceof Error && error.message === STREAM_CUT_MESSAGE) {
    return streamCutError(deployment, error);
  }
  if (error instanceof Error) {
    // ollama-js raises a plain Error for an {"error": "..."} object inside a stream.
    return new UpstreamError('upstream_error', `${where} at ${host} reported an error: ${error.message}`, details(deployment, error));
  }
  return new UpstreamError('upstream_error', `${where} at ${host} failed: ${String(error)}`, details(deployment, error));
}
