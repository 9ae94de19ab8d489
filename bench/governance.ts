/**
 * Time of the governance layer's work for one request, in process, without HTTP, on a real
 * SQLite file (WAL, synchronous=NORMAL) in the OS temp folder (set TMPDIR to move it). Five
 * budgets apply to every request (org, team, user, key and alias), and the ledger starts with
 * --history settled rows spread over the last 20 days.
 *
 * Cases: admission plus settlement of one request, the hot path: a check in memory, then one
 * write transaction with one row. Then the same with the directory lookup and rate limits
 * around it, admission plus release (no write), and the worst-case cost computation. The o200k
 * token count of the prompt is measured apart, because the governance path takes the count as
 * input. Each case runs a warm-up, then times every call with process.hrtime.bigint() and
 * prints p50, p99, p99.9 and the maximum in microseconds.
 *
 * The first admission after a restart, which reads the five sums from the ledger, is timed on
 * its own, with and without BudgetAdmission.warm() at start.
 *
 * Run: npx tsx bench/governance.ts [--iterations N] [--warmup N] [--history N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AdmissionRequest } from '../gateway-core/src/governance/admission';
import { governanceSchema } from '../gateway-core/src/governance/config-schema';
import { createGovernance, type Governance } from '../gateway-core/src/governance/governance';
import { worstCaseCost } from '../gateway-core/src/governance/reservation';
import { computeCost, resolveModelInfo } from '../gateway-core/src/models/table';
import { openDatabase, type SqliteDatabase } from '../gateway-core/src/storage/database';
import { KeyStore } from '../gateway-core/src/storage/keys';
import { estimateTokens } from '../gateway-core/src/usage/estimate';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '100000' },
    warmup: { type: 'string', default: '10000' },
    history: { type: 'string', default: '100000' },
  },
  strict: true,
});
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
const history = Number(values.history);
if (!Number.isInteger(iterations) || iterations < 1000 || !Number.isInteger(warmup) || warmup < 0 || !Number.isInteger(history) || history < 0) {
  process.stderr.write('bench governance: --iterations must be an integer >= 1000, --warmup and --history integers >= 0\n');
  process.exit(2);
}

const dataDir = mkdtempSync(join(tmpdir(), 'airlock-bench-governance-'));
let db: SqliteDatabase = openDatabase(dataDir);
const keys = new KeyStore(db, null);

const config = governanceSchema.parse({
  time_zone: 'Asia/Ho_Chi_Minh',
  teams: [{ id: 'backend', rpm_limit: 1_000_000_000, tpm_limit: 1_000_000_000_000 }],
  users: [{ id: 'alice', team_id: 'backend', rpm_limit: 1_000_000_000 }],
  budgets: [
    { scope: 'org', period: 'monthly', limit_usd: 1_000_000_000 },
    { scope: 'team', scope_id: 'backend', period: 'monthly', limit_usd: 1_000_000_000, action: 'downgrade', downgrade_alias: 'local-coder' },
    { scope: 'user', scope_id: 'alice', period: 'daily', limit_usd: 1_000_000_000 },
    { scope: 'alias', scope_id: 'gpt-4o', period: 'weekly', limit_usd: 1_000_000_000 },
  ],
});

function build(database: SqliteDatabase): Governance {
  const governance = createGovernance(database);
  governance.applyConfig(config);
  return governance;
}

let gov = build(db);
const key = keys.create('bench', 'user', { userId: 'alice', teamId: 'backend' }).record;
gov.budgets.create({ scope: { kind: 'key', id: key.id }, period: { kind: 'monthly', timeZone: null }, limitUsd: 1_000_000_000 });
gov.keys.setKeyLimits(key.id, { rpmLimit: 1_000_000_000, tpmLimit: null });

// Past requests of this month, spread over the last 20 days.
const insertHistory = db.prepare(`
  INSERT INTO ledger_entries (request_id, created_at, settled_at, key_id, user_id, team_id, alias, requested_model, model, reserved_usd, cost_usd)
  VALUES (?, ?, ?, ?, 'alice', 'backend', 'gpt-4o', 'gpt-4o', 'gpt-4o', 0.02, 0.01)`);
db.transaction(() => {
  const now = Date.now();
  for (let i = 0; i < history; i++) {
    const at = now - Math.floor((i / Math.max(1, history)) * 20 * 86_400_000);
    insertHistory.run(`history-${i}`, at, at, key.id);
  }
})();

const principal = gov.keys.resolve({ keyId: key.id, userId: 'alice', teamId: 'backend' });
const gpt4o = resolveModelInfo('gpt-4o', 'cloud');
const prompt = `Why does this handler leak memory?\n${'app.get("/items/:id", async (req, res) => { const item = await db.find(req.params.id); cache.set(req.params.id, item); res.json(item); });\n'.repeat(8)}`;
const promptTokens = estimateTokens(prompt);
const usage = { inputTokens: promptTokens, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, outputTokens: 300, reasoningTokens: null };

function request(i: number): AdmissionRequest {
  const worst = worstCaseCost({ modelInfo: gpt4o, promptTokens, maxOutputTokens: 1024, promptCaching: 'none' });
  return {
    requestId: `bench-${i}`,
    principal,
    alias: 'gpt-4o',
    requestedModel: 'gpt-4o',
    deployment: { id: 'gpt-4o#0', model: 'gpt-4o' },
    worstCaseUsd: worst.usd,
  };
}

interface Result {
  name: string;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Times `run(i)` for each iteration after the warm-up; returns percentiles in microseconds. */
