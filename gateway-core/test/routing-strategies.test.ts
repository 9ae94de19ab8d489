import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { ClientDisconnected, GatewayError, UpstreamError, upstreamErrorFromStatus } from '../src/errors';
import { resolveModelInfo, type DestinationClass } from '../src/models/table';
import { mapOpenAIError } from '../src/providers/openai/errors';
import type { Deployment } from '../src/providers/types';
import { DeploymentHealth } from '../src/routing/health';
import { classifyFailure, countsTowardCooldown, isRetryable, parseRetryAfterMs, retryAfterOf, retryDelayMs } from '../src/routing/retry';
import { orderCandidates, parseRoutingStrategy } from '../src/routing/strategies';
import type { DeploymentLimits } from '../src/routing/types';

const START = Date.UTC(2025, 0, 15, 12, 0, 0);

/** Creates a clock that the test moves by hand. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let time = START;
  return { now: () => time, advance: (ms) => (time += ms) };
}

/** Mulberry32: a small seeded generator of uniform numbers in [0, 1). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function deployment(id: string, model: string, destination: DestinationClass = 'cloud'): Deployment {
  return {
    id,
    alias: id.slice(0, id.indexOf('#')),
    kind: destination === 'local' ? 'ollama' : 'openai',
    providerLabel: destination === 'local' ? 'ollama_chat' : 'openai',
    model,
    apiBase: destination === 'local' ? 'http://127.0.0.1:11434' : null,
    apiKey: null,
    timeoutMs: 30_000,
    destination,
    modelInfo: resolveModelInfo(model, destination),
  };
}

function limitsFrom(table: Record<string, Partial<DeploymentLimits>>): (d: Deployment) => DeploymentLimits {
  return (d) => ({ weight: 1, rpm: null, tpm: null, ...table[d.id] });
}

const noLimits = limitsFrom({});

function ids(list: readonly Deployment[]): string[] {
  return list.map((d) => d.id);
}

/** Record `count` successful calls of `latencyMs` each. */
function warmUp(health: DeploymentHealth, id: string, latencyMs: number, count = 5, ttftMs?: number): void {
  for (let i = 0; i < count; i++) {
    health.begin(id);
    health.succeed(id, { latencyMs, ttftMs, tokens: 10 });
  }
}

const where = { provider: 'openai', deployment: 'gpt-4o#0' };
const connectionRefused = new UpstreamError('upstream_error', "could not connect to deployment 'gpt-4o#0' at http://127.0.0.1:9: ECONNREFUSED", where);
const timedOut = new UpstreamError('upstream_timeout', "deployment 'gpt-4o#0' did not finish within 30 s", where);
const badRequest = upstreamErrorFromStatus(400, "Invalid value for 'temperature'", where);

