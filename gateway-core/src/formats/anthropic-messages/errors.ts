import type { ErrorKind, GatewayError } from '../../errors';
import type { AnthropicSseEvent } from './stream';

export interface RenderedAnthropicError {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/**
 * Anthropic's error `type` for each kind. A failure of the gateway's own provider credentials is
 * api_error, not authentication_error, because the client's key was valid and the client must not
 * be asked to change it. An upstream timeout is api_error, because older SDKs lack the newer
 * timeout_error type.
 */
const anthropicErrorType: Record<ErrorKind, string> = {
  invalid_json: 'invalid_request_error',
  invalid_value: 'invalid_request_error',
  unsupported_parameter: 'invalid_request_error',
  invalid_api_key: 'authentication_error',
  forbidden: 'permission_error',
  guard_blocked: 'permission_error',
  model_not_found: 'not_found_error',
  not_found: 'not_found_error',
  request_too_large: 'request_too_large',
  rate_limited: 'rate_limit_error',
  budget_exceeded: 'rate_limit_error',
  upstream_bad_request: 'invalid_request_error',
  upstream_auth: 'api_error',
  upstream_not_found: 'not_found_error',
  upstream_rate_limited: 'rate_limit_error',
  upstream_server: 'api_error',
  upstream_error: 'api_error',
  upstream_timeout: 'api_error',
  overloaded: 'overloaded_error',
  internal: 'api_error',
};

function errorBody(error: GatewayError): Record<string, unknown> {
  return { type: 'error', error: { type: anthropicErrorType[error.kind], message: error.message } };
}

/**
 * Render an error in Anthropic's envelope, with the error's status and headers (Retry-After,
 * x-should-retry). An overloaded upstream is always 529 here, the status Anthropic clients know.
 */
export function renderAnthropicError(error: GatewayError): RenderedAnthropicError {
  const status = error.kind === 'overloaded' ? 529 : error.status;
  return { status, headers: { ...error.headers }, body: errorBody(error) };
}

/** Build the in-band `event: error` sent after a stream was committed; the official SDKs raise on it. */
export function anthropicStreamErrorEvent(error: GatewayError): AnthropicSseEvent {
  return { event: 'error', data: errorBody(error) };
}

/** Build the same event serialized as an SSE frame. */
export function anthropicStreamErrorFrame(error: GatewayError): string {
  return `event: error\ndata: ${JSON.stringify(errorBody(error))}\n\n`;
}

/**
 * Return the HTTP status that matches an Anthropic error `type`, for an error that arrives inside
 * a stream without a status of its own. An unknown type counts as a server error.
 */
export function statusForAnthropicErrorType(type: string | undefined): number {
  switch (type) {
    case 'invalid_request_error':
      return 400;
    case 'authentication_error':
      return 401;
    case 'billing_error':
      return 402;
    case 'permission_error':
      return 403;
    case 'not_found_error':
      return 404;
    case 'request_too_large':
      return 413;
    case 'rate_limit_error':
      return 429;
    case 'timeout_error':
      return 504;
    case 'overloaded_error':
      return 529;
    default:
      return 500;
  }
}