function measure(name: string, count: number, run: (i: number) => unknown): Result {
  let sink = 0;
  for (let i = 0; i < warmup; i++) sink ^= run(-1 - i) === null ? 1 : 0;
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    const value = run(i);
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
    sink ^= value === null ? 1 : 0;
  }
  if (sink === 2) console.log('unreachable');
  samples.sort();
  const at = (quantile: number): number => samples[Math.min(count - 1, Math.floor(quantile * count))]!;
  return { name, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: samples[count - 1]! };
}

/** Admits and settles one request; the request object is built before the timer starts. */
function admitAndSettle(admission: AdmissionRequest): number {
  const decision = gov.admission.admit(admission);
  if (decision.kind !== 'admitted') throw new Error(`bench request was not admitted: ${decision.kind}`);
  const costUsd = computeCost(gpt4o, usage);
  gov.admission.settle(decision.reservation, { costUsd, estimated: false, wouldHaveCostUsd: costUsd });
  return decision.reservation.id;
}

const results: Result[] = [];
const prepared = Array.from({ length: iterations }, (_, i) => request(i));
const warm = request(-1);

results.push(measure('admit + settle, 5 budgets', iterations, (i) => admitAndSettle(i < 0 ? warm : prepared[i]!)));

results.push(
  measure('resolve + rate limits + admit + settle, 5 budgets', iterations, (i) => {
    const resolved = gov.keys.resolve({ keyId: key.id, userId: 'alice', teamId: 'backend' });
    const rate = gov.rateLimits.acquire(resolved, promptTokens);
    if (rate.kind !== 'allowed') throw new Error('bench request was rate limited');
    const seq = admitAndSettle(i < 0 ? warm : prepared[i]!);
    gov.rateLimits.complete(rate.lease, promptTokens + 300);
    return seq;
  }),
);

results.push(
  measure('admit + release, 5 budgets', iterations, (i) => {
    const decision = gov.admission.admit(i < 0 ? warm : prepared[i]!);
    if (decision.kind !== 'admitted') throw new Error('bench request was not admitted');
    return gov.admission.release(decision.reservation);
  }),
);

results.push(measure('worstCaseCost', iterations, () => worstCaseCost({ modelInfo: gpt4o, promptTokens, maxOutputTokens: 1024, promptCaching: 'none' })));

results.push(measure(`o200k token count of a ${(prompt.length / 1024).toFixed(1)} KB prompt (measured apart)`, iterations, () => estimateTokens(prompt)));

// The first admission after a restart reads five sums from a ledger that now contains the
// history plus every row written above.
const ledgerRows = (db.prepare('SELECT count(*) AS n FROM ledger_entries').get() as { n: number }).n;
const restarts = 20;
const coldSamples: number[] = [];
const warmedSamples: number[] = [];
for (let i = 0; i < restarts; i++) {
  db.close();
  db = openDatabase(dataDir);
  gov = build(db);
  let start = process.hrtime.bigint();
  if (i % 2 === 0) {
    admitAndSettle(request(iterations + i));
    coldSamples.push(Number(process.hrtime.bigint() - start) / 1000);
  } else {
    gov.admission.warm();
    start = process.hrtime.bigint();
    admitAndSettle(request(iterations + i));
    warmedSamples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
}
coldSamples.sort((a, b) => a - b);
warmedSamples.sort((a, b) => a - b);

db.close();
rmSync(dataDir, { recursive: true, force: true });

const format = (us: number): string => us.toFixed(2);
console.log(`Governance time per request: ${iterations} timed calls per case after ${warmup} warm-up calls, ledger started with ${history} rows`);
console.log(`Node ${process.version} on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} CPUs), Linux ${release()}, database in ${tmpdir()}`);
console.log('');
console.log('| case | p50 µs | p99 µs | p99.9 µs | max µs |');
console.log('|---|---:|---:|---:|---:|');
for (const result of results) {
  console.log(`| ${result.name} | ${format(result.p50)} | ${format(result.p99)} | ${format(result.p999)} | ${format(result.max)} |`);
}
console.log('');
const median = (samples: number[]): number => samples[samples.length >> 1]!;
console.log(`First admit + settle after a restart, ledger of ${ledgerRows} rows (${restarts / 2} restarts each):`);
console.log(`- without warm(): median ${format(median(coldSamples))} µs, max ${format(coldSamples[coldSamples.length - 1]!)} µs`);
console.log(`- after warm() at start: median ${format(median(warmedSamples))} µs, max ${format(warmedSamples[warmedSamples.length - 1]!)} µs`);
