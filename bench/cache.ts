/**
 * Speed of the response cache. Part 1 times an exact hit at the client: a real gateway on port 0
 * with the cache on answers the same request again and again, over keep-alive HTTP, with a
 * stub upstream that answers only the first time. Part 2 times a semantic lookup (embedding the
 * query, vector search and lexical check) with 100,000 entries of 384 dimensions in one
 * namespace, the built-in embedder's default size replaced by 384 to match the target.
 *
 * Run: npx tsx bench/cache.ts [--requests N] [--lookups N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HashedNgramEmbedder } from '../gateway-core/src/cache/embedders';
import { extractSignature } from '../gateway-core/src/cache/lexical';
import { SemanticTier } from '../gateway-core/src/cache/semantic';
import { buildConfig } from '../gateway-core/src/config/load';
import { createEnvSecretStore } from '../gateway-core/src/config/secrets';
import { startGateway } from '../gateway-core/src/gateway';
import { createLogger } from '../gateway-core/src/logger';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '3000' }, lookups: { type: 'string', default: '500' } }, strict: true });
const requests = Number(values.requests);
const lookups = Number(values.lookups);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50).toFixed(3)} ms, p99 ${percentile(sorted, 99).toFixed(3)} ms, max ${sorted[sorted.length - 1]!.toFixed(3)} ms`;
}

async function exactHits(): Promise<string> {
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({
        id: 'chatcmpl-bench',
        object: 'chat.completion',
        created: 1_800_000_000,
        model: 'gpt-4o',
        choices: [{ index: 0, message: { role: 'assistant', content: 'A cached answer of ordinary length. '.repeat(8) }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 20, completion_tokens: 60, total_tokens: 80 },
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-bench-cache-'));
  const config = buildConfig(
    {
      model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`, api_key: 'sk-bench' } }],
      airlock: { port: 0, cache: { enabled: true } },
    },
    createEnvSecretStore({}),
    { dataDir },
  );
  const gateway = await startGateway({ config, logger: createLogger({ level: 'silent' }) });
  const key = gateway.keys.create('bench', 'user').key;
  const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'How do I reverse a list in Python?' }] });
  const send = async (): Promise<string | null> => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
    await response.arrayBuffer();
    return response.headers.get('x-airlock-cache');
  };
  await send();
  for (let i = 0; i < 200; i++) await send();
  const samples: number[] = [];
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const status = await send();
    samples.push(performance.now() - started);
    if (status !== 'hit-exact') throw new Error(`expected an exact hit, got ${status}`);
  }
  await gateway.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
  rmSync(dataDir, { recursive: true, force: true });
  return `exact hit at the client, ${requests} sequential requests: ${summary(samples)}`;
}

async function semanticLookups(): Promise<string> {
  const embedder = new HashedNgramEmbedder({ dimensions: 384 });
  const tier = new SemanticTier({ enabled: true, threshold: 0.85, maxTurns: 1, maxTemperature: 1, lexicalCheck: 'content_words' as const }, embedder);
  const topics = ['list', 'dictionary', 'array', 'string', 'file', 'socket', 'thread', 'query', 'index', 'cache'];
  const verbs = ['reverse', 'sort', 'copy', 'merge', 'split', 'parse', 'open', 'close', 'lock', 'read'];
  const languages = ['Python', 'Go', 'Rust', 'Java', 'TypeScript', 'Ruby', 'C#', 'Kotlin', 'Swift', 'PHP'];
  const signatures = new Map<string, ReturnType<typeof extractSignature>>();
  const namespace = 'bench-namespace';
  for (let i = 0; i < 100_000; i++) {
    const text = `How do I ${verbs[i % 10]} a ${topics[Math.floor(i / 10) % 10]} in ${languages[Math.floor(i / 100) % 10]} for case ${i}?`;
    tier.add(namespace, `key-${i}`, embedder.embedOne(text));
    if (i % 1000 === 0) signatures.set(`key-${i}`, extractSignature(text));
  }
  const samples: number[] = [];
  for (let i = 0; i < lookups + 50; i++) {
    const text = `What is the way to ${verbs[i % 10]} a ${topics[(i * 3) % 10]} in ${languages[(i * 7) % 10]} for case ${i * 97}?`;
    const started = performance.now();
    const described = await tier.describe(text);
    tier.find({ text, semanticKey: namespace }, described, (key) => signatures.get(key) ?? extractSignature(key));
    if (i >= 50) samples.push(performance.now() - started);
  }
  return `semantic lookup (embed, search, lexical check), 100,000 entries × 384 dimensions in one namespace, ${lookups} lookups: ${summary(samples)}`;
}

process.stdout.write(`Node ${process.version} on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} CPUs)\n`);
process.stdout.write(`${await exactHits()}\n`);
process.stdout.write(`${await semanticLookups()}\n`);
