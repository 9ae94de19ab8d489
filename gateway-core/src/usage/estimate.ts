import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

/**
 * Estimate a token count with OpenAI's o200k_base encoding. For other model families this is
 * an estimate: Claude and most open models tokenize English and code within roughly ±15 % of it.
 */
export function estimateTokens(text: string): number {
  if (text.length === 0) return 0;
  return countTokens(text);
}
