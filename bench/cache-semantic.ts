/**
 * Precision and recall of the semantic cache's hit decision on the labeled prompt pairs, for the
 * built-in hashed n-gram embedder, per similarity threshold, with and without the lexical check.
 *
 *   npx tsx bench/cache-semantic.ts [--pairs FILE] [--verbose]
 *
 * A pair labeled "hit" is a paraphrase that may share one cached response, and "miss" must not.
 * --verbose lists the false hits and the lexical rejections of paraphrases at the default threshold.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { HashedNgramEmbedder } from '../gateway-core/src/cache/embedders.js';
import { embeddingInput } from '../gateway-core/src/cache/semantic.js';
import { compareSignatures, describeMismatches, extractSignature } from '../gateway-core/src/cache/lexical.js';
import { DEFAULT_HASHED_NGRAM_THRESHOLD, cosineSimilarity } from '../gateway-core/src/cache/similarity.js';

interface LabeledPair {
  id: string;
  label: 'hit' | 'miss';
  kind: string;
  lang: string;
  a: string;
  b: string;
}

interface ScoredPair extends LabeledPair {
  similarity: number;
  lexicalEqual: boolean;
  lexicalDetail: string;
}

interface Counts {
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  trueNegatives: number;
}

const { values: options } = parseArgs({
  options: {
    pairs: { type: 'string', default: 'gateway-core/test/fixtures/cache/pairs.jsonl' },
    verbose: { type: 'boolean', default: false },
  },
});

const pairs = readFileSync(options.pairs ?? '', 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as LabeledPair);

const embedder = new HashedNgramEmbedder();

const embedStart = performance.now();
// The same input the semantic tier gives the embedder.
const vectorsA = await embedder.embed(pairs.map((pair) => embeddingInput(embedder, pair.a)));
const vectorsB = await embedder.embed(pairs.map((pair) => embeddingInput(embedder, pair.b)));
const embedMs = performance.now() - embedStart;

const lexicalStart = performance.now();
const scored: ScoredPair[] = pairs.map((pair, index) => {
  const comparison = compareSignatures(extractSignature(pair.a), extractSignature(pair.b));
  return {
    ...pair,
    similarity: cosineSimilarity(vectorsA[index] as Float32Array, vectorsB[index] as Float32Array),
    lexicalEqual: comparison.equal,
    lexicalDetail: describeMismatches(comparison.mismatches),
  };
});
const lexicalMs = performance.now() - lexicalStart;

function count(threshold: number, useLexical: boolean): Counts {
  const counts: Counts = { truePositives: 0, falsePositives: 0, falseNegatives: 0, trueNegatives: 0 };
  for (const pair of scored) {
    const predictedHit = pair.similarity >= threshold && (!useLexical || pair.lexicalEqual);
    if (pair.label === 'hit') {
      if (predictedHit) counts.truePositives += 1;
      else counts.falseNegatives += 1;
    } else if (predictedHit) {
      counts.falsePositives += 1;
    } else {
      counts.trueNegatives += 1;
    }
  }
  return counts;
}

function formatRatio(numerator: number, denominator: number): string {
  return denominator === 0 ? '-' : (numerator / denominator).toFixed(3);
}

const hitCount = pairs.filter((pair) => pair.label === 'hit').length;
console.log(`pairs: ${pairs.length} (${hitCount} should hit, ${pairs.length - hitCount} must not)`);
console.log(`embedder: ${embedder.name} ${embedder.version}`);
console.log(
  `time: embedding ${((embedMs * 1000) / (pairs.length * 2)).toFixed(1)} µs per prompt, ` +
    `lexical check ${((lexicalMs * 1000) / pairs.length).toFixed(1)} µs per pair (two extractions and a comparison)`,
);
console.log('');
console.log('| threshold | precision | recall | false hits | precision, similarity only | recall, similarity only |');
console.log('|---|---|---|---|---|---|');
for (let step = 40; step <= 95; step += 5) {
  const threshold = step / 100;
  const withLexical = count(threshold, true);
  const similarityOnly = count(threshold, false);
  const marker = threshold === DEFAULT_HASHED_NGRAM_THRESHOLD ? ' (default)' : '';
  console.log(
    `| ${threshold.toFixed(2)}${marker} ` +
      `| ${formatRatio(withLexical.truePositives, withLexical.truePositives + withLexical.falsePositives)} ` +
      `| ${formatRatio(withLexical.truePositives, hitCount)} ` +
      `| ${withLexical.falsePositives} ` +
      `| ${formatRatio(similarityOnly.truePositives, similarityOnly.truePositives + similarityOnly.falsePositives)} ` +
      `| ${formatRatio(similarityOnly.truePositives, hitCount)} |`,
  );
}

console.log('');
console.log(`Must-not-hit pairs stopped at the default threshold ${DEFAULT_HASHED_NGRAM_THRESHOLD}, by kind:`);
console.log('| kind | pairs | below threshold | lexical mismatch | false hits |');
console.log('|---|---|---|---|---|');
const kinds = [...new Set(scored.filter((pair) => pair.label === 'miss').map((pair) => pair.kind))].sort();
for (const kind of kinds) {
  const ofKind = scored.filter((pair) => pair.label === 'miss' && pair.kind === kind);
  const below = ofKind.filter((pair) => pair.similarity < DEFAULT_HASHED_NGRAM_THRESHOLD).length;
  const lexical = ofKind.filter((pair) => pair.similarity >= DEFAULT_HASHED_NGRAM_THRESHOLD && !pair.lexicalEqual).length;
  console.log(`| ${kind} | ${ofKind.length} | ${below} | ${lexical} | ${ofKind.length - below - lexical} |`);
}

if (options.verbose) {
  const threshold = DEFAULT_HASHED_NGRAM_THRESHOLD;
  console.log('\nFalse hits at the default threshold:');
  for (const pair of scored) {
    if (pair.label === 'miss' && pair.similarity >= threshold && pair.lexicalEqual) {
      console.log(`  ${pair.id} ${pair.similarity.toFixed(3)} ${JSON.stringify(pair.a)} / ${JSON.stringify(pair.b)}`);
    }
  }
  console.log('\nParaphrases rejected by the lexical check:');
  for (const pair of scored) {
    if (pair.label === 'hit' && !pair.lexicalEqual) {
      console.log(`  ${pair.id} ${pair.similarity.toFixed(3)} ${JSON.stringify(pair.a)} / ${JSON.stringify(pair.b)}: ${pair.lexicalDetail}`);
    }
  }
  console.log('\nParaphrases below the default threshold:');
  for (const pair of scored) {
    if (pair.label === 'hit' && pair.similarity < threshold) {
      console.log(`  ${pair.id} ${pair.similarity.toFixed(3)} ${JSON.stringify(pair.a)} / ${JSON.stringify(pair.b)}`);
    }
  }
}
