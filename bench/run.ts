/**
 * `npm run bench`: the gateway's OpenAI surface against the same stub called directly, under the
 * same autocannon load, with the stub, the gateway and the load generator in three processes on
 * loopback. Each scenario (1, 16 and 64 connections, streaming and not) runs direct, then through
 * a gateway logging at warn, then through one logging at info. The script prints the load, CPU,
 * memory and audit tables and compares them with the targets.
 *
 * When a latency or throughput target is missed, it records a CPU profile of the gateway and lists
 * where its time goes. When the idle RSS target is missed, it measures the RSS each dependency
 * adds on import. It exits 0 whatever the numbers are, and 1 only when the setup fails.
 *
 * Options: --duration S (measured seconds per run, default 10), --warmup S (default 2),
 * --profile (profile and measure imports even when every target passes), --skip-profile (do
 * neither, even on a miss).
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readMemory, startChild, type ChildServer } from './children';
import { runLoad, type LoadResult } from './load';
import { formatSummary, readProfile, summarizeProfile } from './profile-summary';
import {
  evaluateTargets,
  formatAuditTable,
  formatCpuTable,
  formatLoadTable,
  formatMemoryTable,
  formatTargetTable,
  type GatewayRun,
  type LogLevel,
  type Scenario,
  type ScenarioResult,
} from './report';

interface StubReady {
  type: 'ready';
  url: string;
}

interface GatewayReady {
  type: 'ready';
  url: string;
  userKey: string;
}

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const model = 'gpt-4o';
const chatPath = '/v1/chat/completions';
/** How long a freshly started gateway sits idle before its RSS is read. */
const settleMs = 2000;

const scenarios: Scenario[] = [
  { id: 'chat-1', title: 'non-streaming', stream: false, connections: 1 },
  { id: 'stream-1', title: 'streaming', stream: true, connections: 1 },
  { id: 'chat-16', title: 'non-streaming', stream: false, connections: 16 },
  { id: 'stream-16', title: 'streaming', stream: true, connections: 16 },
  { id: 'chat-64', title: 'non-streaming', stream: false, connections: 64 },
];

function requestBody(stream: boolean): string {
  return JSON.stringify({
    model,
    messages: [
      { role: 'system', content: 'You are a concise assistant.' },
      { role: 'user', content: 'Say hello to the world.' },
    ],
    ...(stream ? { stream: true } : {}),
  });
}

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Describe the commit under test and how many files under gateway-core/ differ from it ("unknown" outside a git checkout). */
function sourceDescription(): string {
  try {
    const git = (args: string[]): string => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git(['rev-parse', '--short', 'HEAD']);
    const changed = git(['status', '--porcelain', '--', 'gateway-core']).split('\n').filter((line) => line !== '').length;
    return `commit ${commit}, ${changed} uncommitted file changes under gateway-core/`;
  } catch {
    return 'unknown (git failed)';
  }
}

