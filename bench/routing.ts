/**
 * Time of one routing decision, in process, without HTTP. The cases are Router.plan() for an
 * alias of three deployments under each strategy, the routing policy's decide() for the auto
 * model, and Router.plan() for the auto model (policy, then strategy). The auto model's token
 * count is characters / 4; the last case times the o200k tokenizer on the same prompt, to show
 * why the routing path does not use it. Each case runs a warm-up, then times
 * every call with process.hrtime.bigint() and prints p50, p99, p99.9 and the maximum in
 * microseconds. The timer itself adds well under a microsecond to each sample.
 *
 * Run: npx tsx bench/routing.ts [--iterations N] [--warmup N]
 */
import { cpus, release } from 'node:os';
import { parseArgs } from 'node:util';
import { buildConfig } from '../gateway-core/src/config/load';
import { createEnvSecretStore } from '../gateway-core/src/config/secrets';
import { Router, type PlanRequest } from '../gateway-core/src/pipeline/router';
import type { CompiledPolicy } from '../gateway-core/src/routing/policy';
import type { RoutingInput, RoutingStrategy } from '../gateway-core/src/routing/types';
import { estimateTokens } from '../gateway-core/src/usage/estimate';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '200000' },
    warmup: { type: 'string', default: '20000' },
  },
  strict: true,
});
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
if (!Number.isInteger(iterations) || iterations < 1000 || !Number.isInteger(warmup) || warmup < 0) {
  process.stderr.write('bench routing: --iterations must be an integer >= 1000 and --warmup an integer >= 0\n');
  process.exit(2);
}

const key = 'os.environ/BENCH_KEY';
const config = buildConfig(
  {
    model_list: [
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: 'http://127.0.0.1:9/v1', weight: 3, rpm: 600 } },
      { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o-mini', api_key: key, api_base: 'http://127.0.0.1:9/v1', weight: 2, tpm: 2_000_000 } },
      { model_name: 'pool', litellm_params: { model: 'anthropic/claude-haiku-4-5-20251001', api_key: key, api_base: 'http://127.0.0.1:9', weight: 1 } },
      { model_name: 'local', litellm_params: { model: 'ollama/llama3.2', api_base: 'http://127.0.0.1:9' } },
      { model_name: 'strong', litellm_params: { model: 'anthropic/claude-opus-4-1-20250805', api_key: key, api_base: 'http://127.0.0.1:9' } },
    ],
    // Every default rule resolves to "pool", so the auto model's plan also orders three deployments.
    airlock: { port: 0, routing: { strongest: 'pool', cheapest: 'pool' } },
  },
  createEnvSecretStore({ BENCH_KEY: 'sk-bench-not-a-real-key' }),
  { dataDir: '/nonexistent-bench-data-dir' },
);
const policy = config.policy as CompiledPolicy;

/** Builds a router for one strategy, with health as a busy gateway has it: latencies, usage and one call in flight. */
function routerFor(strategy: RoutingStrategy): Router {
  const router = new Router({ aliases: config.aliases, groupAliases: config.groupAliases, settings: { ...config.router, strategy }, policy });
  const pool = config.aliases.get('pool')!;
  pool.forEach((deployment, index) => {
    for (let call = 0; call < 20; call++) {
      router.health.begin(deployment.id);
      router.health.succeed(deployment.id, { latencyMs: 300 + 150 * index + (call % 7) * 10, ttftMs: 120 + 40 * index, tokens: 900 });
    }
  });
  router.health.begin(pool[0]!.id);
  return router;
}

const codePaste = `Why does this handler leak memory?\n${'app.get("/items/:id", async (req, res) => { const item = await db.find(req.params.id); cache.set(req.params.id, item); res.json(item); });\n'.repeat(8)}`;
const prompts = [
  'What does HTTP 418 mean?',
  'Compare two architecture options for the payment service and their trade-offs.',
  'Dịch sang tiếng Anh: "Cuộc họp dời sang thứ Hai."',
  codePaste,
];

function routingInput(text: string): RoutingInput {
  return {
    systemText: 'You are a helpful coding assistant.',
    lastUserText: text,
    promptTokens: estimateTokens(text),
    hasImages: false,
    hasTools: false,
    principal: { keyId: 'key_bench', userId: null, teamId: null },
    client: 'openai-node',
    now: new Date(),
  };
}
const inputs = prompts.map(routingInput);

interface Result {
  name: string;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Time `run(i)` for each iteration after the warm-up; returns percentiles in microseconds. */
function measure(name: string, run: (i: number) => unknown): Result {
  let sink = 0;
  for (let i = 0; i < warmup; i++) sink ^= run(i) === null ? 1 : 0;
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    const value = run(i);
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
    sink ^= value === null ? 1 : 0;
  }
  if (sink === 2) console.log('unreachable');
  samples.sort();
  const at = (quantile: number): number => samples[Math.min(iterations - 1, Math.floor(quantile * iterations))]!;
  return { name, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: samples[iterations - 1]! };
}

const request: PlanRequest = { requested: 'pool', mode: 'chat', stream: false, estimatedTokens: 250 };
const results: Result[] = [];
for (const strategy of ['simple-shuffle', 'least-busy', 'latency-based', 'usage-based', 'cost-based'] as const) {
  const router = routerFor(strategy);
  results.push(measure(`Router.plan, 3 deployments, ${strategy}`, () => router.plan(request)));
}
results.push(measure('policy.decide, default rules, 4 prompts in turn', (i) => policy.decide(inputs[i % inputs.length]!)));
const autoRouter = routerFor('simple-shuffle');
results.push(
  measure('Router.plan for auto: default rules, then simple-shuffle over 3 deployments', (i) =>
    autoRouter.plan({ requested: 'auto', mode: 'chat', stream: false, estimatedTokens: 250, routingInput: () => inputs[i % inputs.length]! }),
  ),
);
results.push(measure(`o200k token count of a ${(codePaste.length / 1024).toFixed(1)} KB prompt (not on the routing path)`, () => estimateTokens(codePaste)));

const format = (us: number): string => us.toFixed(2);
console.log(`Routing decision time: ${iterations} timed calls per case after ${warmup} warm-up calls`);
console.log(`Node ${process.version} on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} CPUs), Linux ${release()}`);
console.log('');
console.log('| case | p50 µs | p99 µs | p99.9 µs | max µs |');
console.log('|---|---:|---:|---:|---:|');
for (const result of results) {
  console.log(`| ${result.name} | ${format(result.p50)} | ${format(result.p99)} | ${format(result.p999)} | ${format(result.max)} |`);
}
