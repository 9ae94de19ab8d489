import type { EmbedRequest } from 'ollama';
import { GatewayError } from '../../errors';
import { estimateTokens } from '../../usage/estimate';
import type { UsageRecord } from '../../usage/record';
import type { CallOptions, Deployment, EmbeddingRequest, EmbeddingResult } from '../types';
import { openOllamaCall } from './call';
import { invalidResponseError } from './errors';

/**
 * Encodes an embedding as the OpenAI API does for encoding_format "base64": the vector's
 * float32 values as little-endian bytes, in base64.
 */
export function embeddingToBase64(vector: number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString('base64');
}

function isVector(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'number');
}

/**
 * Calls POST /api/embed and returns the result in the OpenAI embeddings shape. Usage is Ollama's
 * prompt_eval_count when it sends one, else an estimate from the input text.
 */
export async function embedWithOllama(
  deployment: Deployment,
  request: EmbeddingRequest,
  options: CallOptions,
): Promise<EmbeddingResult> {
  if (request.inputs === null) {
    throw new GatewayError(
      'unsupported_parameter',
      `Ollama deployment '${deployment.id}' accepts only text input for embeddings, not token arrays`,
      { param: 'input' },
    );
  }
  const inputs = request.inputs;
  const body: EmbedRequest = {
    model: deployment.model,
    input: typeof request.body.input === 'string' && inputs.length === 1 ? (inputs[0] ?? '') : inputs,
  };
  if (typeof request.body.dimensions === 'number') body.dimensions = request.body.dimensions;

  const call = openOllamaCall(deployment, options);
  let response: unknown;
  try {
    response = await call.client.embed(body);
  } catch (error) {
    throw call.translate(error);
  } finally {
    call.finish();
  }

  const embeddings = (response as { embeddings?: unknown } | null)?.embeddings;
  if (!Array.isArray(embeddings) || !embeddings.every(isVector)) {
    throw invalidResponseError(deployment, 'the /api/embed response has no embeddings array of number arrays');
  }
  if (embeddings.length !== inputs.length) {
    throw invalidResponseError(deployment, `/api/embed returned ${embeddings.length} embeddings for ${inputs.length} inputs`);
  }

  const promptEvalCount = (response as { prompt_eval_count?: unknown }).prompt_eval_count;
  const reported = typeof promptEvalCount === 'number';
  const inputTokens = reported ? promptEvalCount : inputs.reduce((sum, text) => sum + estimateTokens(text), 0);
  const usage: UsageRecord = {
    inputTokens,
    cacheReadTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    outputTokens: 0,
    reasoningTokens: null,
    source: reported ? 'reported' : 'estimated',
  };

  const model = (response as { model?: unknown }).model;
  return {
    body: {
      object: 'list',
      data: embeddings.map((vector, index) => ({
        object: 'embedding',
        index,
        embedding: request.encodingFormat === 'base64' ? embeddingToBase64(vector) : vector,
      })),
      model: typeof model === 'string' ? model : deployment.model,
      usage: { prompt_tokens: inputTokens, total_tokens: inputTokens },
    },
    usage,
    rawUsage: reported ? { prompt_eval_count: promptEvalCount } : null,
  };
}
