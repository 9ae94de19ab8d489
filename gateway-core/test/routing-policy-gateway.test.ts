import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/storage/audit';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { anthropicReply, auditRecord, startOpenAIUpstream, type OpenAIUpstream } from './helpers/routing';
import { startAnthropicStub, type AnthropicStub } from './stubs/anthropic';
import { startOllamaStub, type OllamaStub } from './stubs/ollama';

/*
 * The routing policy behind the virtual model, through a real gateway. Three aliases: "local"
 * (Ollama, free, so the cheapest), "mini" (gpt-4o-mini) and "strong" (Claude Opus, tier 4, so
 * the strongest). One gateway runs the shipped default rules; another runs custom rules under
 * the virtual model name "smart". A route reason may contain any text; the header carries it
 * percent-encoded and the audit record carries it as it is.
 */

let ollama: OllamaStub;
let mini: OpenAIUpstream;
let strong: AnthropicStub;

const models = (): Array<Record<string, unknown>> => [
  { model_name: 'local', litellm_params: { model: 'ollama/llama3.2', api_base: ollama.url } },
  { model_name: 'mini', litellm_params: { model: 'openai/gpt-4o-mini', api_key: 'os.environ/STUB_OPENAI_KEY', api_base: mini.url } },
  {
    model_name: 'strong',
    litellm_params: { model: 'anthropic/claude-opus-4-1-20250805', api_key: 'os.environ/STUB_ANTHROPIC_KEY', api_base: strong.url },
  },
];
const env = { STUB_OPENAI_KEY: 'sk-stub-openai-key', STUB_ANTHROPIC_KEY: 'sk-ant-stub-key' };

beforeAll(async () => {
  ollama = await startOllamaStub();
  mini = await startOpenAIUpstream('mini');
  strong = await startAnthropicStub();
  strong.setHandler((request) => anthropicReply(request.body, 'from strong'));
});

afterAll(async () => {
  await Promise.all([ollama.close(), mini.close(), strong.close()]);
});

interface Routed {
  /** The x-airlock-route-reason header as sent. */
  header: string;
  model: string | null;
  record: AuditRecord;
}

async function routedBy(headers: Headers, gw: TestGateway): Promise<Routed> {
  const header = headers.get('x-airlock-route-reason');
  if (header === null) throw new Error('the response has no x-airlock-route-reason header');
  return { header, model: headers.get('x-airlock-model'), record: await auditRecord(gw, headers.get('x-airlock-request-id')) };
}

/** Check that the header is printable ASCII and decodes to the audit record's reason, which must be `reason`. */
function expectReason(routed: Routed, reason: string | RegExp): void {
  expect(routed.header).toMatch(/^[\x20-\x7e]+$/);
  const decoded = decodeURIComponent(routed.header);
  if (typeof reason === 'string') expect(decoded).toBe(reason);
  else expect(decoded).toMatch(reason);
  expect(routed.record.routeReason).toBe(decoded);
}

describe('default policy', () => {
  let gw: TestGateway;
  let openai: OpenAI;
  let anthropic: Anthropic;

  beforeAll(async () => {
    gw = await startTestGateway({ model_list: models() }, env);
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: gw.url, apiKey: gw.userKey, maxRetries: 0 });
  });

  afterAll(async () => {
    await gw.stop();
  });

  async function askAuto(content: string): Promise<Routed & { text: string }> {
    const { data, response } = await openai.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content }] }).withResponse();
    return { text: data.choices[0]!.message.content ?? '', ...(await routedBy(response.headers, gw)) };
  }

  it('lists the auto model', async () => {
    const ids: string[] = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    expect(ids).toEqual(expect.arrayContaining(['auto', 'local', 'mini', 'strong']));
  });

  it('routes a long-context request to the strongest alias', async () => {
    const longPrompt = `Summarise this log.\n${'2025-06-01 12:00:00 INFO request served in 12 ms by worker 7\n'.repeat(2500)}`;

    const routed = await askAuto(longPrompt);

    expect(routed.text).toBe('from strong');
    expect(routed.model).toBe('claude-opus-4-1-20250805');
    expectReason(routed, /^rule long-context: \d{2},\d{3} tokens > 32,000$/);
    expect(Number(/(\d+,\d+) tokens/.exec(routed.record.routeReason!)![1]!.replace(',', ''))).toBeGreaterThan(32_000);
    expect(routed.record).toMatchObject({ alias: 'auto', deploymentId: 'strong#2', httpStatus: 200 });
    expect(strong.requests).toHaveLength(1);
  });

  it('routes a short question to the cheapest alias', async () => {
    const routed = await askAuto('What does HTTP 418 mean?');

    expect(routed.text).toBe('Hello from the stub.');
    expect(routed.model).toBe('llama3.2');
    expectReason(routed, /^rule short-question: \d+ tokens <= 200$/);
    expect(routed.record.deploymentId).toBe('local#0');
  });

  it('routes an architecture question to the strongest alias', async () => {
    const routed = await askAuto('Which architecture fits a payment service with three teams?');

    expect(routed.model).toBe('claude-opus-4-1-20250805');
    expectReason(routed, 'rule architecture: keyword "architecture" in the last user message');
  });

  it('percent-encodes a Vietnamese keyword in the header', async () => {
    const routed = await askAuto('Hãy giải thích kiến trúc của hệ thống thanh toán này.');

    expect(routed.model).toBe('claude-opus-4-1-20250805');
    expect(routed.header).toBe('rule architecture: keyword "ki%E1%BA%BFn tr%C3%BAc" in the last user message');
    expectReason(routed, 'rule architecture: keyword "kiến trúc" in the last user message');
  });

  it('routes a Vietnamese translation request to the cheapest alias', async () => {
    const routed = await askAuto('Dịch sang tiếng Anh: "Cuộc họp dời sang thứ Hai."');

    expect(routed.model).toBe('llama3.2');
    expectReason(routed, 'rule translation: keyword "dịch sang" in the last user message');
  });

  it('routes the auto model on the Anthropic surface', async () => {
    const { data, response } = await anthropic.messages
      .create({ model: 'auto', max_tokens: 64, messages: [{ role: 'user', content: 'Is 7 prime?' }] })
      .withResponse();

    expect(data.content).toEqual([{ type: 'text', text: 'Hello from the stub.' }]);
    const routed = await routedBy(response.headers, gw);
    expect(routed.model).toBe('llama3.2');
    expectReason(routed, /^rule short-question: \d+ tokens <= 200$/);
    expect(routed.record.inboundApi).toBe('anthropic-messages');
  });
});

