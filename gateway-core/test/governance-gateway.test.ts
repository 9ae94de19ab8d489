import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../src/config/load';
import { createEnvSecretStore } from '../src/config/secrets';
import { startGateway, type Gateway } from '../src/gateway';
import { createLogger } from '../src/logger';
import { startOllamaStub, type OllamaStub } from './stubs/ollama';
import { completion, OpenAIStub, pause, sendJson, textChunks } from './stubs/openai';

/*
 * Budgets and rate limits through a real gateway: the example of a Backend team at $500 a month
 * and Marketing at $100, written in the config file, with keys owned by users of each team.
 */

let cloud: OpenAIStub;
let ollama: OllamaStub;
let dataDir: string;
let gateway: Gateway;
let adminKey: string;

function config(): Record<string, unknown> {
  return {
    model_list: [
      { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } },
      { model_name: 'local-llama', litellm_params: { model: 'ollama/llama3.2', api_base: ollama.url } },
    ],
    airlock: {
      port: 0,
      governance: {
        time_zone: 'Asia/Ho_Chi_Minh',
        teams: [{ id: 'backend', name: 'Backend' }, { id: 'marketing', name: 'Marketing' }, { id: 'interns' }, { id: 'design' }],
        users: [
          { id: 'alice', team_id: 'backend' },
          { id: 'bob', team_id: 'marketing' },
          { id: 'carol', team_id: 'interns' },
          { id: 'dave', team_id: 'design' },
        ],
        budgets: [
          { scope: 'team', scope_id: 'backend', period: 'monthly', limit_usd: 500 },
          { scope: 'team', scope_id: 'marketing', period: 'monthly', limit_usd: 100 },
          // A budget that no request fits: worst case is at least the output limit at $10 per 1M tokens.
          { id: 'interns-daily', scope: 'team', scope_id: 'interns', period: 'daily', limit_usd: 0.00001 },
          { id: 'design-downgrade', scope: 'team', scope_id: 'design', period: 'weekly', limit_usd: 0.00001, action: 'downgrade', downgrade_alias: 'local-llama' },
        ],
      },
    },
  };
}

async function start(): Promise<void> {
  const loaded = buildConfig(config(), createEnvSecretStore({}), { dataDir });
  gateway = await startGateway({ config: loaded, logger: createLogger({ level: 'silent' }), drainTimeoutMs: 1000 });
  adminKey ??= gateway.generatedAdminKey!;
}