describe('DeploymentHealth cooldown', () => {
  it('enters and leaves cooldown', () => {
    const clock = fakeClock();
    const health = new DeploymentHealth({ allowedFails: 3, failureWindowMs: 60_000, cooldownMs: 30_000, now: clock.now });

    health.fail('a#0', 'upstream_server', { countsTowardCooldown: true });
    clock.advance(1_000);
    health.fail('a#0', 'upstream_server', { countsTowardCooldown: true });
    expect(health.isCoolingDown('a#0')).toBe(false);
    expect(health.failuresInWindow('a#0')).toBe(2);

    clock.advance(1_000);
    health.fail('a#0', 'upstream_timeout', { countsTowardCooldown: true });
    expect(health.isCoolingDown('a#0')).toBe(true);
    expect(health.cooldownRemainingMs('a#0')).toBe(30_000);

    clock.advance(29_999);
    expect(health.isCoolingDown('a#0')).toBe(true);
    clock.advance(1);
    expect(health.isCoolingDown('a#0')).toBe(false);
    expect(health.cooldownRemainingMs('a#0')).toBe(0);
  });

  it('gives a fresh allowance after the cooldown', () => {
    const clock = fakeClock();
    const health = new DeploymentHealth({ allowedFails: 2, cooldownMs: 10_000, now: clock.now });
    health.fail('a#0', 'overloaded', { countsTowardCooldown: true });
    health.fail('a#0', 'overloaded', { countsTowardCooldown: true });
    clock.advance(10_000);

    health.fail('a#0', 'overloaded', { countsTowardCooldown: true });
    expect(health.isCoolingDown('a#0')).toBe(false);
    expect(health.failuresInWindow('a#0')).toBe(1);
  });

  it('does not count failures outside the window', () => {
    const clock = fakeClock();
    const health = new DeploymentHealth({ allowedFails: 3, failureWindowMs: 60_000, now: clock.now });
    health.fail('a#0', 'upstream_server', { countsTowardCooldown: true });
    clock.advance(30_000);
    health.fail('a#0', 'upstream_server', { countsTowardCooldown: true });
    clock.advance(30_001);
    expect(health.failuresInWindow('a#0')).toBe(1);

    health.fail('a#0', 'upstream_server', { countsTowardCooldown: true });
    expect(health.isCoolingDown('a#0')).toBe(false);
    expect(health.failuresInWindow('a#0')).toBe(2);
  });

  it('does not count 400 rejections', () => {
    const clock = fakeClock();
    const health = new DeploymentHealth({ allowedFails: 2, now: clock.now });
    for (let i = 0; i < 5; i++) health.fail('a#0', badRequest.kind, { countsTowardCooldown: countsTowardCooldown(badRequest) });

    expect(health.isCoolingDown('a#0')).toBe(false);
    expect(health.failuresInWindow('a#0')).toBe(0);
    expect(health.snapshot()[0]?.lastErrorKind).toBe('upstream_bad_request');
  });

  it('clears the failure count on success', () => {
    const clock = fakeClock();
    const health = new DeploymentHealth({ allowedFails: 3, now: clock.now });
    health.fail('a#0', 'upstream_server', { countsTowardCooldown: true });
    health.fail('a#0', 'upstream_server', { countsTowardCooldown: true });
    health.begin('a#0');
    health.succeed('a#0', { latencyMs: 100, tokens: 10 });
    health.fail('a#0', 'upstream_server', { countsTowardCooldown: true });

    expect(health.failuresInWindow('a#0')).toBe(1);
    expect(health.isCoolingDown('a#0')).toBe(false);
  });

  it('ends a cooldown early on success', () => {
    const clock = fakeClock();
    const health = new DeploymentHealth({ allowedFails: 1, now: clock.now });
    health.fail('a#0', 'upstream_rate_limited', { countsTowardCooldown: true });
    expect(health.isCoolingDown('a#0')).toBe(true);
    health.begin('a#0');
    health.succeed('a#0', { latencyMs: 100, tokens: 10 });
    expect(health.isCoolingDown('a#0')).toBe(false);
  });

  it('restarts the cooldown on a failure while cooling down', () => {
    const clock = fakeClock();
    const health = new DeploymentHealth({ allowedFails: 1, cooldownMs: 30_000, now: clock.now });
    health.fail('a#0', 'upstream_error', { countsTowardCooldown: true });
    clock.advance(20_000);
    health.fail('a#0', 'upstream_error', { countsTowardCooldown: true });
    expect(health.cooldownRemainingMs('a#0')).toBe(30_000);
  });

  it('never cools down with cooldownMs 0', () => {
    const health = new DeploymentHealth({ allowedFails: 1, cooldownMs: 0, now: fakeClock().now });
    health.fail('a#0', 'upstream_server', { countsTowardCooldown: true });
    expect(health.isCoolingDown('a#0')).toBe(false);
  });

  it('rejects invalid options', () => {
    expect(() => new DeploymentHealth({ allowedFails: 0 })).toThrow(/allowedFails must be an integer >= 1, got 0/);
    expect(() => new DeploymentHealth({ allowedFails: 1.5 })).toThrow(/allowedFails/);
    expect(() => new DeploymentHealth({ failureWindowMs: 0 })).toThrow(/failureWindowMs/);
    expect(() => new DeploymentHealth({ cooldownMs: -1 })).toThrow(/cooldownMs/);
    expect(() => new DeploymentHealth({ latencySmoothing: 0 })).toThrow(/latencySmoothing/);
  });
});