describe('custom rules', () => {
  let gw: TestGateway;
  let openai: OpenAI;

  beforeAll(async () => {
    gw = await startTestGateway(
      {
        model_list: models(),
        airlock: {
          routing: {
            auto_model: 'smart',
            default: 'mini',
            rules: [
              { name: 'backend-team', when: { teams: ['backend'], keywords: ['migration'] }, route: 'strongest' },
              { name: 'cline-agent', when: { clients: ['cline'] }, route: 'mini' },
              { name: 'claude-code', when: { clients: ['claude-code'] }, route: 'strongest' },
              { name: 'security-review', when: { keywords: ['đánh giá bảo mật', 'security review'] }, route: 'strong' },
              { name: 'local-sql', when: { regex: '(?i)\\bselect\\b.+\\bfrom\\b' }, route: 'cheapest' },
            ],
          },
        },
      },
      env,
    );
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
  });

  afterAll(async () => {
    await gw.stop();
  });

  async function askSmart(content: string, client = openai): Promise<Routed> {
    const { response } = await client.chat.completions.create({ model: 'smart', messages: [{ role: 'user', content }] }).withResponse();
    return routedBy(response.headers, gw);
  }

  it('picks the rule for the team that owns the key', async () => {
    const backendKey = gw.gateway.keys.create('bob-laptop', 'user', { userId: 'bob', teamId: 'backend' }).key;
    const backend = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: backendKey, maxRetries: 0 });

    const routed = await askSmart('Plan the database migration for orders', backend);
    expect(routed.model).toBe('claude-opus-4-1-20250805');
    expectReason(routed, 'rule backend-team: keyword "migration" in the last user message, team "backend"');

    const other = await askSmart('Plan the database migration for orders');
    expect(other.model).not.toBe('claude-opus-4-1-20250805');
  });

  it('picks the rule for a client named in the User-Agent', async () => {
    const cline = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0, defaultHeaders: { 'User-Agent': 'Cline/3.17.0' } });

    const routed = await askSmart('Fix the failing test in src/app.ts', cline);

    expect(routed.model).toBe('gpt-4o-mini');
    expectReason(routed, 'rule cline-agent: client "cline"');
    expect(routed.record.client).toBe('cline');
  });

  it('picks the rule for Claude Code on the Anthropic surface', async () => {
    const claudeCode = new Anthropic({
      baseURL: gw.url,
      apiKey: gw.userKey,
      maxRetries: 0,
      defaultHeaders: { 'User-Agent': 'claude-cli/2.0.14 (external, cli)' },
    });

    const { data, response } = await claudeCode.messages
      .create({ model: 'smart', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] })
      .withResponse();

    expect(data.content).toEqual([{ type: 'text', text: 'from strong' }]);
    const routed = await routedBy(response.headers, gw);
    expect(routed.model).toBe('claude-opus-4-1-20250805');
    expectReason(routed, 'rule claude-code: client "claude-code"');
  });

  it('picks the rule for a Vietnamese keyword', async () => {
    const routed = await askSmart('Vui lòng đánh giá bảo mật cho đoạn mã đăng nhập này.');

    expect(routed.model).toBe('claude-opus-4-1-20250805');
    expect(routed.header).toBe('rule security-review: keyword "%C4%91%C3%A1nh gi%C3%A1 b%E1%BA%A3o m%E1%BA%ADt" in the last user message');
    expectReason(routed, 'rule security-review: keyword "đánh giá bảo mật" in the last user message');
  });

  it('picks the rule for a regex', async () => {
    const routed = await askSmart('Why is SELECT id FROM users slow?');

    expect(routed.model).toBe('llama3.2');
    expectReason(routed, 'rule local-sql: regex /(?i)\\bselect\\b.+\\bfrom\\b/ in the last user message');
  });

  it('uses the default alias when no rule matches', async () => {
    const routed = await askSmart('Write a haiku about autumn.');

    expect(routed.model).toBe('gpt-4o-mini');
    expectReason(routed, 'default: no rule matched');
  });

  it('answers 404 for "auto" when the virtual model has another name', async () => {
    const error = (await openai.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((caught: unknown) => caught)) as InstanceType<typeof OpenAI.APIError>;

    expect(error.status).toBe(404);
    expect(error.code).toBe('model_not_found');
  });
});
