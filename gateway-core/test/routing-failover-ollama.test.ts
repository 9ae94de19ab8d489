import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { auditRecord, decodedRouteReason, refusedUrl } from './helpers/routing';
import { startOllamaStub, type OllamaStub } from './stubs/ollama';

/*
 * Failover and hard limits with Ollama deployments: a local model that is not running must not
 * fail a request that another local model can answer, and a tpm limit must hold.
 */

let ollama: OllamaStub;
let gw: TestGateway;
let client: OpenAI;
const messages = [{ role: 'user' as const, content: 'hello' }];

beforeAll(async () => {
  ollama = await startOllamaStub();
  const closed = await refusedUrl();
  gw = await startTestGateway({
    model_list: [
      { model_name: 'local-big', litellm_params: { model: 'ollama/qwen3:8b', api_base: closed } },
      { model_name: 'local-small', litellm_params: { model: 'ollama/llama3.2', api_base: ollama.url } },
      { model_name: 'metered', litellm_params: { model: 'ollama/llama3.2', api_base: ollama.url, tpm: 60 } },
    ],
    router_settings: { fallbacks: [{ 'local-big': ['local-small'] }] },
  });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop();
  await ollama.close();
});

describe('Ollama failover', () => {
  it('falls back when the local server is not running', async () => {
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'from the small model' }], promptEvalCount: 5, evalCount: 4 });
    const { data, response } = await client.chat.completions.create({ model: 'local-big', messages }).withResponse();

    expect(data.choices[0]!.message.content).toBe('from the small model');
    expect(response.headers.get('x-airlock-model')).toBe('llama3.2');
    expect(response.headers.get('x-airlock-fallback-from')).toBe('local-big');
    expect(decodedRouteReason(response.headers)).toMatch(/^fallback: local-big#0 /);
    const record = await auditRecord(gw, response.headers.get('x-airlock-request-id'));
    expect(record.attempts.map((a) => [a.deploymentId, a.errorKind])).toEqual([
      ['local-big#0', 'upstream_error'],
      ['local-small#1', null],
    ]);
    expect(record.attempts[0]!.errorMessage).toMatch(/ollama serve|ECONNREFUSED|refused/i);
  });

  it('streams from the fallback without the client noticing', async () => {
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'streamed ' }, { content: 'answer' }], promptEvalCount: 5, evalCount: 4 });
    const stream = await client.chat.completions.create({ model: 'local-big', messages, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('streamed answer');
  });
});

describe('tpm limit', () => {
  it('answers 429 once reported usage fills the minute', async () => {
    // The first call reports 70 tokens, over the deployment's tpm of 60 for this minute.
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'long answer' }], promptEvalCount: 40, evalCount: 30 });
    const first = await client.chat.completions.create({ model: 'metered', messages });
    expect(first.usage?.total_tokens).toBe(70);

    const before = ollama.requests.length;
    const error = (await client.chat.completions.create({ model: 'metered', messages }).catch((e: unknown) => e)) as InstanceType<
      typeof OpenAI.APIError
    >;
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(429);
    expect(error.headers?.get('retry-after')).toBe('1');
    expect(ollama.requests.length).toBe(before);
  });
});