function machineDescription(): string {
  const cpuInfo = readFileSync('/proc/cpuinfo', 'utf8');
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuInfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return [
    `CPUs (nproc): ${availableParallelism()}`,
    `CPU model: ${cpuModel}`,
    `memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `Node.js: ${process.version}, Linux ${release()}`,
    `source: ${sourceDescription()}`,
  ].join('\n');
}

/** Join the delta content of a chat stream's SSE text. Throws unless the stream ends with [DONE]. */
function streamedContent(text: string): string {
  const events = text.split('\n\n').filter((event) => event.startsWith('data: '));
  if (events[events.length - 1] !== 'data: [DONE]') throw new Error(`the stream did not end with data: [DONE]: ${text.slice(-200)}`);
  let content = '';
  for (const event of events.slice(0, -1)) {
    const chunk = JSON.parse(event.slice('data: '.length)) as { choices?: Array<{ delta?: { content?: string } }> };
    content += chunk.choices?.[0]?.delta?.content ?? '';
  }
  return content;
}

/** Send one non-streaming and one streaming request and check their content. Returns the number of 2xx responses. */
async function checkEndpoint(baseUrl: string, key: string, label: string): Promise<number> {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  const plain = await fetch(`${baseUrl}${chatPath}`, { method: 'POST', headers, body: requestBody(false) });
  const plainText = await plain.text();
  if (plain.status !== 200) throw new Error(`${label}: non-streaming check returned HTTP ${plain.status}: ${plainText}`);
  const message = (JSON.parse(plainText) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content;
  if (message !== 'Hello, world') throw new Error(`${label}: non-streaming check returned content ${JSON.stringify(message)}`);

  const streamed = await fetch(`${baseUrl}${chatPath}`, { method: 'POST', headers, body: requestBody(true) });
  const streamedText = await streamed.text();
  if (streamed.status !== 200) throw new Error(`${label}: streaming check returned HTTP ${streamed.status}: ${streamedText}`);
  const content = streamedContent(streamedText);
  if (content !== 'Hello, world') throw new Error(`${label}: streaming check returned content ${JSON.stringify(content)}`);
  return 2;
}

interface RunSettings {
  durationSeconds: number;
  warmupSeconds: number;
}

interface Target {
  url: string;
  key: string;
  /** Processes whose CPU use is reported for the run, by name. */
  watch: Record<string, number>;
}

function load(target: Target, scenario: Scenario, settings: RunSettings): Promise<LoadResult> {
  return runLoad({
    url: `${target.url}${chatPath}`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${target.key}` },
    body: requestBody(scenario.stream),
    connections: scenario.connections,
    watch: target.watch,
    ...settings,
  });
}

function startGatewayChild(upstream: string, dataDir: string, level: LogLevel, nodeFlags: string[] = []): Promise<ChildServer<GatewayReady>> {
  mkdirSync(dataDir, { recursive: true });
  return startChild<GatewayReady>({
    script: 'bench/gateway-server.ts',
    args: ['--upstream', upstream, '--model', model, '--data-dir', dataDir, '--log-level', level],
    nodeFlags,
    stdoutFile: join(dataDir, 'gateway.log'),
  });
}

/** Audit rows per HTTP status, read from the gateway's database after it stopped. */
function countAuditRows(dataDir: string): Record<string, number> {
  const db = new Database(join(dataDir, 'airlock.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT http_status AS status, count(*) AS n FROM audit_log GROUP BY http_status').all() as Array<{ status: number; n: number }>;
    return Object.fromEntries(rows.map((row) => [String(row.status), row.n]));
  } finally {
    db.close();
  }
}

function countLines(path: string): number {
  const bytes = readFileSync(path);
  let lines = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) lines++;
  return lines;
}

/**
 * Start a gateway at one log level, read its idle RSS, run the scenarios through it, stop it and
 * check that it wrote an audit row for every response the load generator counted.
 */
async function measureGateway(
  stub: ChildServer<StubReady>,
  dataDir: string,
  level: LogLevel,
  results: ScenarioResult[],
  settings: RunSettings,
  /** Whether each scenario also runs direct to the stub, just before it runs through the gateway. */
  measureDirect: boolean,
): Promise<GatewayRun> {
  progress(`starting the gateway with log level ${level}`);
  const gateway = await startGatewayChild(stub.ready.url, dataDir, level);
  const watch = { gateway: gateway.pid, stub: stub.pid };
  const direct: Target = { url: stub.ready.url, key: 'sk-bench-direct', watch };
  const throughGateway: Target = { url: gateway.ready.url, key: gateway.ready.userKey, watch };
  let counted = 0;
  let idle;
  let afterLoad;
  try {
    try {
      counted += await checkEndpoint(gateway.ready.url, gateway.ready.userKey, `gateway (log ${level})`);
    } catch (error) {
      throw new Error(`${(error as Error).message}. The gateway's log is ${join(dataDir, 'gateway.log')}`, { cause: error });
    }
    await sleep(settleMs);
    idle = readMemory(gateway.pid);
    for (const result of results) {
      if (measureDirect) {
        progress(`${result.scenario.title}, ${result.scenario.connections} connections: direct to stub`);
        result.direct = await load(direct, result.scenario, settings);
      }
      progress(`${result.scenario.title}, ${result.scenario.connections} connections: through the gateway (log ${level})`);
      const run = await load(throughGateway, result.scenario, settings);
      result.gateway[level] = run;
      counted += run.warmupResponses + run.responses;
    }
    afterLoad = readMemory(gateway.pid);
  } finally {
    const code = await gateway.stop();
    if (code !== 0) progress(`the gateway (log ${level}) exited with code ${code}`);
  }
  return {
    level,
    idle,
    afterLoad,
    auditRowsByStatus: countAuditRows(dataDir),
    countedResponses: counted,
    logLines: countLines(join(dataDir, 'gateway.log')),
  };
}

