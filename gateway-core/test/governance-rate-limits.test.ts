import { describe, expect, it } from 'vitest';
import type { RateLimitPair, ResolvedPrincipal } from '../src/governance/key-directory';
import { RateLimitExceededError } from '../src/governance/errors';
import { RateLimiter, type RateDecision, type RateLease } from '../src/governance/rate-limits';
import { createClock } from './helpers/governance';

const none: RateLimitPair = { rpm: null, tpm: null };

function principal(limits: Partial<ResolvedPrincipal['limits']>, keyId = 'key_a', userId: string | null = 'alice', teamId: string | null = 'backend'): ResolvedPrincipal {
  return { keyId, userId, teamId, limits: { key: none, user: none, team: none, ...limits } };
}

function allowed(decision: RateDecision): RateLease {
  if (decision.kind !== 'allowed') throw new Error(`expected the request to be allowed: ${decision.error.message}`);
  return decision.lease;
}

function limited(decision: RateDecision): RateLimitExceededError {
  if (decision.kind !== 'limited') throw new Error('expected the request to be limited');
  return decision.error;
}

function setup(): { clock: ReturnType<typeof createClock>; limiter: RateLimiter } {
  const clock = createClock('2026-11-10T12:00:00.000Z');
  return { clock, limiter: new RateLimiter({ now: () => clock.now }) };
}

describe('rate limits per minute', () => {
  it('limits requests per key', () => {
    const { limiter } = setup();
    const caller = principal({ key: { rpm: 3, tpm: null } });
    for (let i = 0; i < 3; i++) allowed(limiter.acquire(caller, 10));
    const error = limited(limiter.acquire(caller, 10));
    expect(error).toBeInstanceOf(RateLimitExceededError);
    expect(error.status).toBe(429);
    expect(error.kind).toBe('rate_limited');
    expect(error.scope).toEqual({ kind: 'key', id: 'key_a' });
    expect(error.metric).toBe('rpm');
    expect(error.message).toBe("Rate limit reached for key 'key_a': 3 requests in the last minute, and the limit (rpm_limit) is 3. Retry after 60 s.");
    expect(error.headers['retry-after']).toBe('60');
  });

  it('allows again when the window moves on', () => {
    const { clock, limiter } = setup();
    const caller = principal({ key: { rpm: 2, tpm: null } });
    allowed(limiter.acquire(caller, 0));
    clock.advance(30_000);
    allowed(limiter.acquire(caller, 0));
    expect(limited(limiter.acquire(caller, 0)).retryAfterSeconds).toBe(30);

    clock.advance(29_000);
    expect(limited(limiter.acquire(caller, 0)).retryAfterSeconds).toBe(1);
    clock.advance(1_000);
    allowed(limiter.acquire(caller, 0));
  });

  it('does not count a limited request', () => {
    const { clock, limiter } = setup();
    const caller = principal({ key: { rpm: 1, tpm: null } });
    allowed(limiter.acquire(caller, 0));
    for (let i = 0; i < 5; i++) limited(limiter.acquire(caller, 0));
    clock.advance(60_000);
    allowed(limiter.acquire(caller, 0));
    expect(limiter.usage({ kind: 'key', id: 'key_a' }).requests).toBe(1);
  });

  it('limits tokens per user', () => {
    const { limiter } = setup();
    const caller = principal({ user: { rpm: null, tpm: 1000 } });
    allowed(limiter.acquire(caller, 600));
    // Under the limit when it arrives, so it is admitted and takes the window past it.
    allowed(limiter.acquire(caller, 600));
    const error = limited(limiter.acquire(caller, 10));
    expect(error.scope).toEqual({ kind: 'user', id: 'alice' });
    expect(error.metric).toBe('tpm');
    expect(error.message).toContain('1200 tokens in the last minute');
  });

  it('corrects tokens to the reported total', () => {
    const { limiter } = setup();
    const caller = principal({ user: { rpm: null, tpm: 1000 } });
    const lease = allowed(limiter.acquire(caller, 900));
    limiter.complete(lease, 300);
    expect(limiter.usage({ kind: 'user', id: 'alice' }).tokens).toBe(300);
    allowed(limiter.acquire(caller, 100));
  });

  it('completes a lease only once', () => {
    const { limiter } = setup();
    const caller = principal({ user: { rpm: null, tpm: 1000 } });
    const lease = allowed(limiter.acquire(caller, 100));
    limiter.complete(lease, 400);
    limiter.complete(lease, 900);
    expect(limiter.usage({ kind: 'user', id: 'alice' }).tokens).toBe(400);
  });

  it('counts a long request at completion', () => {
    const { clock, limiter } = setup();
    const caller = principal({ user: { rpm: null, tpm: 1000 } });
    const lease = allowed(limiter.acquire(caller, 100));
    clock.advance(90_000);
    limiter.complete(lease, 1200);
    expect(limiter.usage({ kind: 'user', id: 'alice' }).tokens).toBe(1200);
    expect(limited(limiter.acquire(caller, 0)).retryAfterSeconds).toBe(60);
  });

  it('shares a team limit between its keys', () => {
    const { limiter } = setup();
    const team = { rpm: 2, tpm: null };
    allowed(limiter.acquire(principal({ team }, 'key_a', 'alice'), 0));
    allowed(limiter.acquire(principal({ team }, 'key_b', 'bob'), 0));
    const error = limited(limiter.acquire(principal({ team }, 'key_c', 'carol'), 0));
    expect(error.scope).toEqual({ kind: 'team', id: 'backend' });
  });

  it('counts a request toward every limited scope', () => {
    const { limiter } = setup();
    const caller = principal({ key: { rpm: 10, tpm: null }, user: { rpm: 10, tpm: null }, team: { rpm: 10, tpm: null } });
    allowed(limiter.acquire(caller, 5));
    for (const scope of [{ kind: 'key', id: 'key_a' }, { kind: 'user', id: 'alice' }, { kind: 'team', id: 'backend' }] as const) {
      expect(limiter.usage(scope)).toEqual({ requests: 1, tokens: 5 });
    }
  });

  it('waits for the oldest requests to leave the window', () => {
    const { clock, limiter } = setup();
    const caller = principal({ key: { rpm: 3, tpm: null } });
    allowed(limiter.acquire(caller, 0));
    clock.advance(10_000);
    allowed(limiter.acquire(caller, 0));
    clock.advance(10_000);
    allowed(limiter.acquire(caller, 0));
    // 20 s after the first request, one more frees a slot when the first leaves in 40 s.
    expect(limited(limiter.acquire(caller, 0)).retryAfterSeconds).toBe(40);
  });

  it('ignores principals without limits', () => {
    const { limiter } = setup();
    const caller = principal({});
    for (let i = 0; i < 1000; i++) allowed(limiter.acquire(caller, 1_000_000));
    expect(limiter.usage({ kind: 'key', id: 'key_a' })).toEqual({ requests: 0, tokens: 0 });
  });
});
