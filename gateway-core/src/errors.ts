/**
 * The gateway's error types. Routes and the pipeline throw these; one renderer per inbound
 * surface turns them into that API's error shape (see formats/<surface>/errors.ts).
 * Anything else that is thrown is a bug and is rendered as a generic 500.
 */

/** The kind of failure, independent of the surface the client speaks. */
export type ErrorKind =
  | 'invalid_json'
  | 'invalid_value'
  | 'unsupported_parameter'
  | 'invalid_api_key'
  | 'forbidden'
  | 'guard_blocked'
  | 'model_not_found'
  | 'not_found'
  | 'request_too_large'
  | 'rate_limited'
  | 'budget_exceeded'
  | 'upstream_bad_request'
  | 'upstream_auth'
  | 'upstream_not_found'
  | 'upstream_rate_limited'
  | 'upstream_server'
  | 'upstream_error'
  | 'upstream_timeout'
  | 'overloaded'
  | 'internal';

export interface GatewayErrorOptions {
  /** HTTP status; defaults to the kind's usual status. */
  status?: number;
  /** The request field at fault, for OpenAI's `param`. */
  param?: string | null;
  /** Headers to add to the error response (Retry-After, x-should-retry). */
  headers?: Record<string, string>;
  cause?: unknown;
}

const defaultStatus: Record<ErrorKind, number> = {
  invalid_json: 400,
  invalid_value: 400,
  unsupported_parameter: 400,
  invalid_api_key: 401,
  forbidden: 403,
  guard_blocked: 403,
  model_not_found: 404,
  not_found: 404,
  request_too_large: 413,
  rate_limited: 429,
  budget_exceeded: 429,
  upstream_bad_request: 400,
  upstream_auth: 502,
  upstream_not_found: 404,
  upstream_rate_limited: 429,
  upstream_server: 500,
  upstream_error: 502,
  upstream_timeout: 504,
  overloaded: 529,
  internal: 500,
};

export class GatewayError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(kind: ErrorKind, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.kind = kind;
    this.status = options.status ?? defaultStatus[kind];
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }
}

/** A failure reported by, or while talking to, a provider. */
export class UpstreamError extends GatewayError {
  readonly provider: string;
  readonly deployment: string;
  /** The provider's HTTP status, when it responded with one. */
  readonly upstreamStatus: number | null;
  readonly upstreamRequestId: string | null;
  /** The provider's own error code or type (context_length_exceeded, overloaded_error), when it sent one. */
  readonly upstreamCode: string | null;

  constructor(
    kind: ErrorKind,
    message: string,
    details: {
      provider: string;
      deployment: string;
      upstreamStatus?: number | null;
      upstreamRequestId?: string | null;
      upstreamCode?: string | null;
    } & GatewayErrorOptions,
  ) {
    super(kind, message, details);
    this.name = 'UpstreamError';
    this.provider = details.provider;
    this.deployment = details.deployment;
    this.upstreamStatus = details.upstreamStatus ?? null;
    this.upstreamRequestId = details.upstreamRequestId ?? null;
    this.upstreamCode = details.upstreamCode ?? null;
  }
}

/** Thrown into the pipeline when the client went away; not an error to report. */
export class ClientDisconnected extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'ClientDisconnected';
  }
}

/**
 * Describes why a connection failed: the first error code (ECONNREFUSED, ECONNRESET) along the
 * cause chain, else the innermost message. Node's fetch (undici) reports the socket error two
 * levels down, under a TypeError "fetch failed" that the SDKs wrap once more.
 */
export function connectionFailureReason(error: Error): string {
  let message = error.message;
  let current: unknown = error.cause;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    message = current.message;
    current = current.cause;
  }
  return message;
}

/** Codes of a socket that the other side closed after it was connected, as undici reports them. */
const CLOSED_AFTER_CONNECT = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED']);

/**
 * Describes a failed call by its reason code: a refused or unreachable host could not be
 * connected to, while a socket closed after connecting means the server cut the response short.
 */
export function describeConnectionFailure(deploymentId: string, base: string, reason: string): string {
  if (CLOSED_AFTER_CONNECT.has(reason)) {
    return `deployment '${deploymentId}' at ${base} closed the connection before the response was complete (${reason})`;
  }
  return `could not connect to deployment '${deploymentId}' at ${base}: ${reason}`;
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError;
}

/** Build an UpstreamError from a provider's HTTP status, following one status → kind table. */
export function upstreamErrorFromStatus(
  status: number,
  providerMessage: string,
  details: {
    provider: string;
    deployment: string;
    upstreamRequestId?: string | null;
    upstreamCode?: string | null;
    retryAfter?: string | null;
    cause?: unknown;
  },
): UpstreamError {
  const where = `deployment '${details.deployment}' (${details.provider})`;
  const common = {
    provider: details.provider,
    deployment: details.deployment,
    upstreamStatus: status,
    upstreamRequestId: details.upstreamRequestId ?? null,
    upstreamCode: details.upstreamCode ?? null,
    cause: details.cause,
  };
  if (status === 400 || status === 422) {
    return new UpstreamError('upstream_bad_request', `${where} rejected the request: ${providerMessage}`, common);
  }
  if (status === 401 || status === 403) {
    return new UpstreamError(
      'upstream_auth',
      `${where} rejected the gateway's provider credentials (HTTP ${status}): check the api_key configured for this deployment`,
      common,
    );
  }
  if (status === 404) {
    return new UpstreamError('upstream_not_found', `${where} returned not found: ${providerMessage}`, common);
  }
  if (status === 408) {
    return new UpstreamError('upstream_timeout', `${where} timed out (HTTP 408)`, common);
  }
  if (status === 413) {
    return new UpstreamError('request_too_large', `${where} rejected the request as too large: ${providerMessage}`, {
      ...common,
      status: 413,
    });
  }
  if (status === 429) {
    const headers: Record<string, string> = details.retryAfter ? { 'retry-after': details.retryAfter } : {};
    return new UpstreamError('upstream_rate_limited', `${where} is rate limiting requests: ${providerMessage}`, {
      ...common,
      headers,
    });
  }
  if (status === 529) {
    return new UpstreamError('overloaded', `${where} is overloaded: ${providerMessage}`, common);
  }
  if (status >= 500 && status <= 599) {
    return new UpstreamError('upstream_server', `${where} failed with HTTP ${status}: ${providerMessage}`, {
      ...common,
      status,
    });
  }
  return new UpstreamError('upstream_error', `${where} returned HTTP ${status}: ${providerMessage}`, common);
}