/**
 * Run one scenario through a gateway started with --cpu-prof and summarise the main thread's
 * profile. Node.js writes one file per thread (tsx's module loader runs on a worker thread),
 * named CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile, and the main thread's id is 0.
 */
async function profileScenario(stubUrl: string, outputDir: string, scenario: Scenario, level: LogLevel, settings: RunSettings): Promise<string> {
  const profileDir = join(outputDir, 'profiles', `${scenario.id}-${level}`);
  progress(`profiling the gateway: ${scenario.title}, ${scenario.connections} connections, log ${level}`);
  const gateway = await startGatewayChild(stubUrl, join(outputDir, `data-profile-${scenario.id}`), level, ['--cpu-prof', '--cpu-prof-dir', profileDir]);
  let run: LoadResult;
  try {
    run = await load({ url: gateway.ready.url, key: gateway.ready.userKey, watch: { gateway: gateway.pid } }, scenario, settings);
  } finally {
    await gateway.stop();
  }
  const mainThreadFile = readdirSync(profileDir).find((name) => name.includes(`.${gateway.pid}.0.`) && name.endsWith('.cpuprofile'));
  if (mainThreadFile === undefined) throw new Error(`no main-thread profile of process ${gateway.pid} in ${profileDir}`);
  const path = join(profileDir, mainThreadFile);
  const summary = summarizeProfile(readProfile(path), { windowUs: run.windowUs });
  return [
    `### ${scenario.title}, ${scenario.connections} connections, log ${level}`,
    `profile: ${path}`,
    `load while profiling: ${run.requestsPerSecond} req/s, p50 ${run.latencyMs.p50} ms, p99 ${run.latencyMs.p99} ms; samples from the measured ${settings.durationSeconds} s only`,
    formatSummary(summary),
  ].join('\n\n');
}

/** npm packages whose resident memory is measured when the idle RSS target is missed. */
const importedPackages = [
  'better-sqlite3',
  'express',
  'pino',
  'zod',
  'openai',
  '@anthropic-ai/sdk',
  'ollama',
  'gpt-tokenizer/encoding/o200k_base',
];
/** The gateway's entry module, which imports everything the gateway needs. It is TypeScript, so only tsx can load it. */
const gatewayModule = '../gateway-core/src/gateway';

/** Start one process per specifier, one after another, and read each one's RSS in KiB. */
async function importRss(specifiers: string[], tsx: boolean): Promise<number[]> {
  const rssKiB: number[] = [];
  for (const specifier of specifiers) {
    const child = await startChild({ script: 'bench/import-rss.mjs', args: [specifier], tsx });
    try {
      rssKiB.push(readMemory(child.pid).rssKiB);
    } finally {
      await child.stop();
    }
  }
  return rssKiB;
}

/**
 * RSS of a process that imports one module and nothing else, with plain Node.js and with tsx,
 * and what it adds to the same process importing nothing. Modules share dependencies, so the
 * added amounts do not sum to the gateway's.
 */
