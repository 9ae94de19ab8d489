import autocannon from 'autocannon';
import { availableParallelism } from 'node:os';
import { createHistogram } from 'node:perf_hooks';
import { cpuCoresBetween, takeCpuSnapshot } from './cpu';

export interface LoadOptions {
  /** Full URL of the endpoint, such as http://127.0.0.1:4000/v1/chat/completions. */
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  /** Length of the measured run, in seconds. */
  durationSeconds: number;
  /** Length of the unmeasured run just before it, with the same connections, in seconds. */
  warmupSeconds: number;
  /** Processes whose CPU use during the measured run is reported, by name. The load generator's own process is always added. */
  watch: Record<string, number>;
}

/** Latency percentiles of the 2xx responses, in milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  connections: number;
  durationSeconds: number;
  /** 2xx responses in the measured run. */
  responses: number;
  /** 2xx responses in the warm-up run. */
  warmupResponses: number;
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  /** CPU used during the measured run, in cores, by each watched process and the load generator, and by all other processes. */
  cpuCores: Record<string, number>;
  /** Start and end of the measured run on the system's monotonic clock (CLOCK_MONOTONIC), in microseconds. */
  windowUs: { start: number; end: number };
  non2xx: number;
  /** Connection errors, including timeouts. */
  errors: number;
  timeouts: number;
}

type ResponseListener = (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void;

function fire(options: autocannon.Options, onResponse?: ResponseListener): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error: Error | null, result: autocannon.Result) => (error ? reject(error) : resolve(result)));
    if (onResponse) instance.on('response', onResponse);
  });
}

/**
 * Run a warm-up, then a measured run, of POST requests with a fixed body over keep-alive
 * connections. autocannon's own latency histogram stores whole milliseconds, which is too coarse
 * for sub-millisecond differences, so latency comes from its per-response event (measured from
 * the request write to the end of the response, fractional ms) recorded here in nanoseconds.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const base: autocannon.Options = {
    url: options.url,
    method: 'POST',
    headers: options.headers,
    body: options.body,
    connections: options.connections,
    pipelining: 1,
    timeout: 10,
  };
  const warmup = options.warmupSeconds > 0 ? await fire({ ...base, duration: options.warmupSeconds }) : null;

  const histogram = createHistogram({ lowest: 1, highest: 60e9, figures: 3 });
  const watched = { ...options.watch, 'load generator': process.pid };
  const cpuBefore = takeCpuSnapshot(Object.values(watched));
  const start = monotonicMicroseconds();
  const result = await fire({ ...base, duration: options.durationSeconds }, (_client, statusCode, _bytes, responseTimeMs) => {
    if (statusCode >= 200 && statusCode < 300) histogram.record(Math.max(1, Math.round(responseTimeMs * 1e6)));
  });
  const end = monotonicMicroseconds();
  const cpu = cpuCoresBetween(cpuBefore, takeCpuSnapshot(Object.values(watched)), availableParallelism());
  const cpuCores: Record<string, number> = {};
  for (const [name, pid] of Object.entries(watched)) cpuCores[name] = cpu.processes.get(pid) ?? 0;
  cpuCores['other processes'] = cpu.others;

  const toMs = (nanoseconds: number): number => Math.round(nanoseconds / 1e3) / 1e3;
  return {
    connections: options.connections,
    durationSeconds: result.duration,
    responses: histogram.count,
    warmupResponses: warmup ? warmup['2xx'] : 0,
    requestsPerSecond: Math.round(histogram.count / result.duration),
    latencyMs: {
      p50: toMs(histogram.percentile(50)),
      p90: toMs(histogram.percentile(90)),
      p99: toMs(histogram.percentile(99)),
      max: toMs(histogram.max),
      mean: toMs(histogram.mean),
    },
    cpuCores,
    windowUs: { start, end },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** process.hrtime reads CLOCK_MONOTONIC, the clock V8 stamps CPU profile samples with, so the two can be compared across processes. */
function monotonicMicroseconds(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
