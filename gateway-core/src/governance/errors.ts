/**
 * Errors of the governance layer. They are GatewayErrors, so the surfaces render them without
 * knowing about budgets.
 */
import { GatewayError } from '../errors';
import { describeScope, type ScopeRef } from './scopes';

export interface BudgetBreach {
  budgetId: string;
  scope: ScopeRef;
  /** "daily", "weekly", "monthly" or "fixed". */
  periodKind: string;
  /** The zone calendar periods follow; null for a fixed window. */
  timeZone: string | null;
  limitUsd: number;
  /** Settled spend in the current period. */
  spentUsd: number;
  /** Spend reserved by requests still in progress. */
  reservedUsd: number;
  /** The request's worst-case cost, or null when its price is unknown. */
  requestUsd: number | null;
  resetAt: Date;
  /** "limit": the request does not fit. "price_unknown": its deployment has no price, so it cannot be checked. */
  reason: 'limit' | 'price_unknown';
}

/**
 * A budget with the block action does not admit the request: HTTP 429 with x-should-retry:
 * false, because retrying cannot succeed before the reset.
 */
export class BudgetExceededError extends GatewayError {
  readonly code = 'budget_exceeded';
  readonly breach: BudgetBreach;

  constructor(breach: BudgetBreach) {
    super('budget_exceeded', budgetMessage(breach), { status: 429, headers: { 'x-should-retry': 'false' } });
    this.name = 'BudgetExceededError';
    this.breach = breach;
  }
}

/** A request over a key's, user's or team's requests or tokens per minute: HTTP 429 with Retry-After. */
export class RateLimitExceededError extends GatewayError {
  readonly scope: ScopeRef;
  readonly metric: 'rpm' | 'tpm';
  readonly limit: number;
  readonly retryAfterSeconds: number;

  constructor(details: { scope: ScopeRef; metric: 'rpm' | 'tpm'; limit: number; used: number; retryAfterSeconds: number }) {
    const unit = details.metric === 'rpm' ? 'requests' : 'tokens';
    super(
      'rate_limited',
      `Rate limit reached for ${describeScope(details.scope)}: ${details.used} ${unit} in the last minute, and the limit (${details.metric}_limit) is ${details.limit}. Retry after ${details.retryAfterSeconds} s.`,
      { status: 429, headers: { 'retry-after': String(details.retryAfterSeconds) } },
    );
    this.name = 'RateLimitExceededError';
    this.scope = details.scope;
    this.metric = details.metric;
    this.limit = details.limit;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/**
 * The spend ledger could not be read or written, so no request that costs money can be checked
 * against its budgets. Such requests fail closed with HTTP 503.
 */
export class LedgerUnavailableError extends GatewayError {
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      'internal',
      `The spend ledger in the database cannot be read or written (${reason}), so requests that cost money are refused until it can be. Check that airlock.db in the data folder is readable and writable and not locked by another program. Requests to free local models still work.`,
      { status: 503, cause },
    );
    this.name = 'LedgerUnavailableError';
  }
}

/** Returns an invalid_value error for `field`. Write `message` so that it names what the field accepts. */
export function invalidField(field: string, message: string): GatewayError {
  return new GatewayError('invalid_value', message, { param: field });
}

export function notFound(entity: string, id: string, hint: string): GatewayError {
  return new GatewayError('not_found', `${entity} '${id}' does not exist. ${hint}`);
}

/** Returns the error for an API change to a row that the config file defines, which the next start would undo. */
export function definedInConfig(entity: string, id: string, configPath: string): GatewayError {
  return new GatewayError('forbidden', `${entity} '${id}' is defined in the config file (${configPath}), so change or remove it there.`);
}

/** Formats USD for messages: cents above $1, more digits for small amounts. */
export function formatUsd(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude >= 1 || magnitude === 0) return `$${value.toFixed(2)}`;
  if (magnitude >= 0.01) return `$${value.toFixed(4)}`;
  return `$${value.toPrecision(2)}`;
}

/** Formats an instant as local wall-clock time in `timeZone`, followed by the UTC instant. */
export function formatReset(resetAt: Date, timeZone: string | null): string {
  const utc = resetAt.toISOString();
  if (timeZone === null) return utc;
  const local = new Intl.DateTimeFormat('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'short' }).format(resetAt);
  return `${local} ${timeZone} (${utc})`;
}

function budgetMessage(breach: BudgetBreach): string {
  const scope = describeScope(breach.scope);
  const reset = formatReset(breach.resetAt, breach.timeZone);
  const budget = `the ${breach.periodKind} budget '${breach.budgetId}' of ${formatUsd(breach.limitUsd)}`;
  if (breach.reason === 'price_unknown') {
    return `Budget check failed for ${scope}: ${budget} applies, but the deployment chosen for this request has no price, so its cost cannot be checked. Set input_cost_per_token and output_cost_per_token for it in model_list.`;
  }
  const reserved = breach.reservedUsd > 0 ? ` and ${formatUsd(breach.reservedUsd)} is reserved by requests in progress` : '';
  const message = `Budget exceeded for ${scope}: ${budget} has ${formatUsd(breach.spentUsd)} spent${reserved}, and this request could cost up to ${formatUsd(breach.requestUsd ?? 0)}. The budget resets at ${reset}.`;
  // With room left, a smaller worst case may still fit: it counts the whole output limit.
  const roomLeft = breach.limitUsd - breach.spentUsd - breach.reservedUsd;
  return roomLeft > 0 ? `${message} Setting a lower max_tokens reserves less and may fit the ${formatUsd(roomLeft)} left.` : message;
}
