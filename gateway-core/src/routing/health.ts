/**
 * Per-deployment health for routing: in-flight calls, latency averages, requests and tokens in
 * the last minute, and cooldowns after repeated failures. Pure bookkeeping with an injectable
 * clock, so that tests and the router read the same numbers without timers.
 *
 * Cooldown rule: when a deployment records its `allowedFails`-th counted failure within
 * `failureWindowMs`, it is cooling down for `cooldownMs` from that failure. The failure count
 * starts again from zero at that moment, so after the cooldown the deployment is tried again with
 * a fresh allowance. A success ends a cooldown early and clears the count. A counted failure while
 * cooling down (the router still tries cooling deployments when nothing else is left) restarts
 * the cooldown from now.
 */
import { MinuteWindow } from '../usage/minute-window';

export interface DeploymentHealthOptions {
  /** Counted failures within the window that start a cooldown; an integer >= 1, default 3. */
  allowedFails?: number;
  /** Length of the failure window in milliseconds; default 60 000. */
  failureWindowMs?: number;
  /** How long a deployment stays cooling down, in milliseconds; default 30 000. 0 disables cooldowns. */
  cooldownMs?: number;
  /**
   * Weight of the newest sample in the latency averages (exponentially weighted moving average),
   * between 0 (exclusive) and 1; default 0.3, so a sample's weight falls below 10 % after about
   * seven newer ones.
   */
  latencySmoothing?: number;
  /** Clock in milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

/** Measurements of one successful call. */
export interface CallOutcome {
  /** Total time of the call in milliseconds. */
  latencyMs: number;
  /** Time to the first content event in milliseconds, for streams. */
  ttftMs?: number | null;
  /** Input plus output tokens the call used, counted toward the deployment's tpm. */
  tokens: number;
}

export interface FailureOptions {
  /** Whether the failure shows the deployment is unwell (connection, timeout, 429, 5xx, 529). */
  countsTowardCooldown: boolean;
  /** Tokens the failed call still used, if known, counted toward the deployment's tpm. */
  tokens?: number;
}

/** A deployment's health as the management API shows it. */
export interface DeploymentHealthView {
  id: string;
  state: 'healthy' | 'cooling_down';
  /** Milliseconds until the cooldown ends; 0 when healthy. */
  cooldownRemainingMs: number;
  /** Counted failures inside the current failure window. */
  failuresInWindow: number;
  inFlight: number;
  /** Requests started in the last 60 s. */
  rpmUsed: number;
  /** Tokens of calls that finished in the last 60 s. */
  tpmUsed: number;
  /** Moving average of total call latency in milliseconds, or null before the first success. */
  latencyMs: number | null;
  /** Moving average of time to first token in milliseconds, or null before a stream succeeded. */
  ttftMs: number | null;
  /** Error kind of the most recent failure, counted or not, or null. */
  lastErrorKind: string | null;
}

/** State of one deployment, with its rpm/tpm window. */
class Tracker extends MinuteWindow {
  inFlight = 0;
  latencyMs: number | null = null;
  ttftMs: number | null = null;
  /** Timestamps of counted failures inside the window, oldest first; never more than allowedFails. */
  failures: number[] = [];
  cooldownUntil = 0;
  lastErrorKind: string | null = null;
}

/** One health tracker for all deployments, keyed by deployment id. */
export class DeploymentHealth {
  readonly allowedFails: number;
  readonly failureWindowMs: number;
  readonly cooldownMs: number;
  readonly latencySmoothing: number;
  private readonly now: () => number;
  private readonly trackers = new Map<string, Tracker>();

