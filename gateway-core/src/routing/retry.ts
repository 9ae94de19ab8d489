/**
 * Retry rules for calls to a deployment:
 * - retry connection failures, timeouts (including HTTP 408), 409, 429, 5xx and 529;
 * - never retry another 4xx, a context-window or content-policy rejection (a fallback handles
 *   those), a client's disconnect, or an error that is not an UpstreamError;
 * - wait for Retry-After when the provider sent one, else for a capped exponential backoff with
 *   equal jitter.
 * The caller owns the timer and clears it in `finally`; nothing here sleeps.
 */
import { ClientDisconnected, GatewayError, UpstreamError } from '../errors';

/** Cause of a failed call, in the terms that routing and fallbacks act on. */
export type FailureClass =
  | 'context_window'
  | 'content_policy'
  | 'rate_limit'
  | 'timeout'
  | 'connection'
  | 'server'
  | 'overloaded'
  | 'bad_request'
  | 'other';

/**
 * Provider messages and error codes that mean the prompt plus max tokens do not fit the model:
 * OpenAI's code `context_length_exceeded` and "maximum context length", Anthropic's "prompt is
 * too long" and "input length and `max_tokens` exceed context limit", "exceeds the context
 * window" (OpenAI Responses), "exceeds the context length", and Gemini's "input token count ...
 * exceeds the maximum number of tokens".
 */
const CONTEXT_WINDOW_PATTERNS: readonly RegExp[] = [
  /context_length_exceeded/,
  /maximum context length/,
  /prompt is too long/,
  /exceeds? (the )?(model's )?context (limit|window|length)/,
  /input token count.*exceeds the maximum/,
];

/**
 * Provider messages and codes for a request or output blocked by a safety filter: OpenAI's code
 * `content_policy_violation` and "safety system", Azure's `content_filter` and "content
 * management policy", Anthropic's "content filtering policy", "usage policy" violations, and a
 * `refusal` stop reason that the pipeline turned into an error.
 */
const CONTENT_POLICY_PATTERNS: readonly RegExp[] = [
  /content_policy_violation/,
  /content_filter/,
  /content (management|filtering) policy/,
  /safety system/,
  /usage polic(y|ies)/,
  /\brefusal\b/,
];

/**
 * Classifies a failure. Message patterns are checked first, except for errors whose kind already
 * shows that the deployment was busy or slow (rate limited, timed out, overloaded).
 */
export function classifyFailure(error: unknown): FailureClass {
  if (!(error instanceof GatewayError)) return 'other';
  if (!(error instanceof UpstreamError)) {
    return ['invalid_json', 'invalid_value', 'unsupported_parameter', 'request_too_large'].includes(error.kind) ? 'bad_request' : 'other';
  }

  if (error.kind !== 'upstream_rate_limited' && error.kind !== 'upstream_timeout' && error.kind !== 'overloaded') {
    const text = `${error.message} ${upstreamCode(error) ?? ''}`.toLowerCase();
    if (CONTEXT_WINDOW_PATTERNS.some((pattern) => pattern.test(text))) return 'context_window';
    if (CONTENT_POLICY_PATTERNS.some((pattern) => pattern.test(text))) return 'content_policy';
  }

  switch (error.kind) {
    case 'upstream_rate_limited':
      return 'rate_limit';
    case 'upstream_timeout':
      return 'timeout';
    case 'overloaded':
      return 'overloaded';
    case 'upstream_server':
      return 'server';
    case 'upstream_bad_request':
    case 'request_too_large':
      return 'bad_request';
    case 'upstream_error':
      // The providers build upstream_error without a status for refused, reset and cut
      // connections and for bodies that end early or do not parse.
      return error.upstreamStatus === null ? 'connection' : 'other';
    default:
      return 'other';
  }
}

/** Returns true when calling the same deployment again may succeed. A client's abort never retries. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ClientDisconnected || !(error instanceof UpstreamError)) return false;
  switch (classifyFailure(error)) {
    case 'rate_limit':
    case 'timeout':
    case 'connection':
    case 'server':
    case 'overloaded':
      return true;
    default:
      return error.upstreamStatus === 409;
  }
}

/**
 * Returns true when a failure shows the deployment itself is unwell, so it counts toward a cooldown:
 * connection failures, timeouts, 429, 5xx and 529. A rejected request (400, context window,
 * content policy, 409) does not count, because another request may well succeed there.
 */
export function countsTowardCooldown(error: unknown): boolean {
  if (!(error instanceof UpstreamError)) return false;
  const failure = classifyFailure(error);
  return failure === 'rate_limit' || failure === 'timeout' || failure === 'connection' || failure === 'server' || failure === 'overloaded';
}

/** Returns the Retry-After header that the provider sent with this error, or null. */
export function retryAfterOf(error: unknown): string | null {
  if (!(error instanceof GatewayError)) return null;
  return error.headers['retry-after'] ?? null;
}

export interface RetryDelayOptions {
  /** Backoff ceiling of the first retry in milliseconds; doubles per retry. Default 500. */
  baseMs?: number;
  /** Upper bound of the backoff ceiling in milliseconds. Default 8 000. */
  maxMs?: number;
  /** The provider's Retry-After header: delay-seconds or an HTTP date. */
  retryAfter?: string | null;
  /** Longest Retry-After worth waiting for, in milliseconds; default 60 000. */
  maxRetryAfterMs?: number;
  /** Uniform random number in [0, 1); default Math.random. */
  random?: () => number;
  /** Clock in milliseconds since the epoch, for an HTTP-date Retry-After; default Date.now. */
  now?: () => number;
}

/**
 * Milliseconds to wait before retry number `attempt` (1 for the first retry), or null when the
 * provider's Retry-After is longer than `maxRetryAfterMs`, so the caller should move on to the
 * next candidate instead of waiting.
 *
 * A valid Retry-After is used as sent (a date in the past means 0). Otherwise the delay is an
 * equal-jitter backoff: with ceiling = min(maxMs, baseMs * 2^(attempt - 1)), the delay is
 * uniform in [ceiling / 2, ceiling). Equal jitter rather than full jitter keeps at least half
 * the ceiling, so a rate-limited deployment is not called again at once.
 */
export function retryDelayMs(attempt: number, options: RetryDelayOptions = {}): number | null {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`retry attempt must be an integer >= 1, got ${String(attempt)}`);
  }
  const baseMs = options.baseMs ?? 500;
  const maxMs = options.maxMs ?? 8_000;
  if (!(baseMs > 0) || !(maxMs >= baseMs)) {
    throw new RangeError(`retry backoff needs 0 < baseMs <= maxMs, got baseMs ${baseMs} and maxMs ${maxMs}`);
  }

  const requested = parseRetryAfterMs(options.retryAfter ?? null, options.now ?? Date.now);
  if (requested !== null) {
    return requested > (options.maxRetryAfterMs ?? 60_000) ? null : requested;
  }

  // The exponent stops at 30 so the power stays finite. baseMs * 2^30 is far above any useful maxMs.
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  const random = options.random ?? Math.random;
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Converts a Retry-After header, delay-seconds (decimals accepted) or an HTTP date, to
 * milliseconds. Returns null for a missing or unparsable value, so the caller uses backoff.
 */
export function parseRetryAfterMs(value: string | null, now: () => number = Date.now): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // An HTTP date always names a weekday or month; this keeps Date.parse from reading "-1" as a year.
  if (!/[a-z]/i.test(text)) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now());
}

/** Return the provider's own error code or type (context_length_exceeded, invalid_request_error), or null. */
function upstreamCode(error: UpstreamError): string | null {
  return error.upstreamCode;
}
