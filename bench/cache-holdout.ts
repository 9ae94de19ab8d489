/**
 * Precision and recall of the semantic cache's hit decision on a hold-out set of labeled prompt
 * pairs that was written without reference to the lexical rules or to the pairs in pairs.jsonl.
 * It uses only the public API: HashedNgramEmbedder for vectors and decide() for the decision
 * (similarity threshold, then the lexical check).
 *
 *   npx tsx bench/cache-holdout.ts [--pairs FILE] [--check content_words|signature] [--verbose]
 *
 * A pair labeled "hit" asks the same question twice, so one cached response is correct for both.
 * A pair labeled "miss" asks two different questions, so serving one's response for the other is
 * a false hit. --verbose lists every false hit at any threshold in the table, and the paraphrases
 * that the default threshold rejects, with the reason decide() gives.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { HashedNgramEmbedder } from '../gateway-core/src/cache/embedders.js';
import type { LexicalCheck } from '../gateway-core/src/cache/lexical.js';
import { embeddingInput } from '../gateway-core/src/cache/semantic.js';
import { DEFAULT_HASHED_NGRAM_THRESHOLD, type SemanticDecision, decide } from '../gateway-core/src/cache/similarity.js';

const DEFAULT_PAIRS_PATH = 'gateway-core/test/fixtures/cache/holdout-pairs.jsonl';
const THRESHOLDS = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9] as const;

interface LabeledPair {
  id: string;
  label: 'hit' | 'miss';
  kind: string;
  lang: 'en' | 'vi';
  a: string;
  b: string;
}

interface PairResult {
  pair: LabeledPair;
  /** One decision per entry of THRESHOLDS, in the same order. */
  decisions: SemanticDecision[];
}

interface ThresholdScore {
  threshold: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  trueNegatives: number;
}

function requireString(record: Record<string, unknown>, field: string, where: string): string {
  const value = record[field];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Error(`${where}: field "${field}" is missing or not a non-empty string.`);
  }
  return value;
}

/** Parses the JSONL file and rejects any line that is not a complete labeled pair. */
function loadPairs(path: string): LabeledPair[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`Failed to read pairs file ${path}: ${(error as Error).message}. Pass another file with --pairs.`);
  }

  const pairs: LabeledPair[] = [];
  const seenIds = new Set<string>();
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index]?.trim() ?? '';
    if (line === '') continue;
    const where = `${path}:${index + 1}`;

    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new Error(`${where}: invalid JSON (${(error as Error).message}).`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`${where}: expected a JSON object.`);
    }
    const record = parsed as Record<string, unknown>;

    const id = requireString(record, 'id', where);
    const label = requireString(record, 'label', where);
    const lang = requireString(record, 'lang', where);
    if (label !== 'hit' && label !== 'miss') {
      throw new Error(`${where}: invalid label "${label}", expected "hit" or "miss".`);
    }
    if (lang !== 'en' && lang !== 'vi') {
      throw new Error(`${where}: invalid lang "${lang}", expected "en" or "vi".`);
    }
    if (seenIds.has(id)) {
      throw new Error(`${where}: duplicate id "${id}".`);
    }
    seenIds.add(id);

    pairs.push({
      id,
      label,
      lang,
      kind: requireString(record, 'kind', where),
      a: requireString(record, 'a', where),
      b: requireString(record, 'b', where),
    });
  }

  if (pairs.length === 0) {
    throw new Error(`Pairs file ${path} contains no pairs.`);
  }
  return pairs;
}

async function evaluatePairs(pairs: readonly LabeledPair[], check: LexicalCheck): Promise<PairResult[]> {
  const embedder = new HashedNgramEmbedder();
  // The same input the semantic tier gives the embedder.
  const vectors = await embedder.embed(pairs.flatMap((pair) => [embeddingInput(embedder, pair.a), embeddingInput(embedder, pair.b)]));

  return pairs.map((pair, index) => {
    const vectorA = vectors[2 * index];
    const vectorB = vectors[2 * index + 1];
    if (vectorA === undefined || vectorB === undefined) {
      throw new Error(`Embedder returned ${vectors.length} vectors for ${2 * pairs.length} texts.`);
    }
    // Prompt a is the cached entry and prompt b is the incoming request.
    const cached = { text: pair.a, vector: vectorA };
    const query = { text: pair.b, vector: vectorB };
    const decisions = THRESHOLDS.map((threshold) => decide(query, cached, threshold, check));
    return { pair, decisions };
  });
}

