import { createRequire } from 'node:module';

type CountTokens = (text: string) => number;

const require = createRequire(import.meta.url);
let countTokens: CountTokens | null = null;

/**
 * Estimate a token count with OpenAI's o200k_base encoding. For other model families, whose
 * tokenizers differ, the count is only an approximation. The encoding's tables take about 70 MB, so they load on first use: most requests have
 * reported usage and never need them.
 */
export function estimateTokens(text: string): number {
  if (text.length === 0) return 0;
  countTokens ??= (require('gpt-tokenizer/encoding/o200k_base') as { countTokens: CountTokens }).countTokens;
  return countTokens(text);
}
