import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/storage/audit';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { messageBody, startAnthropicStub, streamEvents, type AnthropicStub, type StubUsage } from './stubs/anthropic';
import { startOllamaStub, type OllamaStub } from './stubs/ollama';
import { OpenAIStub } from './stubs/openai';

/*
 * Claude Code style traffic on the Anthropic Messages surface, sent with the official
 * @anthropic-ai/sdk: passthrough to Anthropic through a wildcard and model_group_alias, cache
 * usage and cost in the audit record, count_tokens and GET /v1/models.
 * @anthropic-ai/sdk 1.17.0 sends its apiKey as `Authorization: Bearer <key>` and
 * `anthropic-version: 2026-10-21` unless a request sets the header (read in its client.js).
 */

const anthropicKey = 'sk-ant-provider-secret-0123456789';
const sonnet = 'claude-sonnet-4-5-20250929';

let anthropic: AnthropicStub;
let openai: OpenAIStub;
let ollama: OllamaStub;
let counter: TokenCounterServer;
let gw: TestGateway;
let client: Anthropic;
/** Every request body the SDK client sent, as the exact text it sent. */
const sentBodies: string[] = [];

beforeAll(async () => {
  anthropic = await startAnthropicStub();
  openai = await new OpenAIStub().start();
  ollama = await startOllamaStub();
  counter = await startTokenCounter(1234);
  const anthropicParams = { api_key: 'os.environ/STUB_ANTHROPIC_KEY', api_base: anthropic.url };
  gw = await startTestGateway(
    {
      model_list: [
        { model_name: 'claude-*', litellm_params: { model: 'anthropic/claude-*', ...anthropicParams } },
        { model_name: 'claude-fast', litellm_params: { model: 'anthropic/claude-haiku-4-5-20251001', ...anthropicParams } },
        { model_name: 'claude-counted', litellm_params: { model: `anthropic/${sonnet}`, api_key: 'os.environ/STUB_ANTHROPIC_KEY', api_base: counter.url } },
        { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_key: 'sk-openai-literal', api_base: openai.url } },
        { model_name: 'qwen', litellm_params: { model: 'ollama/qwen3:8b', api_base: ollama.url } },
      ],
      // Claude Code's older background model id, served by a newer Haiku.
      router_settings: { model_group_alias: { 'claude-3-5-haiku-20241022': 'claude-fast' } },
    },
    { STUB_ANTHROPIC_KEY: anthropicKey },
  );
  client = new Anthropic({
    baseURL: gw.url,
    apiKey: gw.userKey,
    maxRetries: 0,
    fetch: async (input, init) => {
      if (typeof init?.body === 'string') sentBodies.push(init.body);
      return fetch(input, init);
    },
  });
});

afterAll(async () => {
  await gw.stop();
  await anthropic.close();
  await openai.stop();
  await ollama.close();
  await counter.close();
});