async function management(method: string, path: string, body?: unknown): Promise<{ status: number; json: any; headers: Headers }> {
  const response = await fetch(`${gateway.url}/airlock/api${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json(), headers: response.headers };
}

async function keyFor(user: string, extra: Record<string, unknown> = {}): Promise<string> {
  const created = await management('POST', '/keys', { name: `${user}-laptop`, user, ...extra });
  expect(created.status).toBe(201);
  return created.json.key as string;
}

function openai(key: string): OpenAI {
  return new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0 });
}

beforeAll(async () => {
  cloud = await new OpenAIStub().start();
  ollama = await startOllamaStub();
  dataDir = mkdtempSync(join(tmpdir(), 'airlock-governance-'));
  await start();
});

afterAll(async () => {
  await gateway.close();
  await cloud.stop();
  await ollama.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('budgets in the request path', () => {
  it('lists the config budgets with their teams', async () => {
    const budgets = await management('GET', '/budgets?scope=team:backend');
    expect(budgets.status).toBe(200);
    expect(budgets.json.data).toHaveLength(1);
    expect(budgets.json.data[0]).toMatchObject({ id: 'team:backend:monthly:block', scope: 'team', scope_id: 'backend', limit_usd: 500, action: 'block' });
    expect(budgets.json.data[0].current_period.spent_usd).toBe(0);
  });

  it('charges a team and survives a restart', async () => {
    const key = await keyFor('alice');
    await openai(key).chat.completions.create({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'Hello' }] });
    // The stub reports 12 prompt and 5 completion tokens: 12 × $2.50 + 5 × $10 per 1M tokens.
    const expected = (12 * 2.5 + 5 * 10) / 1e6;
    const before = await management('GET', '/budgets/team:backend:monthly:block');
    expect(before.json.current_period.spent_usd).toBeCloseTo(expected, 12);
    expect(before.json.current_period.remaining_usd).toBeCloseTo(500 - expected, 9);

    await gateway.close();
    await start();
    const after = await management('GET', '/budgets/team:backend:monthly:block');
    expect(after.json.current_period.spent_usd).toBeCloseTo(expected, 12);
    const byTeam = await management('GET', '/spend?by=team');
    expect(byTeam.json.data).toEqual([expect.objectContaining({ group: 'backend', requests: 1 })]);
  });

  it('blocks with budget_exceeded on the OpenAI surface', async () => {
    const key = await keyFor('carol');
    const before = cloud.requests.length;
    const error = await openai(key)
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] })
      .then(
        () => {
          throw new Error('expected the request to fail');
        },
        (caught: unknown) => caught as InstanceType<typeof OpenAI.APIError>,
      );
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.status).toBe(429);
    expect(error.type).toBe('budget_exceeded');
    expect(error.code).toBe('budget_exceeded');
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(error.message).toContain("team 'interns'");
    expect(error.message).toContain('$0.000010');
    expect(error.message).toContain('Asia/Ho_Chi_Minh');
    expect(cloud.requests.length).toBe(before);
  });

  it('blocks with rate_limit_error on the Anthropic surface', async () => {
    const key = await keyFor('carol');
    const client = new Anthropic({ baseURL: gateway.url, apiKey: key, maxRetries: 0 });
    const error = await client.messages.create({ model: 'gpt-4o', max_tokens: 20, messages: [{ role: 'user', content: 'Hi' }] }).then(
      () => {
        throw new Error('expected the request to fail');
      },
      (caught: unknown) => caught as InstanceType<typeof Anthropic.APIError>,
    );
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect((error.error as { error: { type: string } }).error.type).toBe('rate_limit_error');
    expect(error.headers?.get('x-should-retry')).toBe('false');
  });

  it('never blocks a free local model', async () => {
    const key = await keyFor('carol');
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'Local and free.' }] });
    const answer = await openai(key).chat.completions.create({ model: 'local-llama', messages: [{ role: 'user', content: 'Hi' }] });
    expect(answer.choices[0]!.message.content).toBe('Local and free.');
  });

  it('downgrades to the named model', async () => {
    const key = await keyFor('dave');
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'Downgraded answer.' }] });
    const { data, response } = await openai(key)
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Downgraded answer.');
    expect(response.headers.get('x-airlock-budget-downgraded-from')).toBe('gpt-4o');
    expect(decodeURIComponent(response.headers.get('x-airlock-route-reason') ?? '')).toContain('budget design-downgrade: downgrade to local-llama');
    const events = await management('GET', '/budget-events?budget_id=design-downgrade');
    expect(events.json.data.length).toBeGreaterThanOrEqual(1);
  });

  it('charges an abandoned stream as estimated', async () => {
    const key = await keyFor('bob');
    cloud.next(async (request, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const chunk of textChunks('gpt-4o', Array.from({ length: 200 }, () => 'word '), undefined).slice(0, 150)) {
        if (res.destroyed) return;
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        await pause(5);
      }
      res.end();
    });
    const controller = new AbortController();
    const stream = await openai(key).chat.completions.create(
      { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Write a lot.' }] },
      { signal: controller.signal },
    );
    let received = 0;
    try {
      for await (const chunk of stream) {
        received += (chunk.choices[0]?.delta.content ?? '').length;
        if (received > 100) controller.abort();
      }
    } catch {
      // The abort ends the iteration with an error.
    }
    // The gateway settles once it detects that the client went away.
    let spent = 0;
    for (let tries = 0; tries < 50 && spent === 0; tries++) {
      await pause(20);
      spent = (await management('GET', '/budgets/team:marketing:monthly:block')).json.current_period.spent_usd;
    }
    expect(spent).toBeGreaterThan(0);
    const rows = await management('GET', '/spend?by=user&scope=team:marketing');
    expect(rows.json.data[0]).toMatchObject({ group: 'bob', requests: 1 });
  });

  it('rate limits a key with Retry-After', async () => {
    const key = await keyFor('alice', { rpm_limit: 2 });
    cloud.next((request, res) => sendJson(res, 200, completion('gpt-4o', 'one')));
    cloud.next((request, res) => sendJson(res, 200, completion('gpt-4o', 'two')));
    const client = openai(key);
    await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'a' }] });
    await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'b' }] });
    const error = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'c' }] }).then(
      () => {
        throw new Error('expected the request to fail');
      },
      (caught: unknown) => caught as InstanceType<typeof OpenAI.APIError>,
    );
    expect(error.status).toBe(429);
    expect(error.code).toBe('rate_limit_exceeded');
    expect(Number(error.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(error.message).toContain('rpm_limit');
  });

  it('holds a budget under 50 concurrent requests', async () => {
    // Each request reserves prompt tokens at $2.50 and 100 output tokens at $10 per 1M, about
    // $0.00103, and settles at the stub's 12 + 5 tokens, $0.00008. A $0.005 limit fits four
    // reservations at once, so most of the 50 requests meet a full budget.
    const limit = 0.005;
    expect((await management('POST', '/users', { id: 'gina', team_id: 'backend' })).status).toBe(201);
    const created = await management('POST', '/budgets', { id: 'edge', scope: 'user', scope_id: 'gina', period: 'daily', limit_usd: limit });
    expect(created.status).toBe(201);
    const key = await keyFor('gina');
    const client = openai(key);
    // A short delay keeps requests in flight together, so reservations overlap.
    const slow = (_request: unknown, res: import('node:http').ServerResponse): void => {
      setTimeout(() => sendJson(res, 200, completion('gpt-4o', 'ok')), 20);
    };
    for (let index = 0; index < 50; index++) cloud.next(slow);

    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, index) =>
        client.chat.completions.create({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: `Question ${index}` }] }),
      ),
    );
    const succeeded = results.filter((result) => result.status === 'fulfilled').length;
    const blocked = results.filter((result) => result.status === 'rejected' && (result.reason as { status?: number }).status === 429).length;
    expect(succeeded + blocked).toBe(50);
    expect(blocked).toBeGreaterThan(0);

    const status = await management('GET', '/budgets/edge');
    const spent = status.json.current_period.spent_usd as number;
    const perRequest = (12 * 2.5 + 5 * 10) / 1e6;
    expect(spent).toBeCloseTo(succeeded * perRequest, 12);
    // Every request settled below its reservation, so the largest overrun is 0 and spend stays within the limit.
    expect(spent).toBeLessThanOrEqual(limit);
    expect(status.json.current_period.reserved_usd).toBe(0);
  });

  it('applies a fixed window only inside it', async () => {
    expect((await management('POST', '/users', { id: 'hank', team_id: 'backend' })).status).toBe(201);
    const key = await keyFor('hank');
    const day = 86_400_000;
    const tiny = { scope: 'user', scope_id: 'hank', period: 'fixed', window_days: 1, limit_usd: 0.00001 };
    const future = await management('POST', '/budgets', { ...tiny, id: 'hank-future', window_start: new Date(Date.now() + 30 * day).toISOString() });
    const ended = await management('POST', '/budgets', { ...tiny, id: 'hank-ended', window_start: new Date(Date.now() - 30 * day).toISOString() });
    expect(future.json.current_period.in_force).toBe(false);
    expect(ended.json.current_period.in_force).toBe(false);
    expect(future.json.current_period.start).toBe(future.json.current_period.key);

    // Neither the coming nor the ended window applies now.
    const answer = await openai(key).chat.completions.create({ model: 'gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] });
    expect(answer.choices).toHaveLength(1);

    const now = await management('POST', '/budgets', { ...tiny, id: 'hank-now', window_start: new Date(Date.now() - day / 2).toISOString() });
    expect(now.json.current_period.in_force).toBe(true);
    const blocked = await openai(key)
      .chat.completions.create({ model: 'gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] })
      .then(
        () => null,
        (caught: unknown) => caught as InstanceType<typeof OpenAI.APIError>,
      );
    expect(blocked?.status).toBe(429);
    expect(blocked?.message).toContain("'hank-now'");
  });

  it('reserves output for every choice', async () => {
    expect((await management('POST', '/users', { id: 'ivan', team_id: 'backend' })).status).toBe(201);
    // One choice of 100 tokens reserves about $0.00103; eight reserve about $0.00803.
    await management('POST', '/budgets', { id: 'ivan-daily', scope: 'user', scope_id: 'ivan', period: 'daily', limit_usd: 0.003 });
    const key = await keyFor('ivan');
    const error = await openai(key)
      .chat.completions.create({ model: 'gpt-4o', n: 8, max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] })
      .then(
        () => null,
        (caught: unknown) => caught as InstanceType<typeof OpenAI.APIError>,
      );
    expect(error?.status).toBe(429);
    expect(error?.message).toContain('Setting a lower max_tokens reserves less');
  });

  it('applies owner and limit changes at once', async () => {
    expect((await management('POST', '/users', { id: 'jay', team_id: 'backend' })).status).toBe(201);
    const created = await management('POST', '/keys', { name: 'jay-laptop', user: 'jay' });
    const client = openai(created.json.key as string);
    const ask = () => client.chat.completions.create({ model: 'local-llama', messages: [{ role: 'user', content: 'Hi' }] });
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'one' }] });
    await ask();

    // Moving the user moves the spend of the key's next request to the new team.
    expect((await management('PATCH', '/users/jay', { team_id: 'interns' })).status).toBe(200);
    const blocked = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }).then(
      () => null,
      (caught: unknown) => caught as InstanceType<typeof OpenAI.APIError>,
    );
    expect(blocked?.message).toContain("team 'interns'");

    expect((await management('PATCH', `/keys/${created.json.id}`, { rpm_limit: 1 })).status).toBe(200);
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'two' }] });
    await ask();
    const limited = await ask().then(
      () => null,
      (caught: unknown) => caught as InstanceType<typeof OpenAI.APIError>,
    );
    expect(limited?.status).toBe(429);
  });

  it('manages teams, users and budgets', async () => {
    const team = await management('POST', '/teams', { id: 'data', name: 'Data' });
    expect(team.status).toBe(201);
    expect(team.json).toMatchObject({ id: 'data', name: 'Data', source: 'api' });
    const user = await management('POST', '/users', { id: 'erin', team_id: 'data' });
    expect(user.json).toMatchObject({ id: 'erin', team_id: 'data' });
    const missingTeam = await management('POST', '/users', { id: 'frank', team_id: 'nope' });
    expect(missingTeam.status).toBe(400);
    expect(missingTeam.json.error.message).toContain('nope');

    const budget = await management('POST', '/budgets', { scope: 'team', scope_id: 'data', period: 'monthly', limit_usd: 50 });
    expect(budget.status).toBe(201);
    expect(budget.json).toMatchObject({ period: 'monthly', time_zone: null, window_start: null });
    const patched = await management('PATCH', `/budgets/${budget.json.id}`, { limit_usd: 75 });
    expect(patched.json.limit_usd).toBe(75);
    const misspelt = await management('POST', '/budgets', { scope: 'team', scope_id: 'data', period: 'daily', limit: 5 });
    expect(misspelt.status).toBe(400);
    expect(misspelt.json.error.param).toBe('limit');
    const bad = await management('POST', '/budgets', { scope: 'team', scope_id: 'data', period: 'yearly', limit_usd: 5 });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe('period');
    const configRow = await management('DELETE', '/budgets/team:backend:monthly:block');
    expect(configRow.status).toBe(403);
    const removed = await management('DELETE', `/budgets/${budget.json.id}`);
    expect(removed.json.deleted).toBe(true);
  });
});
