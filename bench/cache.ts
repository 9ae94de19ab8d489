/**
 * Speed of the response cache. Part 1 times an exact hit at the client: a real gateway on port 0
 * with the cache on answers the same request again and again, over keep-alive HTTP, with a
 * stub upstream that answers only the first time. Part 2 times a semantic lookup (embedding the
 * query, finding candidates, lexical check, reading the hit) with 100,000 entries of 384
 * dimensions in one namespace of a SQLite store, once per lexical check: content_words reads
 * candidates by content key, signature searches the in-memory vector index. The built-in
 * embedder's default size is replaced by 384 to match the target.
 *
 * Run: npx tsx bench/cache.ts [--requests N] [--lookups N] [--exact-only]
 * --exact-only skips part 2, for a CPU profile of the hit path alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HashedNgramEmbedder } from '../gateway-core/src/cache/embedders';
import type { LexicalCheck, LexicalSignature } from '../gateway-core/src/cache/lexical';
import { type DescribedQuery, type SemanticQuery, SemanticTier, type SemanticSource } from '../gateway-core/src/cache/semantic';
import { DEFAULT_CACHE_SETTINGS } from '../gateway-core/src/cache/settings';
import { CacheStore } from '../gateway-core/src/cache/store';
import { openDatabase } from '../gateway-core/src/storage/database';
import { buildConfig } from '../gateway-core/src/config/load';
import { createEnvSecretStore } from '../gateway-core/src/config/secrets';
import { startGateway } from '../gateway-core/src/gateway';
import { createLogger } from '../gateway-core/src/logger';

const { values } = parseArgs({
  options: { requests: { type: 'string', default: '3000' }, lookups: { type: 'string', default: '500' }, 'exact-only': { type: 'boolean', default: false } },
  strict: true,
});
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

const VERBS = ['reverse', 'sort', 'copy', 'merge', 'split', 'parse', 'open', 'close', 'lock', 'read'];
const TOPICS = ['list', 'dictionary', 'array', 'string', 'file', 'socket', 'thread', 'query', 'index', 'cache'];
const LANGUAGES = ['Python', 'Go', 'Rust', 'Java', 'TypeScript', 'Ruby', 'C#', 'Kotlin', 'Swift', 'PHP'];
const ENTRIES = 100_000;

/** Returns the stored question for case n, whose verb, topic and language follow from n. */
function storedQuestion(n: number): string {
  return `How do I ${VERBS[n % 10]} a ${TOPICS[Math.floor(n / 10) % 10]} in ${LANGUAGES[Math.floor(n / 100) % 10]} for case ${n}?`;
}

/**
 * Times a semantic lookup (embed, candidate search, lexical check, reading the hit) with 100,000
 * entries of 384 dimensions in one namespace of a SQLite cache store, under one lexical check.
 * Every other query rewords a stored question and should hit, and the rest swap its verb.
 */
async function semanticLookups(check: LexicalCheck): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-bench-semantic-'));
  const db = openDatabase(dataDir);
  const embedder = new HashedNgramEmbedder({ dimensions: 384 });
  const tier = new SemanticTier({ ...DEFAULT_CACHE_SETTINGS.semantic, lexicalCheck: check }, embedder);
  const store = new CacheStore(db, { maxBytes: 1_000_000_000, onRemove: (key, semanticKey) => tier.remove(key, semanticKey) });
  const semanticQuery = (text: string) => {
    const query = tier.query('openai-chat', 'team:bench', 'gpt-4o', ['gpt-4o#0'], { model: 'gpt-4o', messages: [{ role: 'user', content: text }] });
    if ('skip' in query) throw new Error(`the bench question skips the semantic tier: ${query.skip}`);
    return query;
  };

  const fill = db.transaction((batch: Array<{ n: number; query: SemanticQuery; described: DescribedQuery }>) => {
    for (const { n, query, described } of batch) {
      store.put({
        key: `key-${n}`,
        namespace: 'team:bench',
        alias: 'gpt-4o',
        format: 'openai-chat',
        response: { answer: n },
        usage: null,
        costUsd: 0.001,
        latencyMs: 800,
        ttlSeconds: 3600,
        semantic: { semanticKey: query.semanticKey, embedding: described.vector, signature: JSON.stringify(described.signature), contentKey: described.contentKey },
      });
      tier.add(query.semanticKey, `key-${n}`, described.vector);
    }
  });
  for (let from = 0; from < ENTRIES; from += 5000) {
    const batch = [];
    for (let n = from; n < from + 5000; n++) {
      const query = semanticQuery(storedQuestion(n));
      batch.push({ n, query, described: await tier.describe(query) });
    }
    fill(batch);
  }

  const source: SemanticSource = {
    signatureOf: (key) => {
      const signature = store.peek(key)?.signature;
      return signature ? (JSON.parse(signature) as LexicalSignature) : null;
    },
    contentCandidates: (contentKey) => store.contentCandidates(contentKey),
  };
  const samples: number[] = [];
  let hits = 0;
  for (let i = 0; i < lookups + 50; i++) {
    const n = (i * 7919) % ENTRIES;
    const verb = i % 2 === 0 ? VERBS[n % 10] : VERBS[(n + 1) % 10];
    const text = `What is the way to ${verb} a ${TOPICS[Math.floor(n / 10) % 10]} in ${LANGUAGES[Math.floor(n / 100) % 10]} for case ${n}?`;
    const started = performance.now();
    const query = semanticQuery(text);
    const found = tier.find(query, await tier.describe(query), source);
    if (found !== null) store.get(found.key);
    if (i >= 50) {
      samples.push(performance.now() - started);
      if (found !== null) hits++;
    }
  }
  db.close();
  rmSync(dataDir, { recursive: true, force: true });
  return `semantic lookup, lexical_check ${check} (embed, candidates, lexical check, read the hit), ${ENTRIES.toLocaleString('en-US')} entries × 384 dimensions in one namespace, ${lookups} lookups, ${hits} hits: ${summary(samples)}`;
}

process.stdout.write(`Node ${process.version} on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} CPUs)\n`);
process.stdout.write(`${await exactHits()}\n`);
if (!values['exact-only']) {
  process.stdout.write(`${await semanticLookups('content_words')}\n`);
  process.stdout.write(`${await semanticLookups('signature')}\n`);
}