/** Read the audit record of a request, which the gateway writes as the response ends. */
async function auditOf(requestId: string | null | undefined): Promise<AuditRecord> {
  expect(requestId).toMatch(/^req_/);
  for (let waited = 0; waited < 2000; waited += 20) {
    const record = gw.gateway.audit.get(requestId!);
    if (record) return record;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no audit record for ${requestId}`);
}

describe('Claude Code style request', () => {
  const betas = ['claude-code-20250219', 'interleaved-thinking-2025-05-14', 'fine-grained-tool-streaming-2025-05-14'];

  function claudeCodeTools(): Array<Record<string, unknown>> {
    const names = [
      'Task', 'Bash', 'Glob', 'Grep', 'LS', 'ExitPlanMode', 'Read', 'Edit', 'MultiEdit', 'Write',
      'NotebookEdit', 'WebFetch', 'TodoWrite', 'WebSearch', 'BashOutput', 'KillShell', 'SlashCommand',
      'mcp__ide__getDiagnostics', 'mcp__ide__executeCode', 'mcp__github__create_issue',
    ];
    return names.map((name, index) => ({
      name,
      description: `${name}: a Claude Code tool. Use it when the task needs it; read the file before you edit it.`,
      input_schema: {
        type: 'object',
        properties: { target: { type: 'string', description: 'Path, pattern or command' }, limit: { type: 'number' } },
        required: ['target'],
        additionalProperties: false,
        $schema: 'http://json-schema.org/draft-07/schema#',
      },
      ...(index === names.length - 1 ? { cache_control: { type: 'ephemeral' } } : {}),
    }));
  }

  function claudeCodeBody(model: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      model,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: '<system-reminder>CLAUDE.md: run npm test before you commit.</system-reminder>' },
            { type: 'text', text: 'Fix the failing test in src/parser.ts', cache_control: { type: 'ephemeral' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'The parser drops the last token; read the file first.', signature: 'EqQBCkYIBxgCKkBsig==' },
            { type: 'text', text: 'I will read the parser.' },
            { type: 'tool_use', id: 'toolu_01Read', name: 'Read', input: { target: 'src/parser.ts' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01Read', content: [{ type: 'text', text: 'export function parse() { /* … */ }' }] },
            { type: 'text', text: 'Go on.', cache_control: { type: 'ephemeral' } },
          ],
        },
      ],
      temperature: 1,
      system: [
        { type: 'text', text: "You are Claude Code, Anthropic's official CLI for Claude.", cache_control: { type: 'ephemeral' } },
        { type: 'text', text: 'You are an interactive CLI tool that helps users with software engineering tasks.', cache_control: { type: 'ephemeral', ttl: '1h' } },
      ],
      tools: claudeCodeTools(),
      metadata: { user_id: 'user_4f1c_account_9a2b_session_77e0' },
      max_tokens: 32000,
      thinking: { type: 'enabled', budget_tokens: 31999 },
      // A field newer than the gateway, which must survive the passthrough.
      context_hint: { keep: ['tool_uses'], nested: [1, 'two', null] },
      ...extra,
    };
  }

  /** Check that an upstream received the last body the client sent, with only the model replaced. */
  function expectPassthrough(received: string, model: string): void {
    const sent = JSON.parse(sentBodies[sentBodies.length - 1]!) as Record<string, unknown>;
    const expected = { ...sent, model };
    expect(JSON.parse(received)).toEqual(expected);
    // Same keys in the same order at every depth, which toEqual does not check.
    expect(received).toBe(JSON.stringify(expected));
  }

  it('passes through a claude-* wildcard', async () => {
    const usage: StubUsage = {
      input_tokens: 42,
      cache_creation_input_tokens: 3000,
      cache_read_input_tokens: 20_000,
      cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 },
      output_tokens: 350,
    };
    const events = streamEvents(
      [
        { type: 'thinking', pieces: ['The loop stops ', 'one token early.'], signature: 'sig_abc123' },
        { type: 'text', pieces: ['Found it: ', 'an off-by-one.'] },
        { type: 'tool_use', id: 'toolu_02Edit', name: 'Edit', pieces: ['{"target":', '"src/parser.ts"}'] },
      ],
      { id: 'msg_cc1', model: sonnet, stopReason: 'tool_use', usage },
    );
    // MessageDeltaUsage in @anthropic-ai/sdk 1.17.0 has the input and cache totals but not the 5m/1h split.
    const messageDelta = events.find((event) => 'event' in event && event.event === 'message_delta') as { data: Record<string, unknown> };
    messageDelta.data.usage = { input_tokens: 42, cache_creation_input_tokens: 3000, cache_read_input_tokens: 20_000, output_tokens: 350 };
    anthropic.enqueue({ kind: 'stream', events });

    // Pin anthropic-version 2023-06-01 in place of this SDK's 2026-10-21. The betas option sets anthropic-beta.
    const stream = client.beta.messages.stream({ ...claudeCodeBody(sonnet), betas } as never, { headers: { 'anthropic-version': '2023-06-01' } });
    const message = await stream.finalMessage();

    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'The loop stops one token early.', signature: 'sig_abc123' },
      { type: 'text', text: 'Found it: an off-by-one.' },
      { type: 'tool_use', id: 'toolu_02Edit', name: 'Edit', input: { target: 'src/parser.ts' } },
    ]);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage).toMatchObject({ input_tokens: 42, cache_creation_input_tokens: 3000, cache_read_input_tokens: 20_000, output_tokens: 350 });

    const upstream = anthropic.requests[anthropic.requests.length - 1]!;
    expect(upstream.path).toBe('/v1/messages');
    expectPassthrough(upstream.rawBody, sonnet);
    expect((upstream.body as Record<string, any>).tools).toHaveLength(20);
    expect(upstream.headers['anthropic-version']).toBe('2023-06-01');
    expect(upstream.headers['anthropic-beta']).toBe(betas.join(','));
    expect(upstream.headers['x-api-key']).toBe(anthropicKey);
    expect(upstream.headers.authorization).toBeUndefined();

    const record = await auditOf(stream.response?.headers.get('x-airlock-request-id'));
    expect(record).toMatchObject({
      inboundApi: 'anthropic-messages',
      alias: sonnet,
      provider: 'anthropic',
      providerModel: sonnet,
      deploymentId: 'claude-*#0',
      stream: true,
      httpStatus: 200,
      errorKind: null,
      client: 'anthropic-node',
      pricing: 'priced',
    });
    expect(record.usage).toEqual({
      inputTokens: 42,
      cacheReadTokens: 20_000,
      cacheWrite5mTokens: 1000,
      cacheWrite1hTokens: 2000,
      outputTokens: 350,
      reasoningTokens: null,
      source: 'reported',
    });
    // claude-sonnet-4-5 per 1M tokens: input $3, cache read $0.30 (0.1x), 5-minute write $3.75
    // (1.25x), 1-hour write $6 (2x), output $15.
    expect(record.costUsd).toBeCloseTo((42 * 3 + 20_000 * 0.3 + 1000 * 3.75 + 2000 * 6 + 350 * 15) / 1e6, 12);
    expect(record.rawUsage).toMatchObject({ cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 }, output_tokens: 350 });
    expect(record.flags).not.toContain('usage_estimated');
  });

  it('translates for OpenAI and Ollama', async () => {
    // Without a queued reply, each stub streams its default text.
    for (const [model, text] of [['gpt-4o', 'Hello'], ['qwen', 'Hello from the stub.']] as const) {
      const stream = client.beta.messages.stream({ ...claudeCodeBody(model), betas } as never, { headers: { 'anthropic-version': '2023-06-01' } });
      const message = await stream.finalMessage();
      expect(message.content).toEqual([{ type: 'text', text }]);
      // Extended thinking has no equivalent there; the gateway says it left it out.
      const { response } = await stream.withResponse();
      expect(response.headers.get('x-airlock-ignored-params')).toBe('thinking');

      const body = (model === 'gpt-4o' ? openai.last.body : ollama.requests.at(-1)!.body) as Record<string, any>;
      expect(body.messages[0]).toMatchObject({ role: 'system', content: expect.stringContaining("You are Claude Code, Anthropic's official CLI") });
      expect(body.messages.map((item: any) => item.role)).toEqual(['system', 'user', 'assistant', 'tool', 'user']);
      expect(body.tools).toHaveLength(20);
      expect(body.tools[19].function.name).toBe('mcp__github__create_issue');
    }
    // Anthropic's headers are meant for Anthropic deployments only.
    expect(openai.last.headers['anthropic-beta']).toBeUndefined();
    expect(openai.last.headers['anthropic-version']).toBeUndefined();
  });

  it('routes the background model by alias', async () => {
    const body = claudeCodeBody('claude-3-5-haiku-20241022', { max_tokens: 512 });
    delete body.thinking;
    // Without the 5-minute and 1-hour split, every cache write counts as a 5-minute write.
    const usage: StubUsage = { input_tokens: 30, cache_creation_input_tokens: 800, cache_read_input_tokens: 5000, output_tokens: 20 };
    anthropic.enqueue({
      kind: 'message',
      body: messageBody([{ type: 'text', text: 'Fix parser off-by-one' }], { id: 'msg_cc2', model: 'claude-haiku-4-5-20251001', usage }),
    });

    const { data, response } = await client.beta.messages
      .create({ ...body, betas } as never, { headers: { 'anthropic-version': '2023-06-01' } })
      .withResponse();

    expect((data as Anthropic.Message).content).toEqual([{ type: 'text', text: 'Fix parser off-by-one' }]);
    const upstream = anthropic.requests[anthropic.requests.length - 1]!;
    expectPassthrough(upstream.rawBody, 'claude-haiku-4-5-20251001');
    expect(upstream.headers['anthropic-beta']).toBe(betas.join(','));

    const record = await auditOf(response.headers.get('x-airlock-request-id'));
    expect(record).toMatchObject({ alias: 'claude-3-5-haiku-20241022', providerModel: 'claude-haiku-4-5-20251001', deploymentId: 'claude-fast#1' });
    expect(record.usage).toMatchObject({ inputTokens: 30, cacheReadTokens: 5000, cacheWrite5mTokens: 800, cacheWrite1hTokens: 0, outputTokens: 20 });
    // claude-haiku-4-5 per 1M tokens: input $1, cache read $0.10, 5-minute write $1.25, output $5.
    expect(record.costUsd).toBeCloseTo((30 * 1 + 5000 * 0.1 + 800 * 1.25 + 20 * 5) / 1e6, 12);
  });

  it('forwards count_tokens to Anthropic', async () => {
    const body = claudeCodeBody('claude-counted');
    delete body.max_tokens;
    const { data, response } = await client.beta.messages
      .countTokens({ ...body, betas: ['interleaved-thinking-2025-05-14'] } as never, { headers: { 'anthropic-version': '2023-06-01' } })
      .withResponse();

    expect(data).toEqual({ input_tokens: 1234 });
    const upstream = counter.requests[counter.requests.length - 1]!;
    expect(upstream.path).toBe('/v1/messages/count_tokens');
    expectPassthrough(upstream.rawBody, sonnet);
    expect(upstream.headers['x-api-key']).toBe(anthropicKey);
    expect(upstream.headers['anthropic-version']).toBe('2023-06-01');
    expect(upstream.headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14,token-counting-2024-11-01');

    const record = await auditOf(response.headers.get('x-airlock-request-id'));
    expect(record).toMatchObject({ inboundApi: 'anthropic-count-tokens', alias: 'claude-counted', providerModel: sonnet, httpStatus: 200 });
    expect(record.flags).not.toContain('usage_estimated');
  });
});

describe('count_tokens on translated deployments', () => {
  const short: Anthropic.MessageCountTokensParams = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello there.' }] };
  const long: Anthropic.MessageCountTokensParams = {
    model: 'gpt-4o',
    system: 'You are a careful reviewer of TypeScript code.',
    messages: [{ role: 'user', content: 'Review this function for off-by-one errors: '.repeat(20) }],
    tools: [
      { name: 'get_weather', description: 'Current weather for a city.', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
    ],
  };

  for (const model of ['gpt-4o', 'qwen']) {
    it(`estimates the count for ${model}`, async () => {
      const chatRequestsBefore = openai.requests.length + ollama.requests.length;
      const { data, response } = await client.messages.countTokens({ ...short, model }).withResponse();
      const longer = await client.messages.countTokens({ ...long, model });

      expect(data.input_tokens).toBeGreaterThan(0);
      expect(longer.input_tokens).toBeGreaterThan(data.input_tokens + 100);
      expect(openai.requests.length + ollama.requests.length).toBe(chatRequestsBefore);
      const record = await auditOf(response.headers.get('x-airlock-request-id'));
      expect(record).toMatchObject({ inboundApi: 'anthropic-count-tokens', alias: model, httpStatus: 200 });
      expect(record.flags).toContain('usage_estimated');
    });
  }
});

describe('GET /v1/models', () => {
  // The configured names, then visible group aliases, then the auto model that applies the routing policy.
  const listed = ['claude-fast', 'claude-counted', 'gpt-4o', 'qwen', 'claude-3-5-haiku-20241022', 'auto'];

  it("lists in Anthropic's shape with anthropic-version", async () => {
    const response = await fetch(`${gw.url}/v1/models`, { headers: { 'anthropic-version': '2023-06-01', 'x-api-key': gw.userKey } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, any>;
    expect(Object.keys(body).sort()).toEqual(['data', 'first_id', 'has_more', 'last_id']);
    expect(body.data.map((model: any) => model.id)).toEqual(listed);
    expect(body.data[0]).toEqual({ type: 'model', id: 'claude-fast', display_name: 'claude-fast', created_at: expect.any(String) });
    expect(Number.isNaN(Date.parse(body.data[0].created_at))).toBe(false);
    expect(body).toMatchObject({ has_more: false, first_id: 'claude-fast', last_id: 'auto' });
  });

  it("lists in OpenAI's shape without it", async () => {
    const response = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.userKey}` } });
    const body = (await response.json()) as Record<string, any>;
    expect(body.object).toBe('list');
    expect(body.data[0]).toMatchObject({ id: 'claude-fast', object: 'model', owned_by: 'airlock' });
  });

  it('lists the models through the SDK', async () => {
    const models: Anthropic.ModelInfo[] = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.map((model) => model.id)).toEqual(listed);
    expect(models.every((model) => model.type === 'model')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// A stand-in for Anthropic's POST /v1/messages/count_tokens, because the shared Anthropic stub
// serves /v1/messages only.

interface TokenCounterServer {
  url: string;
  requests: Array<{ path: string; headers: IncomingHttpHeaders; rawBody: string }>;
  close(): Promise<void>;
}

async function startTokenCounter(inputTokens: number): Promise<TokenCounterServer> {
  const requests: TokenCounterServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      requests.push({ path, headers: req.headers, rawBody: Buffer.concat(chunks).toString('utf8') });
      if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_counter_1' });
        res.end(JSON.stringify({ input_tokens: inputTokens }));
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `${req.method} ${path} is not served here` } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

