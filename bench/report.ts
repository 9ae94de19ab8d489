import type { LoadResult } from './load';

export type LogLevel = 'warn' | 'info';

export interface Scenario {
  id: string;
  title: string;
  stream: boolean;
  connections: number;
}

export interface ScenarioResult {
  scenario: Scenario;
  direct: LoadResult;
  gateway: Partial<Record<LogLevel, LoadResult>>;
}

export interface MemorySample {
  rssKiB: number;
  peakRssKiB: number;
}

export interface GatewayRun {
  level: LogLevel;
  idle: MemorySample;
  afterLoad: MemorySample;
  /** Rows in audit_log after the gateway stopped, per HTTP status. */
  auditRowsByStatus: Record<string, number>;
  /** 2xx responses the load generator and the start-up checks counted against this gateway. */
  countedResponses: number;
  logLines: number;
}

export interface TargetRow {
  name: string;
  /** Id of the scenario whose CPU profile can explain a miss, or null when no profile can (memory). */
  scenarioId: string | null;
  level: LogLevel;
  target: string;
  measured: string;
  pass: boolean;
}

export const targets = {
  addedP50Ms: 0.5,
  addedP99Ms: 2,
  gatewayRequestsPerSecond: 2000,
  idleRssMiB: 120,
} as const;

const mib = (kib: number): string => (kib / 1024).toFixed(1);
const fixed = (ms: number): string => ms.toFixed(3);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

function problems(result: LoadResult): string {
  const parts: string[] = [];
  if (result.non2xx > 0) parts.push(`${result.non2xx} non-2xx`);
  if (result.errors > 0) parts.push(`${result.errors} errors`);
  if (result.timeouts > 0) parts.push(`${result.timeouts} timeouts`);
  return parts.length === 0 ? '0' : parts.join(', ');
}

/** Format the load results with one row per scenario and path: direct to the stub, then through the gateway at each log level. */
export function formatLoadTable(results: ScenarioResult[]): string {
  const rows: string[][] = [];
  for (const { scenario, direct, gateway } of results) {
    const paths: Array<[string, LoadResult]> = [['direct to stub', direct]];
    for (const level of ['warn', 'info'] as const) {
      const run = gateway[level];
      if (run) paths.push([`gateway, log ${level}`, run]);
    }
    for (const [path, run] of paths) {
      rows.push([
        scenario.title,
        String(scenario.connections),
        path,
        String(run.requestsPerSecond),
        fixed(run.latencyMs.p50),
        fixed(run.latencyMs.p90),
        fixed(run.latencyMs.p99),
        fixed(run.latencyMs.max),
        path === 'direct to stub' ? '' : fixed(run.latencyMs.p50 - direct.latencyMs.p50),
        path === 'direct to stub' ? '' : fixed(run.latencyMs.p99 - direct.latencyMs.p99),
        problems(run),
      ]);
    }
  }
  return table(
    ['scenario', 'conn', 'path', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'added p50 ms', 'added p99 ms', 'failed'],
    rows,
  );
}

/** Format the CPU used by each process during each measured run. "other processes" is everything else on the machine. */
export function formatCpuTable(results: ScenarioResult[]): string {
  const names = ['load generator', 'stub', 'gateway', 'other processes'];
  const rows: string[][] = [];
  for (const { scenario, direct, gateway } of results) {
    const paths: Array<[string, LoadResult | undefined]> = [
      ['direct to stub', direct],
      ['gateway, log warn', gateway.warn],
      ['gateway, log info', gateway.info],
    ];
    for (const [path, run] of paths) {
      if (run) rows.push([scenario.title, String(scenario.connections), path, ...names.map((name) => (run.cpuCores[name] ?? 0).toFixed(2))]);
    }
  }
  return table(['scenario', 'conn', 'path', ...names.map((name) => `${name} cores`)], rows);
}

export function formatMemoryTable(runs: GatewayRun[], stubIdle: MemorySample): string {
  const rows = runs.map((run) => [
    `gateway, log ${run.level}`,
    mib(run.idle.rssKiB),
    mib(run.afterLoad.rssKiB),
    mib(run.afterLoad.peakRssKiB),
  ]);
  rows.push(['stub (Node.js + tsx + http server, for reference)', mib(stubIdle.rssKiB), '', '']);
  return table(['process', 'idle RSS MiB', 'RSS after load MiB', 'peak RSS MiB'], rows);
}

export function formatAuditTable(runs: GatewayRun[]): string {
  return table(
    ['gateway', 'audit rows with status 200', 'other audit rows', '2xx responses counted', 'log lines'],
    runs.map((run) => {
      const { '200': ok = 0, ...others } = run.auditRowsByStatus;
      const otherText = Object.entries(others).map(([status, count]) => `${count} × ${status}`).join(', ') || '0';
      return [`log ${run.level}`, String(ok), otherText, String(run.countedResponses), String(run.logLines)];
    }),
  );
}

/** Compare the measured numbers with the targets, for each log level that was measured. */
export function evaluateTargets(results: ScenarioResult[], runs: GatewayRun[]): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const run of runs) {
    const level = run.level;
    for (const { scenario, direct, gateway } of results) {
      const measured = gateway[level];
      if (!measured) continue;
      if (scenario.connections === 16) {
        const addedP50 = measured.latencyMs.p50 - direct.latencyMs.p50;
        const addedP99 = measured.latencyMs.p99 - direct.latencyMs.p99;
        rows.push({
          name: `added latency p50, ${scenario.title}, 16 conn`,
          scenarioId: scenario.id,
          level,
          target: `≤ ${targets.addedP50Ms} ms`,
          measured: `${fixed(addedP50)} ms`,
          pass: addedP50 <= targets.addedP50Ms,
        });
        rows.push({
          name: `added latency p99, ${scenario.title}, 16 conn`,
          scenarioId: scenario.id,
          level,
          target: `≤ ${targets.addedP99Ms} ms`,
          measured: `${fixed(addedP99)} ms`,
          pass: addedP99 <= targets.addedP99Ms,
        });
      }
      if (!scenario.stream && scenario.connections === 64) {
        rows.push({
          name: `gateway throughput, ${scenario.title}, 64 conn`,
          scenarioId: scenario.id,
          level,
          target: `≥ ${targets.gatewayRequestsPerSecond} req/s`,
          measured: `${measured.requestsPerSecond} req/s`,
          pass: measured.requestsPerSecond >= targets.gatewayRequestsPerSecond,
        });
      }
    }
    rows.push({
      name: 'gateway idle RSS',
      scenarioId: null,
      level,
      target: `≤ ${targets.idleRssMiB} MiB`,
      measured: `${mib(run.idle.rssKiB)} MiB`,
      pass: run.idle.rssKiB / 1024 <= targets.idleRssMiB,
    });
  }
  return rows;
}

export function formatTargetTable(rows: TargetRow[]): string {
  return table(
    ['target', 'log level', 'goal', 'measured', 'result'],
    rows.map((row) => [row.name, row.level, row.target, row.measured, row.pass ? 'pass' : 'MISS']),
  );
}
