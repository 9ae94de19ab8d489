/**
 * The semantic cache's hit decision: cosine similarity of the two prompts' vectors must reach a
 * threshold, and then the lexical check must find the same numbers, names, paths, quotes, code,
 * technology and contrast terms, and negation count in both.
 */
import { type LexicalCheck, type LexicalMismatch, type LexicalSignature, compareSignatures, describeMismatches, extractSignature } from './lexical.js';

/**
 * Default threshold for the built-in hashed n-gram embedder, chosen on the labeled pairs in
 * gateway-core/test/fixtures/cache and checked on later hold-out sets with bench/cache-holdout.ts.
 * Under the content-words check, thresholds from 0.5 to 0.9 gave the same precision there.
 * NOTE: HTTP embedders (Ollama, OpenAI-compatible) have no measured default; their scores
 * spread differently per model, so set a threshold per model after measuring it.
 */
export const DEFAULT_HASHED_NGRAM_THRESHOLD = 0.7;

/** Cosine similarity of two vectors of equal length; for unit vectors this is the dot product. */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) {
    throw new RangeError(`Cannot compare vectors of different lengths (${a.length} and ${b.length}); were they made by different embedders?`);
  }
  let dot = 0;
  for (let index = 0; index < a.length; index += 1) dot += (a[index] ?? 0) * (b[index] ?? 0);
  // Float32 rounding can push the dot product of two equal unit vectors slightly past 1.
  return Math.min(1, Math.max(-1, dot));
}

/** A prompt for the hit decision: its text, its unit vector and, if cached, its stored signature. */
export interface SemanticPrompt {
  text: string;
  vector: Float32Array;
  /** Computed from text when absent; pass the stored one for cached entries to save work. */
  signature?: LexicalSignature;
}

export type SemanticDecisionReason = 'hit' | 'below_threshold' | 'lexical_mismatch';

export interface SemanticDecision {
  hit: boolean;
  reason: SemanticDecisionReason;
  similarity: number;
  threshold: number;
  /** Empty unless reason is "lexical_mismatch". */
  mismatches: LexicalMismatch[];
  /** One line for logs and the audit record. */
  detail: string;
}

/** Decides whether a cached prompt may answer the query: similarity first, then the lexical check. */
export function decide(
  query: SemanticPrompt,
  candidate: SemanticPrompt,
  threshold: number = DEFAULT_HASHED_NGRAM_THRESHOLD,
  check: LexicalCheck = 'content_words',
): SemanticDecision {
  if (!Number.isFinite(threshold) || threshold < -1 || threshold > 1) {
    throw new RangeError(`Invalid similarity threshold ${threshold}: expected a number from -1 to 1.`);
  }

  const similarity = cosineSimilarity(query.vector, candidate.vector);
  const score = similarity.toFixed(4);
  if (similarity < threshold) {
    return {
      hit: false,
      reason: 'below_threshold',
      similarity,
      threshold,
      mismatches: [],
      detail: `similarity ${score} is below the threshold ${threshold}`,
    };
  }

  const comparison = compareSignatures(
    query.signature ?? extractSignature(query.text),
    candidate.signature ?? extractSignature(candidate.text),
    check,
  );
  if (!comparison.equal) {
    return {
      hit: false,
      reason: 'lexical_mismatch',
      similarity,
      threshold,
      mismatches: comparison.mismatches,
      detail: `similarity ${score} reaches the threshold ${threshold}, but ${describeMismatches(comparison.mismatches)}`,
    };
  }

  return {
    hit: true,
    reason: 'hit',
    similarity,
    threshold,
    mismatches: [],
    detail: `similarity ${score} reaches the threshold ${threshold} and the lexical check passed`,
  };
}