  constructor(options: DeploymentHealthOptions = {}) {
    this.allowedFails = options.allowedFails ?? 3;
    this.failureWindowMs = options.failureWindowMs ?? 60_000;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.latencySmoothing = options.latencySmoothing ?? 0.3;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.allowedFails) || this.allowedFails < 1) {
      throw new RangeError(`allowedFails must be an integer >= 1, got ${String(options.allowedFails)}`);
    }
    if (!(this.failureWindowMs > 0)) {
      throw new RangeError(`failureWindowMs must be a positive number of milliseconds, got ${String(options.failureWindowMs)}`);
    }
    if (!(this.cooldownMs >= 0)) {
      throw new RangeError(`cooldownMs must be a number of milliseconds >= 0, got ${String(options.cooldownMs)}`);
    }
    if (!(this.latencySmoothing > 0 && this.latencySmoothing <= 1)) {
      throw new RangeError(`latencySmoothing must be in (0, 1], got ${String(options.latencySmoothing)}`);
    }
  }

  /** Record the start of a call: one more in flight, one more request in the rpm window. */
  begin(id: string): void {
    const tracker = this.tracker(id);
    tracker.inFlight += 1;
    tracker.add(this.advanceToNow(tracker), 1, 0);
  }

  /** Record a successful call with its latency and tokens. A success ends any cooldown and clears the failure count. */
  succeed(id: string, outcome: CallOutcome): void {
    const tracker = this.tracker(id);
    this.release(tracker);
    this.addTokens(tracker, outcome.tokens);
    tracker.latencyMs = this.smooth(tracker.latencyMs, outcome.latencyMs);
    if (outcome.ttftMs !== undefined && outcome.ttftMs !== null) tracker.ttftMs = this.smooth(tracker.ttftMs, outcome.ttftMs);
    tracker.failures.length = 0;
    tracker.cooldownUntil = 0;
  }

  /**
   * Record a failed call of error kind `kind`. Only a failure marked `countsTowardCooldown` (see
   * the function of that name in retry.ts) moves the deployment toward a cooldown. Any failure
   * updates the last error kind.
   */
  fail(id: string, kind: string, options: FailureOptions): void {
    const tracker = this.tracker(id);
    this.release(tracker);
    this.addTokens(tracker, options.tokens ?? 0);
    tracker.lastErrorKind = kind;
    if (!options.countsTowardCooldown) return;

    const now = this.now();
    if (now < tracker.cooldownUntil) {
      tracker.cooldownUntil = now + this.cooldownMs;
      return;
    }
    this.pruneFailures(tracker, now);
    tracker.failures.push(now);
    if (tracker.failures.length >= this.allowedFails) {
      tracker.failures.length = 0;
      tracker.cooldownUntil = now + this.cooldownMs;
    }
  }

  /** Record a call that ended without a verdict on the deployment, such as a client disconnect. */
  cancel(id: string): void {
    this.release(this.tracker(id));
  }

  isCoolingDown(id: string): boolean {
    const tracker = this.trackers.get(id);
    return tracker !== undefined && this.now() < tracker.cooldownUntil;
  }

  /** Milliseconds until the deployment's cooldown ends; 0 when it is not cooling down. */
  cooldownRemainingMs(id: string): number {
    const tracker = this.trackers.get(id);
    return tracker === undefined ? 0 : Math.max(0, tracker.cooldownUntil - this.now());
  }

  inFlight(id: string): number {
    return this.trackers.get(id)?.inFlight ?? 0;
  }

  /** Moving average of total latency in milliseconds, or null before the first success. */
  latencyMs(id: string): number | null {
    return this.trackers.get(id)?.latencyMs ?? null;
  }

  /** Moving average of time to first token in milliseconds, or null before a stream succeeded. */
  ttftMs(id: string): number | null {
    return this.trackers.get(id)?.ttftMs ?? null;
  }

  /** Requests started in the last 60 s, counted in whole-second buckets. */
  requestsLastMinute(id: string): number {
    const tracker = this.trackers.get(id);
    if (!tracker) return 0;
    this.advanceToNow(tracker);
    return tracker.requests;
  }

  /** Tokens of calls that finished in the last 60 s. */
  tokensLastMinute(id: string): number {
    const tracker = this.trackers.get(id);
    if (!tracker) return 0;
    this.advanceToNow(tracker);
    return tracker.tokens;
  }

  /** Counted failures inside the failure window at this moment. */
  failuresInWindow(id: string): number {
    const tracker = this.trackers.get(id);
    if (!tracker) return 0;
    this.pruneFailures(tracker, this.now());
    return tracker.failures.length;
  }

  /**
   * Returns the health of every tracked deployment, in the order first seen. Any of `ids` not
   * seen yet is added and shown healthy.
   */
  snapshot(ids: Iterable<string> = []): DeploymentHealthView[] {
    for (const id of ids) this.tracker(id);
    const views: DeploymentHealthView[] = [];
    for (const id of this.trackers.keys()) {
      const remaining = this.cooldownRemainingMs(id);
      views.push({
        id,
        state: remaining > 0 ? 'cooling_down' : 'healthy',
        cooldownRemainingMs: remaining,
        failuresInWindow: this.failuresInWindow(id),
        inFlight: this.inFlight(id),
        rpmUsed: this.requestsLastMinute(id),
        tpmUsed: this.tokensLastMinute(id),
        latencyMs: roundTenth(this.latencyMs(id)),
        ttftMs: roundTenth(this.ttftMs(id)),
        lastErrorKind: this.trackers.get(id)?.lastErrorKind ?? null,
      });
    }
    return views;
  }

  private tracker(id: string): Tracker {
    let tracker = this.trackers.get(id);
    if (!tracker) {
      tracker = new Tracker();
      tracker.second = Math.floor(this.now() / 1000);
      this.trackers.set(id, tracker);
    }
    return tracker;
  }

  /** Advance the usage ring to the current second and return that second. */
  private advanceToNow(tracker: Tracker): number {
    const second = Math.floor(this.now() / 1000);
    tracker.advance(second);
    return second;
  }

  /** Count more tokens toward a deployment's tpm, such as the reported usage once a call settles. */
  recordTokens(id: string, tokens: number): void {
    this.addTokens(this.tracker(id), tokens);
  }

  private addTokens(tracker: Tracker, tokens: number): void {
    if (!(tokens > 0)) return;
    tracker.add(this.advanceToNow(tracker), 0, tokens);
  }

  private release(tracker: Tracker): void {
    if (tracker.inFlight > 0) tracker.inFlight -= 1;
  }

  private pruneFailures(tracker: Tracker, now: number): void {
    const oldest = now - this.failureWindowMs;
    let expired = 0;
    while (expired < tracker.failures.length && (tracker.failures[expired] ?? 0) <= oldest) expired++;
    if (expired > 0) tracker.failures.splice(0, expired);
  }

  /** Fold a sample into a moving average; a negative or non-finite sample is ignored. */
  private smooth(average: number | null, sample: number): number | null {
    if (!Number.isFinite(sample) || sample < 0) return average;
    return average === null ? sample : average + this.latencySmoothing * (sample - average);
  }
}

function roundTenth(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10) / 10;
}
