/** Length of an rpm/tpm window in seconds, kept as this many one-second buckets. */
export const WINDOW_SECONDS = 60;

/**
 * Requests and tokens of the last minute, in one-second buckets that form a ring indexed by
 * the epoch second. Running totals make reading the window cost no loop.
 */
export class MinuteWindow {
  readonly requestBuckets = new Float64Array(WINDOW_SECONDS);
  readonly tokenBuckets = new Float64Array(WINDOW_SECONDS);
  requests = 0;
  tokens = 0;
  /** The epoch second the ring was last moved to. */
  second = 0;

  /** Moves the ring forward to `second`, emptying the buckets that left the window. */
  advance(second: number): void {
    if (second <= this.second) return;
    const expired = Math.min(second - this.second, WINDOW_SECONDS);
    for (let step = 1; step <= expired; step++) {
      const index = (this.second + step) % WINDOW_SECONDS;
      this.requests -= this.requestBuckets[index]!;
      this.tokens -= this.tokenBuckets[index]!;
      this.requestBuckets[index] = 0;
      this.tokenBuckets[index] = 0;
    }
    this.second = second;
  }

  /** Adds requests and tokens to the bucket of `second`, which must lie inside the window. */
  add(second: number, requests: number, tokens: number): void {
    const index = second % WINDOW_SECONDS;
    this.requestBuckets[index]! += requests;
    this.tokenBuckets[index]! += tokens;
    this.requests += requests;
    this.tokens += tokens;
  }
}