function scoreThreshold(results: readonly PairResult[], thresholdIndex: number): ThresholdScore {
  const score: ThresholdScore = {
    threshold: THRESHOLDS[thresholdIndex] ?? Number.NaN,
    truePositives: 0,
    falsePositives: 0,
    falseNegatives: 0,
    trueNegatives: 0,
  };
  for (const { pair, decisions } of results) {
    const hit = decisions[thresholdIndex]?.hit ?? false;
    if (pair.label === 'hit') {
      if (hit) score.truePositives += 1;
      else score.falseNegatives += 1;
    } else if (hit) {
      score.falsePositives += 1;
    } else {
      score.trueNegatives += 1;
    }
  }
  return score;
}

function formatRatio(numerator: number, denominator: number): string {
  // Precision has no value when nothing was served from the cache.
  return denominator === 0 ? 'n/a' : (numerator / denominator).toFixed(3);
}

function printTable(scores: readonly ThresholdScore[]): void {
  console.log('threshold  precision  recall  false hits  true hits  missed paraphrases');
  for (const score of scores) {
    const precision = formatRatio(score.truePositives, score.truePositives + score.falsePositives);
    const recall = formatRatio(score.truePositives, score.truePositives + score.falseNegatives);
    const marker = score.threshold === DEFAULT_HASHED_NGRAM_THRESHOLD ? ' (default)' : '';
    console.log(
      `${score.threshold.toFixed(2).padEnd(9)}  ${precision.padStart(9)}  ${recall.padStart(6)}  ` +
        `${String(score.falsePositives).padStart(10)}  ${String(score.truePositives).padStart(9)}  ` +
        `${String(score.falseNegatives).padStart(18)}${marker}`,
    );
  }
}

function printPair(pair: LabeledPair, decision: SemanticDecision | undefined): void {
  console.log(`  ${pair.id} [${pair.kind}, ${pair.lang}] similarity ${decision?.similarity.toFixed(4) ?? '?'}`);
  console.log(`    a: ${pair.a}`);
  console.log(`    b: ${pair.b}`);
  if (decision !== undefined && !decision.hit) console.log(`    ${decision.reason}: ${decision.detail}`);
}

function printFalseHits(results: readonly PairResult[]): void {
  const falseHits = results.filter(({ pair, decisions }) => pair.label === 'miss' && decisions.some((d) => d.hit));
  console.log(`\nFalse hits at any threshold from ${THRESHOLDS[0]} (${falseHits.length}):`);
  for (const { pair, decisions } of falseHits) {
    const hitAt = THRESHOLDS.filter((_, index) => decisions[index]?.hit).map((t) => t.toFixed(2));
    printPair(pair, decisions[0]);
    console.log(`    served at thresholds: ${hitAt.join(', ')}`);
  }
}

function printMissedParaphrases(results: readonly PairResult[]): void {
  const defaultIndex = THRESHOLDS.findIndex((threshold) => threshold === DEFAULT_HASHED_NGRAM_THRESHOLD);
  if (defaultIndex < 0) {
    console.log(`\nThe default threshold ${DEFAULT_HASHED_NGRAM_THRESHOLD} is not in the table, so missed paraphrases are not listed.`);
    return;
  }
  const missed = results.filter(({ pair, decisions }) => pair.label === 'hit' && !decisions[defaultIndex]?.hit);
  console.log(`\nMissed paraphrases at the default threshold ${DEFAULT_HASHED_NGRAM_THRESHOLD} (${missed.length}):`);
  for (const { pair, decisions } of missed) printPair(pair, decisions[defaultIndex]);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pairs: { type: 'string', default: DEFAULT_PAIRS_PATH },
      check: { type: 'string', default: 'content_words' },
      verbose: { type: 'boolean', default: false },
    },
  });
  if (values.check !== 'content_words' && values.check !== 'signature') {
    throw new Error(`Invalid --check ${values.check}: expected content_words or signature.`);
  }
  const check: LexicalCheck = values.check;

  const pairs = loadPairs(values.pairs);
  const hitCount = pairs.filter((pair) => pair.label === 'hit').length;
  console.log(`${pairs.length} pairs from ${values.pairs}: ${hitCount} labeled hit, ${pairs.length - hitCount} labeled miss`);
  console.log(`Embedder: HashedNgramEmbedder with default options. Decision: decide() from similarity.ts, lexical check ${check}.\n`);

  const results = await evaluatePairs(pairs, check);
  printTable(THRESHOLDS.map((_, index) => scoreThreshold(results, index)));

  if (values.verbose) {
    printFalseHits(results);
    printMissedParaphrases(results);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
