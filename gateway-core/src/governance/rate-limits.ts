/**
 * Requests and tokens per minute for each key, user and team (LiteLLM's rpm_limit and
 * tpm_limit). Each window is the last 60 seconds, kept as one bucket per second. A request is
 * admitted while every window it counts toward is under its limit, as LiteLLM does, so the
 * tokens of the last request admitted can take a window past tpm_limit.
 *
 * Tokens count in the second a request was admitted: its estimated prompt tokens at once,
 * corrected to the reported total when it completes. The windows live in memory, so a restart
 * empties them.
 */
import type { RateLimitPair, ResolvedPrincipal } from './key-directory';
import { RateLimitExceededError } from './errors';
import { scopeKey, type ScopeRef } from './scopes';
import { MinuteWindow, WINDOW_SECONDS } from '../usage/minute-window';

/** Windows kept before idle ones are dropped. */
const MAX_WINDOWS = 10_000;

/** One key's, user's or team's last minute, which can say when it falls below a limit. */
class Window extends MinuteWindow {
  /** Seconds until the window's `metric` falls below `limit`: when enough of its oldest buckets have expired. */
  secondsUntilBelow(metric: 'rpm' | 'tpm', limit: number): number {
    const buckets = metric === 'rpm' ? this.requestBuckets : this.tokenBuckets;
    let remaining = metric === 'rpm' ? this.requests : this.tokens;
    for (let age = WINDOW_SECONDS - 1; age >= 0; age--) {
      remaining -= buckets[(this.second - age + WINDOW_SECONDS) % WINDOW_SECONDS]!;
      // The bucket `age` seconds old expires in WINDOW_SECONDS - age seconds.
      if (remaining < limit) return Math.max(1, WINDOW_SECONDS - age);
    }
    return WINDOW_SECONDS;
  }
}

/** The counts of an admitted request, kept so that completion can correct its tokens. */
export interface RateLease {
  readonly windows: readonly Window[];
  readonly second: number;
  readonly estimatedTokens: number;
  completed: boolean;
}

export type RateDecision = { kind: 'allowed'; lease: RateLease } | { kind: 'limited'; error: RateLimitExceededError };

export interface RateLimiterOptions {
  /** Clock in milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

export class RateLimiter {
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();

  constructor(options: RateLimiterOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Admits a request when the key, user and team are all under their limits, and counts it with
   * `estimatedTokens` (prompt tokens). The limits come from KeyDirectory.resolve.
   */
  acquire(principal: ResolvedPrincipal, estimatedTokens: number): RateDecision {
    const second = Math.floor(this.now() / 1000);
    const limited: Array<{ scope: ScopeRef; limits: RateLimitPair }> = [];
    const { key, user, team } = principal.limits;
    if (hasLimit(key)) limited.push({ scope: { kind: 'key', id: principal.keyId }, limits: key });
    if (principal.userId !== null && hasLimit(user)) limited.push({ scope: { kind: 'user', id: principal.userId }, limits: user });
    if (principal.teamId !== null && hasLimit(team)) limited.push({ scope: { kind: 'team', id: principal.teamId }, limits: team });

    const windows: Window[] = [];
    for (const { scope, limits } of limited) {
      const window = this.window(scope, second);
      const over = overLimit(window, limits);
      if (over !== null) {
        const used = over === 'rpm' ? window.requests : window.tokens;
        const limit = over === 'rpm' ? limits.rpm! : limits.tpm!;
        const retryAfterSeconds = window.secondsUntilBelow(over, limit);
        return { kind: 'limited', error: new RateLimitExceededError({ scope, metric: over, limit, used: Math.round(used), retryAfterSeconds }) };
      }
      windows.push(window);
    }

    const tokens = Math.max(0, Math.round(estimatedTokens));
    for (const window of windows) window.add(second, 1, tokens);
    return { kind: 'allowed', lease: { windows, second, estimatedTokens: tokens, completed: false } };
  }

  /**
   * Replaces a request's estimated tokens with `totalTokens` (prompt and output, as reported).
   * Null keeps the estimate. A request that outlived its window counts its tokens now instead.
   */
  complete(lease: RateLease, totalTokens: number | null): void {
    if (lease.completed) return;
    lease.completed = true;
    if (totalTokens === null || lease.windows.length === 0) return;

    const tokens = Math.max(0, Math.round(totalTokens));
    const second = Math.floor(this.now() / 1000);
    const inWindow = lease.second > second - WINDOW_SECONDS;
    const delta = inWindow ? tokens - lease.estimatedTokens : tokens;
    for (const window of lease.windows) {
      window.advance(second);
      window.add(inWindow ? lease.second : second, 0, delta);
    }
  }

  /** Returns the requests and tokens of the last minute for a scope, for the UI. */
  usage(scope: ScopeRef): { requests: number; tokens: number } {
    const window = this.windows.get(scopeKey(scope.kind, scope.id));
    if (!window) return { requests: 0, tokens: 0 };
    window.advance(Math.floor(this.now() / 1000));
    return { requests: window.requests, tokens: window.tokens };
  }

  private window(scope: ScopeRef, second: number): Window {
    const key = scopeKey(scope.kind, scope.id);
    let window = this.windows.get(key);
    if (!window) {
      if (this.windows.size >= MAX_WINDOWS) this.dropIdle(second);
      window = new Window();
      window.second = second;
      this.windows.set(key, window);
    }
    window.advance(second);
    return window;
  }

  private dropIdle(second: number): void {
    for (const [key, window] of this.windows) {
      if (second - window.second >= WINDOW_SECONDS) this.windows.delete(key);
    }
  }
}

function hasLimit(limits: RateLimitPair): boolean {
  return limits.rpm !== null || limits.tpm !== null;
}

function overLimit(window: Window, limits: RateLimitPair): 'rpm' | 'tpm' | null {
  if (limits.rpm !== null && window.requests >= limits.rpm) return 'rpm';
  if (limits.tpm !== null && window.tokens >= limits.tpm) return 'tpm';
  return null;
}
