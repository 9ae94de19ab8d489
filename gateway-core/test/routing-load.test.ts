import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { fail, reply, startOpenAIUpstream, type OpenAIUpstream } from './helpers/routing';

/*
 * A bounded load test on loopback: 2,000 requests (every fourth one streamed), 32 at a time,
 * to an alias of two deployments. "flaky" fails about 30 % of its requests at random with HTTP 500,
 * and "steady" never fails. Cooldowns are kept out of the way with a high allowed_fails, so each
 * of flaky's failures must be hidden by failover inside the same request.
 */

const total = 2000;
const concurrency = 32;
const failureRate = 0.3;

let flaky: OpenAIUpstream;
let steady: OpenAIUpstream;
let gw: TestGateway;
let client: OpenAI;
/** Requests that flaky failed with HTTP 500. */
let flakyFailures = 0;

beforeAll(async () => {
  flaky = await startOpenAIUpstream('flaky');
  steady = await startOpenAIUpstream('steady');
  const serverError = fail(500, 'The server had an error while processing your request.', 'server_error');
  const answer = reply('from flaky');
  flaky.setDefault((request, res) => {
    if (Math.random() < failureRate) {
      flakyFailures++;
      return serverError(request, res);
    }
    return answer(request, res);
  });
  const key = 'os.environ/STUB_OPENAI_KEY';
  gw = await startTestGateway(
    {
      model_list: [
        { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: flaky.url } },
        { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: steady.url } },
      ],
      router_settings: { routing_strategy: 'simple-shuffle', allowed_fails: 1_000_000 },
      airlock: { log_level: 'warn' },
    },
    { STUB_OPENAI_KEY: 'sk-stub-openai-key' },
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop();
  await Promise.all([flaky.close(), steady.close()]);
});

/** Send one request and return whether the client received a complete response. */
async function send(index: number): Promise<boolean> {
  const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: `Request ${index}` }];
  try {
    if (index % 4 === 3) {
      const stream = await client.chat.completions.create({ model: 'pool', messages, stream: true });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      return text === 'from flaky' || text === 'from steady';
    }
    const completion = await client.chat.completions.create({ model: 'pool', messages });
    const text = completion.choices[0]!.message.content;
    return text === 'from flaky' || text === 'from steady';
  } catch {
    return false;
  }
}

describe('routing under load', () => {
  it('keeps 99.9 % success with one flaky deployment', { timeout: 120_000 }, async () => {
    let next = 0;
    let succeeded = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        const index = next++;
        if (await send(index)) succeeded++;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - started) / 1000;

    const successRate = succeeded / total;
    const flakyShare = flakyFailures / flaky.requests.length;
    console.log(
      `routing load: ${succeeded}/${total} client requests succeeded (${(successRate * 100).toFixed(2)} %) in ${seconds.toFixed(1)} s; ` +
        `flaky failed ${flakyFailures} of its ${flaky.requests.length} requests (${(flakyShare * 100).toFixed(1)} %), ` +
        `steady served ${steady.requests.length}`,
    );

    expect(successRate).toBeGreaterThanOrEqual(0.999);
    // The stub must really have failed about 30 % of its requests, or the test proves nothing.
    expect(flakyShare).toBeGreaterThan(0.2);
    expect(flakyShare).toBeLessThan(0.4);
    // Every request flaky failed went on to steady: steady saw its own first picks plus those.
    expect(steady.requests.length).toBe(total - (flaky.requests.length - flakyFailures));
  });
});
