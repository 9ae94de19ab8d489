import type { ErrorKind, GatewayError } from '../../errors';

export interface RenderedError {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** OpenAI `type` and `code` for each kind; the status comes from the error, except where noted. */
const openAIShape: Record<ErrorKind, { type: string; code: string | null }> = {
  invalid_json: { type: 'invalid_request_error', code: null },
  invalid_value: { type: 'invalid_request_error', code: 'invalid_value' },
  unsupported_parameter: { type: 'invalid_request_error', code: 'unsupported_parameter' },
  invalid_api_key: { type: 'invalid_request_error', code: 'invalid_api_key' },
  forbidden: { type: 'invalid_request_error', code: 'forbidden' },
  guard_blocked: { type: 'invalid_request_error', code: 'guard_blocked' },
  model_not_found: { type: 'invalid_request_error', code: 'model_not_found' },
  not_found: { type: 'invalid_request_error', code: 'not_found' },
  request_too_large: { type: 'invalid_request_error', code: 'request_too_large' },
  rate_limited: { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' },
  budget_exceeded: { type: 'budget_exceeded', code: 'budget_exceeded' },
  upstream_bad_request: { type: 'invalid_request_error', code: 'upstream_bad_request' },
  upstream_auth: { type: 'api_error', code: 'upstream_auth_failed' },
  upstream_not_found: { type: 'invalid_request_error', code: 'upstream_not_found' },
  upstream_rate_limited: { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' },
  upstream_server: { type: 'api_error', code: 'upstream_error' },
  upstream_error: { type: 'api_error', code: 'upstream_error' },
  upstream_timeout: { type: 'api_error', code: 'upstream_timeout' },
  overloaded: { type: 'api_error', code: 'overloaded' },
  internal: { type: 'api_error', code: 'internal_error' },
};

function errorObject(error: GatewayError): Record<string, unknown> {
  const shape = openAIShape[error.kind];
  return { message: error.message, type: shape.type, param: error.param, code: shape.code };
}

/** Render an error in OpenAI's envelope. An overloaded upstream is 503 here (OpenAI has no 529). */
export function renderOpenAIError(error: GatewayError): RenderedError {
  const status = error.kind === 'overloaded' ? 503 : error.status;
  return { status, headers: { ...error.headers }, body: { error: errorObject(error) } };
}

/** The in-band error event after a stream was committed; the official SDKs raise on it. */
export function openAIStreamErrorFrame(error: GatewayError): string {
  return `data: ${JSON.stringify({ error: errorObject(error) })}\n\n`;
}
