import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import {
  auditRecord,
  decodedRouteReason,
  deploymentHealth,
  fail,
  reply,
  startOpenAIUpstream,
  type DeploymentView,
  type OpenAIUpstream,
} from './helpers/routing';
import { pause } from './stubs/openai';

/*
 * Cooldowns through a real gateway: allowed_fails 2 and cooldown_time 2 s, which leaves
 * room for a few requests inside a cooldown on a busy test machine. "pool" has a cheap
 * deployment on upstream "cheap" and a dearer one on "steady", so cost-based routing tries the
 * cheap one first while it is healthy. "lonely" has a single deployment.
 */

let cheap: OpenAIUpstream;
let steady: OpenAIUpstream;
let lonely: OpenAIUpstream;
let guarded: OpenAIUpstream;
let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  cheap = await startOpenAIUpstream('cheap');
  steady = await startOpenAIUpstream('steady');
  lonely = await startOpenAIUpstream('lonely');
  guarded = await startOpenAIUpstream('guarded');
  const key = 'os.environ/STUB_OPENAI_KEY';
  gw = await startTestGateway(
    {
      model_list: [
        { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o-mini', api_key: key, api_base: cheap.url } },
        { model_name: 'pool', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: steady.url } },
        { model_name: 'lonely', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: lonely.url } },
        { model_name: 'guarded', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: guarded.url } },
      ],
      router_settings: { routing_strategy: 'cost-based', allowed_fails: 2, cooldown_time: 2, fallbacks: [{ guarded: ['lonely'] }] },
    },
    { STUB_OPENAI_KEY: 'sk-stub-openai-key' },
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop();
  await Promise.all([cheap.close(), steady.close(), lonely.close(), guarded.close()]);
});

const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Hi' }];
const serverError = fail(500, 'The server had an error while processing your request.', 'server_error');

async function healthOf(id: string): Promise<DeploymentView['health']> {
  const view = (await deploymentHealth(gw)).get(id);
  if (!view) throw new Error(`GET /airlock/api/deployments does not list ${id}`);
  return view.health;
}

/** Poll the management API until the deployment is healthy again, for up to five seconds. */
async function waitUntilHealthy(id: string): Promise<void> {
  for (let waited = 0; waited < 5000; waited += 50) {
    if ((await healthOf(id)).state === 'healthy') return;
    await pause(50);
  }
  throw new Error(`${id} was still cooling down after 5 s`);
}

async function ask(model: string): Promise<{ text: string; headers: Headers }> {
  const { data, response } = await client.chat.completions.create({ model, messages }).withResponse();
  return { text: data.choices[0]!.message.content ?? '', headers: response.headers };
}

describe('cooldowns', () => {
  it('skips a deployment after allowed_fails failures and tries it again after cooldown_time', async () => {
    cheap.setDefault(serverError);

    expect((await ask('pool')).text).toBe('from steady');
    const afterOne = await healthOf('pool#0');
    expect(afterOne).toMatchObject({ state: 'healthy', failuresInWindow: 1, lastErrorKind: 'upstream_server' });

    expect((await ask('pool')).text).toBe('from steady');
    const cooling = await healthOf('pool#0');
    expect(cooling).toMatchObject({ state: 'cooling_down', lastErrorKind: 'upstream_server' });
    expect(cooling.cooldownRemainingMs).toBeGreaterThan(0);
    expect(cooling.cooldownRemainingMs).toBeLessThanOrEqual(2000);
    expect((await healthOf('pool#1')).state).toBe('healthy');
    expect(cheap.requests).toHaveLength(2);

    const whileCooling: Headers[] = [];
    for (let i = 0; i < 3; i++) {
      const { text, headers } = await ask('pool');
      expect(text).toBe('from steady');
      whileCooling.push(headers);
    }
    expect(cheap.requests).toHaveLength(2);
    for (const headers of whileCooling) {
      expect(decodedRouteReason(headers)).toBe('cost-based: pool#1 $12.5 per 1M tokens (1 cooling down tried last)');
      const record = await auditRecord(gw, headers.get('x-airlock-request-id'));
      expect(record.attempts.map((attempt) => attempt.deploymentId)).toEqual(['pool#1']);
    }

    cheap.setDefault(reply('from cheap, recovered'));
    await waitUntilHealthy('pool#0');
    const { text, headers } = await ask('pool');

    expect(text).toBe('from cheap, recovered');
    expect(cheap.requests).toHaveLength(3);
    expect(decodedRouteReason(headers)).toBe('cost-based: pool#0 $0.75 per 1M tokens vs $12.5 per 1M tokens');
    expect(await healthOf('pool#0')).toMatchObject({ state: 'healthy', failuresInWindow: 0 });
  });

  it('still tries a cooling deployment when no other is left', async () => {
    lonely.next(serverError, serverError, reply('from lonely, recovered'));

    for (let i = 0; i < 2; i++) {
      const error = await client.chat.completions.create({ model: 'lonely', messages }).catch((caught: unknown) => caught);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(500);
    }
    expect((await healthOf('lonely#2')).state).toBe('cooling_down');

    const { text } = await ask('lonely');

    expect(text).toBe('from lonely, recovered');
    expect(lonely.requests).toHaveLength(3);
    expect(await healthOf('lonely#2')).toMatchObject({ state: 'healthy', failuresInWindow: 0 });
  });

  it('does not count rejected requests toward a cooldown', async () => {
    lonely.reset();
    const badRequest = fail(400, "Invalid value for 'temperature': must be at most 2.", 'invalid_request_error', 'invalid_value');
    lonely.next(badRequest, badRequest, badRequest);

    for (let i = 0; i < 3; i++) {
      const error = await client.chat.completions.create({ model: 'lonely', messages }).catch((caught: unknown) => caught);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    }

    expect(await healthOf('lonely#2')).toMatchObject({ state: 'healthy', failuresInWindow: 0, lastErrorKind: 'upstream_bad_request' });
  });

  it('skips a cooling deployment for a fallback alias and says so', async () => {
    lonely.reset();
    guarded.setDefault(serverError);
    for (let i = 0; i < 2; i++) {
      const { text, headers } = await ask('guarded');
      expect(text).toBe('from lonely');
      expect(decodedRouteReason(headers)).toBe('fallback: guarded#3 answered HTTP 500');
    }
    expect((await healthOf('guarded#3')).state).toBe('cooling_down');

    const { text, headers } = await ask('guarded');

    expect(text).toBe('from lonely');
    expect(guarded.requests).toHaveLength(2);
    expect(headers.get('x-airlock-fallback-from')).toBe('guarded');
    expect(decodedRouteReason(headers)).toBe('fallback: guarded#3 skipped while cooling down');
    const record = await auditRecord(gw, headers.get('x-airlock-request-id'));
    expect(record.attempts.map((attempt) => [attempt.deploymentId, attempt.errorKind])).toEqual([
      ['guarded#3', 'cooling_down'],
      ['lonely#2', null],
    ]);
  });
});