describe('DeploymentHealth usage and latency', () => {
  it('counts requests and tokens over a sliding minute', () => {
    const clock = fakeClock();
    const health = new DeploymentHealth({ now: clock.now });
    health.begin('a#0');
    health.succeed('a#0', { latencyMs: 100, tokens: 500 });
    clock.advance(30_000);
    health.begin('a#0');
    health.begin('a#0');
    health.succeed('a#0', { latencyMs: 100, tokens: 200 });
    expect(health.requestsLastMinute('a#0')).toBe(3);
    expect(health.tokensLastMinute('a#0')).toBe(700);

    clock.advance(30_000);
    expect(health.requestsLastMinute('a#0')).toBe(2);
    expect(health.tokensLastMinute('a#0')).toBe(200);

    clock.advance(30_000);
    expect(health.requestsLastMinute('a#0')).toBe(0);
    expect(health.tokensLastMinute('a#0')).toBe(0);
  });

  it('empties the window after a long idle gap', () => {
    const clock = fakeClock();
    const health = new DeploymentHealth({ now: clock.now });
    health.begin('a#0');
    health.succeed('a#0', { latencyMs: 100, tokens: 50 });
    clock.advance(3_600_000);
    health.begin('a#0');
    expect(health.requestsLastMinute('a#0')).toBe(1);
    expect(health.tokensLastMinute('a#0')).toBe(0);
  });

  it('counts tokens of a failed call', () => {
    const health = new DeploymentHealth({ now: fakeClock().now });
    health.begin('a#0');
    health.fail('a#0', 'upstream_error', { countsTowardCooldown: true, tokens: 300 });
    expect(health.tokensLastMinute('a#0')).toBe(300);
    expect(health.requestsLastMinute('a#0')).toBe(1);
  });

  it('tracks calls in flight and never goes below zero', () => {
    const health = new DeploymentHealth({ now: fakeClock().now });
    health.begin('a#0');
    health.begin('a#0');
    health.begin('a#0');
    expect(health.inFlight('a#0')).toBe(3);
    health.succeed('a#0', { latencyMs: 1, tokens: 1 });
    health.fail('a#0', 'upstream_server', { countsTowardCooldown: true });
    health.cancel('a#0');
    health.cancel('a#0');
    expect(health.inFlight('a#0')).toBe(0);
  });

  it('averages latency with the smoothing factor', () => {
    const health = new DeploymentHealth({ latencySmoothing: 0.3, now: fakeClock().now });
    health.begin('a#0');
    health.succeed('a#0', { latencyMs: 1_000, ttftMs: 200, tokens: 1 });
    expect(health.latencyMs('a#0')).toBe(1_000);
    expect(health.ttftMs('a#0')).toBe(200);

    health.begin('a#0');
    health.succeed('a#0', { latencyMs: 2_000, tokens: 1 });
    expect(health.latencyMs('a#0')).toBeCloseTo(1_300, 6);
    expect(health.ttftMs('a#0')).toBe(200);
  });

  it('returns a JSON-friendly snapshot', () => {
    const clock = fakeClock();
    const health = new DeploymentHealth({ allowedFails: 1, cooldownMs: 30_000, now: clock.now });
    health.begin('a#0');
    health.succeed('a#0', { latencyMs: 420.04, ttftMs: 95, tokens: 1_200 });
    health.begin('a#0');
    health.begin('b#1');
    health.fail('b#1', 'overloaded', { countsTowardCooldown: true });
    clock.advance(5_000);

    const views = health.snapshot(['a#0', 'b#1', 'c#2']);
    expect(JSON.parse(JSON.stringify(views))).toEqual(views);
    expect(views).toEqual([
      {
        id: 'a#0',
        state: 'healthy',
        cooldownRemainingMs: 0,
        failuresInWindow: 0,
        inFlight: 1,
        rpmUsed: 2,
        tpmUsed: 1_200,
        latencyMs: 420,
        ttftMs: 95,
        lastErrorKind: null,
      },
      {
        id: 'b#1',
        state: 'cooling_down',
        cooldownRemainingMs: 25_000,
        failuresInWindow: 0,
        inFlight: 0,
        rpmUsed: 1,
        tpmUsed: 0,
        latencyMs: null,
        ttftMs: null,
        lastErrorKind: 'overloaded',
      },
      {
        id: 'c#2',
        state: 'healthy',
        cooldownRemainingMs: 0,
        failuresInWindow: 0,
        inFlight: 0,
        rpmUsed: 0,
        tpmUsed: 0,
        latencyMs: null,
        ttftMs: null,
        lastErrorKind: null,
      },
    ]);
  });
});