async function measureImportRss(): Promise<string> {
  progress('measuring the RSS each dependency adds on import');
  const [plainBaseline, ...plain] = await importRss(['none', ...importedPackages], false);
  const [tsxBaseline, ...withTsx] = await importRss(['none', ...importedPackages, gatewayModule], true);
  const mib = (kib: number): string => (kib / 1024).toFixed(1);
  const rows = [`| nothing (the baseline) | ${mib(plainBaseline!)} | | ${mib(tsxBaseline!)} | |`];
  [...importedPackages, gatewayModule].forEach((specifier, i) => {
    const plainCells = plain[i] === undefined ? 'cannot load .ts | ' : `${mib(plain[i]!)} | ${mib(plain[i]! - plainBaseline!)}`;
    rows.push(`| ${specifier} | ${plainCells} | ${mib(withTsx[i]!)} | ${mib(withTsx[i]! - tsxBaseline!)} |`);
  });
  return [
    '| imported | RSS MiB, plain Node.js | added MiB | RSS MiB, Node.js + tsx | added MiB |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      profile: { type: 'boolean', default: false },
      'skip-profile': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const settings: RunSettings = { durationSeconds: Number(values.duration), warmupSeconds: Number(values.warmup) };
  if (!(settings.durationSeconds >= 1) || !(settings.warmupSeconds >= 0)) {
    throw new Error(`--duration must be at least 1 and --warmup at least 0 seconds, not ${values.duration} and ${values.warmup}`);
  }

  const outputDir = mkdtempSync(join(tmpdir(), 'airlock-bench-'));
  process.stdout.write(`## Machine\n\n${machineDescription()}\n\n`);
  progress(`output folder ${outputDir}`);

  const stub = await startChild<StubReady>({ script: 'bench/stub-server.ts' });
  try {
    await checkEndpoint(stub.ready.url, 'sk-bench-direct', 'stub');
    const stubIdle = readMemory(stub.pid);
    const results: ScenarioResult[] = scenarios.map((scenario) => ({ scenario, direct: undefined as unknown as LoadResult, gateway: {} }));

    // Each scenario runs direct, then through the gateway, back to back with identical load settings.
    // The info-level gateway is compared with the same direct runs.
    const runs: GatewayRun[] = [];
    runs.push(await measureGateway(stub, join(outputDir, 'data-warn'), 'warn', results, settings, true));
    runs.push(await measureGateway(stub, join(outputDir, 'data-info'), 'info', results, settings, false));

    const targetRows = evaluateTargets(results, runs);
    const report = [
      `## Load (${settings.durationSeconds} s measured after ${settings.warmupSeconds} s warm-up per row)`,
      formatLoadTable(results),
      '## CPU use during each measured run, in cores (2 = both CPUs busy on this machine)',
      formatCpuTable(results),
      '## Memory',
      formatMemoryTable(runs, stubIdle),
      '## Audit',
      formatAuditTable(runs),
      '## Targets',
      formatTargetTable(targetRows),
    ];
    process.stdout.write(`${report.join('\n\n')}\n\n`);

    // One profile per code path, at 16 connections: missed non-streaming targets (16 or 64
    // connections) with the non-streaming scenario, missed streaming targets with the streaming one.
    // The profile runs at warn when the target missed there, else at info.
    const toProfile = new Map<string, LogLevel>();
    if (values.profile) for (const id of ['chat-16', 'stream-16']) toProfile.set(id, 'warn');
    for (const row of targetRows) {
      if (row.pass || row.scenarioId === null) continue;
      const id = scenarios.find((s) => s.id === row.scenarioId)!.stream ? 'stream-16' : 'chat-16';
      if (!toProfile.has(id) || row.level === 'warn') toProfile.set(id, row.level);
    }
    const profiles: string[] = [];
    if (!values['skip-profile']) {
      for (const [scenarioId, level] of toProfile) {
        const scenario = scenarios.find((s) => s.id === scenarioId)!;
        profiles.push(await profileScenario(stub.ready.url, outputDir, scenario, level, settings));
      }
    }
    if (profiles.length > 0) process.stdout.write(`## CPU profiles of the gateway\n\n${profiles.join('\n\n')}\n\n`);
    const rssMissed = targetRows.some((row) => !row.pass && row.name === 'gateway idle RSS');
    if ((rssMissed || values.profile) && !values['skip-profile']) {
      process.stdout.write(`## Resident memory by import\n\n${await measureImportRss()}\n\n`);
    }

    writeFileSync(join(outputDir, 'results.json'), `${JSON.stringify({ settings, results, runs, targets: targetRows }, null, 2)}\n`);
    for (const level of ['warn', 'info']) rmSync(join(outputDir, `data-${level}`), { recursive: true, force: true });
    for (const scenarioId of toProfile.keys()) rmSync(join(outputDir, `data-profile-${scenarioId}`), { recursive: true, force: true });
    progress(`results and profiles kept in ${outputDir}`);
  } finally {
    await stub.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
