import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USD_DECIMALS, roundUsd } from '../src/http/money';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { completion, OpenAIStub, sendJson } from './stubs/openai';

/*
 * USD amounts in the management API's reports after real requests through a gateway: sums of
 * per-token prices carry floating-point error, which the responses must not show.
 */

let cloud: OpenAIStub;
let gw: TestGateway;
let aliceKey: string;

// gpt-4o at the table's $2.50 and $10 per million tokens, with the stub's 12 input and 5 output
// tokens: each response costs $0.00008. Summing two misses and three hits gives 0.00024000000000000003
// saved and routing savings of -2.7e-20 before rounding.
const COST = (12 * 2.5 + 5 * 10) / 1_000_000;
const MISSES = 2;
const HITS = 3;

async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${gw.url}/airlock/api${path}`, {
    method,
    headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status).toBeLessThan(300);
  return response.json();
}

async function ask(content: string): Promise<string | null> {
  cloud.next((request, res) => sendJson(res, 200, completion(String(request.body.model), `Answer to ${content}`)));
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: aliceKey, maxRetries: 0 });
  const { response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] }).withResponse();
  return response.headers.get('x-airlock-cache');
}

/** Returns whether a number has no more than USD_DECIMALS decimal places. */
function isRounded(amount: number): boolean {
  return Number(amount.toFixed(USD_DECIMALS)) === amount;
}

beforeAll(async () => {
  cloud = await new OpenAIStub().start();
  gw = await startTestGateway({
    model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }],
    airlock: {
      cache: { enabled: true, semantic: { enabled: false } },
      governance: { teams: [{ id: 'backend' }], users: [{ id: 'alice', team_id: 'backend' }] },
    },
  });
  aliceKey = (await admin('POST', '/keys', { name: 'alice-key', user: 'alice' })).key as string;
  await admin('POST', '/budgets', { name: 'backend monthly', scope: 'team', scope_id: 'backend', period: 'monthly', limit_usd: 1 });
  for (let i = 0; i < MISSES; i++) expect(await ask(`Question ${i}`)).toBe('miss');
  for (let i = 0; i < HITS; i++) expect(await ask('Question 0')).toBe('hit-exact');
});

afterAll(async () => {
  await gw.stop();
  await cloud.stop();
});

describe('roundUsd', () => {
  it.each([
    [-5.204170427930421e-18, 0],
    [0.006299999999999999, 0.0063],
    [0.1 + 0.2, 0.3],
    [-0, 0],
    [12.3456789012345, 12.3456789012],
  ])('rounds %s to %s', (amount, expected) => {
    expect(Object.is(roundUsd(amount), expected)).toBe(true);
  });
});

describe('USD amounts in reports', () => {
  it('shows no routing savings without routing', async () => {
    const savings = await admin('GET', '/savings');
    const backend = savings.data.find((row: { team: string | null }) => row.team === 'backend');
    expect(backend.requests).toBe(MISSES + HITS);
    expect(backend.cache_hits).toBe(HITS);
    expect(backend.routing_saved_usd).toBe(0);
    expect(backend.cache_saved_usd).toBe(roundUsd(HITS * COST));
    expect(backend.saved_usd).toBe(roundUsd(HITS * COST));
    expect(backend.cost_usd).toBe(roundUsd(MISSES * COST));
    expect(backend.would_have_cost_usd).toBe(roundUsd((MISSES + HITS) * COST));
  });

  it('rounds the cache savings', async () => {
    const stats = await admin('GET', '/cache');
    expect(stats.hits_exact).toBe(HITS);
    expect(stats.saved_usd).toBe(roundUsd(HITS * COST));
    for (const row of stats.by_model_and_day) expect(isRounded(row.saved_usd)).toBe(true);
  });

  it.each(['team', 'day', 'model'])('rounds spend by %s', async (by) => {
    const spend = await admin('GET', `/spend?by=${by}`);
    const total = spend.data.reduce((sum: number, row: { requests: number }) => sum + row.requests, 0);
    expect(total).toBe(MISSES + HITS);
    for (const row of spend.data) {
      expect(isRounded(row.cost_usd)).toBe(true);
      expect(isRounded(row.would_have_cost_usd)).toBe(true);
      expect(isRounded(row.saved_usd)).toBe(true);
    }
    const team = by === 'team' ? spend.data.find((row: { group: string }) => row.group === 'backend') : null;
    if (team !== null) expect(team.saved_usd).toBe(roundUsd(HITS * COST));
  });

  it('rounds the budget status', async () => {
    const budgets = await admin('GET', '/budgets?scope=team:backend');
    const period = budgets.data[0].current_period;
    expect(period.spent_usd).toBe(roundUsd(MISSES * COST));
    expect(period.remaining_usd).toBe(roundUsd(1 - MISSES * COST));
    expect(isRounded(period.forecast_usd)).toBe(true);
  });
});