describe('simple-shuffle', () => {
  it('leads with each deployment in proportion to weight', () => {
    const deployments = [deployment('gpt-4o#0', 'gpt-4o'), deployment('gpt-4o#1', 'gpt-4o'), deployment('gpt-4o#2', 'gpt-4o')];
    const limits = limitsFrom({ 'gpt-4o#0': { weight: 1 }, 'gpt-4o#1': { weight: 2 }, 'gpt-4o#2': { weight: 7 } });
    const health = new DeploymentHealth({ now: fakeClock().now });
    const random = seededRandom(42);
    const draws = 20_000;
    const firsts: Record<string, number> = { 'gpt-4o#0': 0, 'gpt-4o#1': 0, 'gpt-4o#2': 0 };

    for (let i = 0; i < draws; i++) {
      const { ordered } = orderCandidates(deployments, 'simple-shuffle', health, limits, { estimatedTokens: 100, random });
      firsts[ordered[0]!.id]! += 1;
    }

    expect(Math.abs(firsts['gpt-4o#0']! / draws - 0.1)).toBeLessThan(0.015);
    expect(Math.abs(firsts['gpt-4o#1']! / draws - 0.2)).toBeLessThan(0.015);
    expect(Math.abs(firsts['gpt-4o#2']! / draws - 0.7)).toBeLessThan(0.015);
  });

  it('defaults to equal weights', () => {
    const deployments = [deployment('m#0', 'gpt-4o'), deployment('m#1', 'gpt-4o')];
    const health = new DeploymentHealth({ now: fakeClock().now });
    const random = seededRandom(7);
    let firstIsZero = 0;
    for (let i = 0; i < 10_000; i++) {
      if (orderCandidates(deployments, 'simple-shuffle', health, noLimits, { estimatedTokens: 1, random }).ordered[0]!.id === 'm#0') firstIsZero++;
    }
    expect(Math.abs(firstIsZero / 10_000 - 0.5)).toBeLessThan(0.02);
  });

  it('puts a cooling deployment last whatever its weight', () => {
    const deployments = [deployment('m#0', 'gpt-4o'), deployment('m#1', 'gpt-4o'), deployment('m#2', 'gpt-4o')];
    const limits = limitsFrom({ 'm#0': { weight: 100 } });
    const health = new DeploymentHealth({ allowedFails: 1, now: fakeClock().now });
    health.fail('m#0', 'upstream_server', { countsTowardCooldown: true });
    const random = seededRandom(3);
    for (let i = 0; i < 200; i++) {
      const { ordered, reason } = orderCandidates(deployments, 'simple-shuffle', health, limits, { estimatedTokens: 1, random });
      expect(ordered[2]!.id).toBe('m#0');
      expect(reason).toMatch(/^simple-shuffle: m#[12] drawn with weight 1 of 2 \(1 cooling down tried last\)$/);
    }
  });

  it('leaves the input array unchanged', () => {
    const deployments = [deployment('m#0', 'gpt-4o'), deployment('m#1', 'gpt-4o'), deployment('m#2', 'gpt-4o')];
    const health = new DeploymentHealth({ now: fakeClock().now });
    orderCandidates(deployments, 'simple-shuffle', health, noLimits, { estimatedTokens: 1, random: () => 0.99 });
    expect(ids(deployments)).toEqual(['m#0', 'm#1', 'm#2']);
  });
});

describe('least-busy', () => {
  it('orders by calls in flight', () => {
    const deployments = [deployment('m#0', 'gpt-4o'), deployment('m#1', 'gpt-4o'), deployment('m#2', 'gpt-4o')];
    const health = new DeploymentHealth({ now: fakeClock().now });
    health.begin('m#0');
    health.begin('m#0');
    health.begin('m#2');

    const { ordered, reason } = orderCandidates(deployments, 'least-busy', health, noLimits, { estimatedTokens: 1 });
    expect(ids(ordered)).toEqual(['m#1', 'm#2', 'm#0']);
    expect(reason).toBe('least-busy: m#1 0 in flight vs 1 in flight');
  });

  it('breaks ties by requests in the last minute', () => {
    const deployments = [deployment('m#0', 'gpt-4o'), deployment('m#1', 'gpt-4o')];
    const health = new DeploymentHealth({ now: fakeClock().now });
    warmUp(health, 'm#0', 100, 3);
    warmUp(health, 'm#1', 100, 1);
    const { ordered } = orderCandidates(deployments, 'least-busy', health, noLimits, { estimatedTokens: 1 });
    expect(ids(ordered)).toEqual(['m#1', 'm#0']);
  });
});

describe('latency-based', () => {
  it('tries unmeasured deployments first', () => {
    const deployments = [deployment('gpt-4o#0', 'gpt-4o'), deployment('gpt-4o#1', 'gpt-4o')];
    const health = new DeploymentHealth({ now: fakeClock().now });
    warmUp(health, 'gpt-4o#0', 100);

    const { ordered, reason } = orderCandidates(deployments, 'latency-based', health, noLimits, { estimatedTokens: 1 });
    expect(ids(ordered)).toEqual(['gpt-4o#1', 'gpt-4o#0']);
    expect(reason).toBe('latency-based: gpt-4o#1 not measured yet vs 100 ms');
  });

  it('prefers the faster of two after warm-up', () => {
    const deployments = [deployment('gpt-4o#0', 'gpt-4o'), deployment('gpt-4o#1', 'gpt-4o')];
    const health = new DeploymentHealth({ now: fakeClock().now });
    warmUp(health, 'gpt-4o#0', 900);
    warmUp(health, 'gpt-4o#1', 420);

    const { ordered, reason } = orderCandidates(deployments, 'latency-based', health, noLimits, { estimatedTokens: 1 });
    expect(ids(ordered)).toEqual(['gpt-4o#1', 'gpt-4o#0']);
    expect(reason).toBe('latency-based: gpt-4o#1 avg 420 ms vs 900 ms');
  });

  it('follows a deployment that becomes slow', () => {
    const deployments = [deployment('m#0', 'gpt-4o'), deployment('m#1', 'gpt-4o')];
    const health = new DeploymentHealth({ now: fakeClock().now });
    warmUp(health, 'm#0', 300);
    warmUp(health, 'm#1', 500);
    expect(orderCandidates(deployments, 'latency-based', health, noLimits, { estimatedTokens: 1 }).ordered[0]!.id).toBe('m#0');

    warmUp(health, 'm#0', 2_000, 3);
    expect(orderCandidates(deployments, 'latency-based', health, noLimits, { estimatedTokens: 1 }).ordered[0]!.id).toBe('m#1');
  });

  it('compares time to first token for streams', () => {
    const deployments = [deployment('m#0', 'gpt-4o'), deployment('m#1', 'gpt-4o')];
    const health = new DeploymentHealth({ now: fakeClock().now });
    warmUp(health, 'm#0', 800, 5, 400);
    warmUp(health, 'm#1', 1_500, 5, 150);

    expect(ids(orderCandidates(deployments, 'latency-based', health, noLimits, { estimatedTokens: 1 }).ordered)).toEqual(['m#0', 'm#1']);
    const streamed = orderCandidates(deployments, 'latency-based', health, noLimits, { estimatedTokens: 1, stream: true });
    expect(ids(streamed.ordered)).toEqual(['m#1', 'm#0']);
    expect(streamed.reason).toBe('latency-based: m#1 ttft 150 ms vs 400 ms');
  });

  it('puts a fast but cooling deployment last', () => {
    const deployments = [deployment('m#0', 'gpt-4o'), deployment('m#1', 'gpt-4o')];
    const health = new DeploymentHealth({ allowedFails: 1, now: fakeClock().now });
    warmUp(health, 'm#0', 100);
    warmUp(health, 'm#1', 900);
    health.fail('m#0', 'upstream_timeout', { countsTowardCooldown: true });

    const { ordered, reason } = orderCandidates(deployments, 'latency-based', health, noLimits, { estimatedTokens: 1 });
    expect(ids(ordered)).toEqual(['m#1', 'm#0']);
    expect(reason).toBe('latency-based: m#1 avg 900 ms (1 cooling down tried last)');
  });
});

describe('usage-based', () => {
  it('skips a deployment at its rpm limit', () => {
    const deployments = [deployment('m#0', 'gpt-4o'), deployment('m#1', 'gpt-4o')];
    const limits = limitsFrom({ 'm#0': { rpm: 2 }, 'm#1': { rpm: 100 } });
    const health = new DeploymentHealth({ now: fakeClock().now });
    warmUp(health, 'm#0', 100, 2);

    const { ordered, reason } = orderCandidates(deployments, 'usage-based', health, limits, { estimatedTokens: 1 });
    expect(ids(ordered)).toEqual(['m#1', 'm#0']);
    expect(reason).toBe('usage-based: m#1 at 1% of its rpm/tpm limit (1 at rpm/tpm limit tried last)');
  });

  it('skips a deployment whose tpm this request would exceed', () => {
    const deployments = [deployment('m#0', 'gpt-4o'), deployment('m#1', 'gpt-4o')];
    const limits = limitsFrom({ 'm#0': { tpm: 1_000 }, 'm#1': { tpm: 10_000 } });
    const health = new DeploymentHealth({ now: fakeClock().now });
    health.begin('m#0');
    health.succeed('m#0', { latencyMs: 1, tokens: 700 });
    health.begin('m#1');
    health.succeed('m#1', { latencyMs: 1, tokens: 8_000 });

    // m#0 is the less used (70 % vs 80 %) but has no room for 400 more tokens.
    const { ordered, reason } = orderCandidates(deployments, 'usage-based', health, limits, { estimatedTokens: 400 });
    expect(ids(ordered)).toEqual(['m#1', 'm#0']);
    expect(reason).toBe('usage-based: m#1 at 84% of its rpm/tpm limit (1 at rpm/tpm limit tried last)');
    const small = orderCandidates(deployments, 'usage-based', health, limits, { estimatedTokens: 100 });
    expect(ids(small.ordered)).toEqual(['m#0', 'm#1']);
  });

  it('orders by the fuller of rpm and tpm', () => {
    const deployments = [deployment('m#0', 'gpt-4o'), deployment('m#1', 'gpt-4o')];
    const limits = limitsFrom({ 'm#0': { rpm: 10, tpm: 100_000 }, 'm#1': { rpm: 100, tpm: 100_000 } });
    const health = new DeploymentHealth({ now: fakeClock().now });
    warmUp(health, 'm#0', 100, 5);
    warmUp(health, 'm#1', 100, 20);

    const { ordered, reason } = orderCandidates(deployments, 'usage-based', health, limits, { estimatedTokens: 1 });
    expect(ids(ordered)).toEqual(['m#1', 'm#0']);
    expect(reason).toBe('usage-based: m#1 at 21% of its rpm/tpm limit vs at 60% of its rpm/tpm limit');
  });

  it('keeps every deployment when all are at their limit', () => {
    const deployments = [deployment('m#0', 'gpt-4o'), deployment('m#1', 'gpt-4o')];
    const limits = limitsFrom({ 'm#0': { rpm: 1 }, 'm#1': { rpm: 1 } });
    const health = new DeploymentHealth({ now: fakeClock().now });
    warmUp(health, 'm#0', 100, 1);
    warmUp(health, 'm#1', 100, 1);

    const { ordered, reason } = orderCandidates(deployments, 'usage-based', health, limits, { estimatedTokens: 1 });
    expect(ordered).toHaveLength(2);
    expect(reason).toBe('usage-based: all deployments at their rpm/tpm limit, m#0 first');
  });

  it('frees capacity as the minute slides', () => {
    const clock = fakeClock();
    const deployments = [deployment('m#0', 'gpt-4o'), deployment('m#1', 'gpt-4o')];
    const limits = limitsFrom({ 'm#0': { rpm: 2 }, 'm#1': { rpm: 2 } });
    const health = new DeploymentHealth({ now: clock.now });
    warmUp(health, 'm#0', 100, 2);
    clock.advance(30_000);
    warmUp(health, 'm#1', 100, 1);
    const before = orderCandidates(deployments, 'usage-based', health, limits, { estimatedTokens: 1 });
    expect(ids(before.ordered)).toEqual(['m#1', 'm#0']);
    expect(before.reason).toBe('usage-based: m#1 at 100% of its rpm/tpm limit (1 at rpm/tpm limit tried last)');

    clock.advance(31_000);
    const after = orderCandidates(deployments, 'usage-based', health, limits, { estimatedTokens: 1 });
    expect(ids(after.ordered)).toEqual(['m#0', 'm#1']);
    expect(after.reason).toBe('usage-based: m#0 at 50% of its rpm/tpm limit vs at 100% of its rpm/tpm limit');
  });

  it('applies limits under other strategies too', () => {
    const deployments = [deployment('m#0', 'gpt-4o-mini'), deployment('m#1', 'gpt-4o')];
    const limits = limitsFrom({ 'm#0': { rpm: 1 } });
    const health = new DeploymentHealth({ now: fakeClock().now });
    warmUp(health, 'm#0', 100, 1);
    expect(ids(orderCandidates(deployments, 'cost-based', health, limits, { estimatedTokens: 1 }).ordered)).toEqual(['m#1', 'm#0']);
  });
});

describe('cost-based', () => {
  const local = deployment('coder#0', 'qwen2.5-coder:7b', 'local');
  const mini = deployment('coder#1', 'gpt-4o-mini');
  const large = deployment('coder#2', 'gpt-4o');
  const unknown = deployment('coder#3', 'some-unlisted-model');

  it('orders free, then cheapest, then unknown price', () => {
    const health = new DeploymentHealth({ now: fakeClock().now });
    const { ordered, reason } = orderCandidates([unknown, large, mini, local], 'cost-based', health, noLimits, { estimatedTokens: 1 });
    expect(ids(ordered)).toEqual(['coder#0', 'coder#1', 'coder#2', 'coder#3']);
    expect(reason).toBe('cost-based: coder#0 free (local) vs $0.75 per 1M tokens');
  });

  it('picks the cheapest healthy over a cooling one', () => {
    const health = new DeploymentHealth({ allowedFails: 1, now: fakeClock().now });
    health.fail('coder#0', connectionRefused.kind, { countsTowardCooldown: countsTowardCooldown(connectionRefused) });

    const { ordered, reason } = orderCandidates([large, mini, local], 'cost-based', health, noLimits, { estimatedTokens: 1 });
    expect(ids(ordered)).toEqual(['coder#1', 'coder#2', 'coder#0']);
    expect(reason).toBe('cost-based: coder#1 $0.75 per 1M tokens vs $12.5 per 1M tokens (1 cooling down tried last)');
  });

  it('spreads equal prices by calls in flight', () => {
    const twin = deployment('coder#4', 'gpt-4o-mini');
    const health = new DeploymentHealth({ now: fakeClock().now });
    health.begin('coder#1');
    expect(ids(orderCandidates([mini, twin], 'cost-based', health, noLimits, { estimatedTokens: 1 }).ordered)).toEqual(['coder#4', 'coder#1']);
  });

  it('says when every deployment is cooling down', () => {
    const health = new DeploymentHealth({ allowedFails: 1, now: fakeClock().now });
    health.fail('coder#1', 'overloaded', { countsTowardCooldown: true });
    health.fail('coder#2', 'overloaded', { countsTowardCooldown: true });
    const { ordered, reason } = orderCandidates([large, mini], 'cost-based', health, noLimits, { estimatedTokens: 1 });
    expect(ids(ordered)).toEqual(['coder#1', 'coder#2']);
    expect(reason).toBe('cost-based: all deployments cooling down, coder#1 first');
  });
});

describe('orderCandidates edge cases', () => {
  it('names a single deployment', () => {
    const health = new DeploymentHealth({ now: fakeClock().now });
    const { reason } = orderCandidates([deployment('m#0', 'gpt-4o')], 'least-busy', health, noLimits, { estimatedTokens: 1 });
    expect(reason).toBe('least-busy: m#0 is the only deployment');
  });

  it('returns an empty order for no deployments', () => {
    const health = new DeploymentHealth({ now: fakeClock().now });
    expect(orderCandidates([], 'usage-based', health, noLimits, { estimatedTokens: 1 })).toEqual({ ordered: [], reason: 'usage-based: no deployments' });
  });
});

describe('parseRoutingStrategy', () => {
  it.each([
    ['simple-shuffle', 'simple-shuffle'],
    ['least-busy', 'least-busy'],
    ['latency-based-routing', 'latency-based'],
    ['latency-based', 'latency-based'],
    ['usage-based-routing', 'usage-based'],
    ['usage-based-routing-v2', 'usage-based'],
    ['usage-based', 'usage-based'],
    ['cost-based-routing', 'cost-based'],
    ['cost-based', 'cost-based'],
    [' Least-Busy ', 'least-busy'],
  ])('reads %j', (name, expected) => {
    expect(parseRoutingStrategy(name)).toBe(expected);
  });

  it('lists accepted names for an unknown one', () => {
    expect(() => parseRoutingStrategy('round-robin')).toThrow(
      "Unknown routing_strategy 'round-robin'. Accepted values: simple-shuffle, least-busy, latency-based, latency-based-routing, usage-based, usage-based-routing, usage-based-routing-v2, cost-based, cost-based-routing.",
    );
  });
});

describe('retryDelayMs', () => {
  it('doubles the ceiling per attempt up to maxMs', () => {
    const top = () => 0.999999;
    expect(retryDelayMs(1, { random: top })).toBe(500);
    expect(retryDelayMs(2, { random: top })).toBe(1_000);
    expect(retryDelayMs(4, { random: top })).toBe(4_000);
    expect(retryDelayMs(5, { random: top })).toBe(8_000);
    expect(retryDelayMs(6, { random: top })).toBe(8_000);
    expect(retryDelayMs(1_000, { random: top })).toBe(8_000);
  });

  it('bounds equal jitter', () => {
    const random = seededRandom(11);
    for (let attempt = 1; attempt <= 8; attempt++) {
      const ceiling = Math.min(8_000, 500 * 2 ** (attempt - 1));
      const delays = Array.from({ length: 500 }, () => retryDelayMs(attempt, { random })!);
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(ceiling / 2);
      expect(Math.max(...delays)).toBeLessThanOrEqual(ceiling);
    }
    expect(retryDelayMs(3, { random: () => 0 })).toBe(1_000);
  });

  it('honours custom base and cap', () => {
    expect(retryDelayMs(1, { baseMs: 100, maxMs: 250, random: () => 0 })).toBe(50);
    expect(retryDelayMs(3, { baseMs: 100, maxMs: 250, random: () => 0 })).toBe(125);
  });

  it('uses Retry-After seconds', () => {
    expect(retryDelayMs(1, { retryAfter: '2', random: () => 0.5 })).toBe(2_000);
    expect(retryDelayMs(3, { retryAfter: ' 1.5 ', random: () => 0.5 })).toBe(1_500);
    expect(retryDelayMs(1, { retryAfter: '0', random: () => 0.5 })).toBe(0);
  });

  it('uses a Retry-After HTTP date', () => {
    const now = () => START;
    const inTenSeconds = new Date(START + 10_000).toUTCString();
    expect(retryDelayMs(1, { retryAfter: inTenSeconds, now })).toBe(10_000);
    expect(retryDelayMs(1, { retryAfter: new Date(START - 5_000).toUTCString(), now })).toBe(0);
  });

  it('returns null for long Retry-After', () => {
    expect(retryDelayMs(1, { retryAfter: '61' })).toBeNull();
    expect(retryDelayMs(1, { retryAfter: '60' })).toBe(60_000);
    expect(retryDelayMs(1, { retryAfter: '20', maxRetryAfterMs: 10_000 })).toBeNull();
    expect(retryDelayMs(1, { retryAfter: new Date(START + 3_600_000).toUTCString(), now: () => START })).toBeNull();
  });

  it('ignores an invalid Retry-After', () => {
    for (const value of ['soon', '-1', '', '1e3', null]) {
      expect(retryDelayMs(1, { retryAfter: value, random: () => 0 })).toBe(250);
    }
    expect(parseRetryAfterMs('not a date')).toBeNull();
  });

  it('rejects invalid arguments', () => {
    expect(() => retryDelayMs(0)).toThrow('retry attempt must be an integer >= 1, got 0');
    expect(() => retryDelayMs(1.5)).toThrow(RangeError);
    expect(() => retryDelayMs(1, { baseMs: 1_000, maxMs: 500 })).toThrow(/baseMs <= maxMs/);
  });
});

/** Builds one row per failure: name, error, class, whether it retries, whether it counts toward a cooldown. */
function failureTable(): Array<[string, unknown, string, boolean, boolean]> {
  const status = (code: number, message = 'upstream message') => upstreamErrorFromStatus(code, message, where);
  return [
    ['connection refused', connectionRefused, 'connection', true, true],
    ['timeout', timedOut, 'timeout', true, true],
    ['HTTP 408', status(408), 'timeout', true, true],
    ['HTTP 409', status(409), 'other', true, false],
    ['HTTP 429', status(429, 'Rate limit reached for requests'), 'rate_limit', true, true],
    ['HTTP 500', status(500), 'server', true, true],
    ['HTTP 502', status(502), 'server', true, true],
    ['HTTP 503', status(503), 'server', true, true],
    ['HTTP 529', status(529, 'Overloaded'), 'overloaded', true, true],
    ['HTTP 400', badRequest, 'bad_request', false, false],
    ['HTTP 401', status(401), 'other', false, false],
    ['HTTP 403', status(403), 'other', false, false],
    ['HTTP 404', status(404), 'other', false, false],
    ['HTTP 413', status(413), 'bad_request', false, false],
    ['HTTP 422', status(422), 'bad_request', false, false],
    ['client disconnect', new ClientDisconnected(), 'other', false, false],
    ['gateway validation error', new GatewayError('invalid_value', "'messages' must be an array"), 'bad_request', false, false],
    ['bug', new TypeError("Cannot read properties of undefined (reading 'x')"), 'other', false, false],
    [
      'OpenAI context length',
      status(400, "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens."),
      'context_window',
      false,
      false,
    ],
    ['Anthropic prompt too long', status(400, 'prompt is too long: 210000 tokens > 200000 maximum'), 'context_window', false, false],
    [
      'Anthropic context limit',
      status(400, 'input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, decrease input length or `max_tokens` and try again'),
      'context_window',
      false,
      false,
    ],
    ['context window exceeded', status(400, 'Your input exceeds the context window of this model.'), 'context_window', false, false],
    ['OpenAI safety system', status(400, 'Your request was rejected as a result of our safety system.'), 'content_policy', false, false],
    [
      'Azure content management policy',
      status(400, "The response was filtered due to the prompt triggering Azure OpenAI's content management policy."),
      'content_policy',
      false,
      false,
    ],
    ['Anthropic output blocked', status(400, 'Output blocked by content filtering policy'), 'content_policy', false, false],
    ['content policy code in message', status(400, 'content_policy_violation'), 'content_policy', false, false],
    ['429 naming tokens', status(429, 'Request too large for gpt-4o: Limit 30000, Requested 130000 tokens per min'), 'rate_limit', true, true],
  ];
}

describe('failure rules', () => {
  it.each(failureTable())('%s', (_name, error, failureClass, retryable, counts) => {
    expect(classifyFailure(error)).toBe(failureClass);
    expect(isRetryable(error)).toBe(retryable);
    expect(countsTowardCooldown(error)).toBe(counts);
  });

  it('reads the OpenAI error code kept as cause', () => {
    const d = deployment('gpt-4o#0', 'gpt-4o');
    const sdkError = OpenAI.APIError.generate(
      400,
      { error: { message: 'Invalid request.', type: 'invalid_request_error', code: 'context_length_exceeded' } },
      undefined,
      new Headers(),
    );
    const mapped = mapOpenAIError(sdkError, d, new AbortController().signal);
    expect(mapped).toBeInstanceOf(UpstreamError);
    expect(classifyFailure(mapped)).toBe('context_window');
    expect(isRetryable(mapped)).toBe(false);
  });

  it('classifies a mapped OpenAI connection error', () => {
    const d = deployment('gpt-4o#0', 'gpt-4o');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const mapped = mapOpenAIError(new OpenAI.APIConnectionError({ cause: refused }), d, new AbortController().signal);
    expect(classifyFailure(mapped)).toBe('connection');
    expect(isRetryable(mapped)).toBe(true);
  });

  it('reads Retry-After from a 429', () => {
    const limited = upstreamErrorFromStatus(429, 'slow down', { ...where, retryAfter: '7' });
    expect(retryAfterOf(limited)).toBe('7');
    expect(retryDelayMs(1, { retryAfter: retryAfterOf(limited) })).toBe(7_000);
    expect(retryAfterOf(badRequest)).toBeNull();
    expect(retryAfterOf(new Error('x'))).toBeNull();
  });
});
