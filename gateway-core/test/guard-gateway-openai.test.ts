import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { startOllamaStub, type OllamaStub } from './stubs/ollama';
import { completion, OpenAIStub, sendJson, sendStream, textChunks, type RecordedRequest } from './stubs/openai';

const PASSWORD = 'S3cr3t!Pa55';
const DATABASE_URL = `postgres://app_user:${PASSWORD}@db.internal.acme-corp.net:5432/orders`;
const EMAIL = 'linh.nguyen@acme-corp.net';
const PHONE = '+84 912 345 678';

let cloud: OpenAIStub;
let ollama: OllamaStub;
let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  cloud = await new OpenAIStub().start();
  ollama = await startOllamaStub();
  gw = await startTestGateway({
    model_list: [
      { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } },
      { model_name: 'local-llama', litellm_params: { model: 'ollama/llama3.2', api_base: ollama.url } },
      { model_name: 'local-first', litellm_params: { model: 'ollama/llama3.2', api_base: ollama.url } },
      { model_name: 'cloud-first', litellm_params: { model: 'openai/gpt-4o-mini', api_base: cloud.url, api_key: 'sk-stub' } },
      { model_name: 'cloud-embed', litellm_params: { model: 'openai/text-embedding-3-small', api_base: cloud.url, api_key: 'sk-stub' } },
      // An OpenAI-compatible server the company runs itself, declared local.
      {
        model_name: 'company-vllm',
        litellm_params: { model: 'openai/qwen-coder', api_base: cloud.url, api_key: 'sk-stub' },
        model_info: { destination: 'local' },
      },
    ],
    router_settings: { fallbacks: [{ 'local-first': ['gpt-4o'] }, { 'cloud-first': ['local-llama'] }] },
    airlock: { guard: { rules: [{ name: 'project_codename', words: ['Nightjar', 'Bluebird'] }] } },
  });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop();
  await cloud.stop();
  await ollama.close();
});

/** Returns the raw body the stub received, to check what left the gateway. */
function sentText(request: RecordedRequest): string {
  return request.rawBody;
}

/** Replies with the last message's text as the stub received it, so the placeholders come back. */
function echo(request: RecordedRequest, res: import('node:http').ServerResponse): void {
  const messages = request.body.messages as Array<{ role: string; content: string }>;
  const last = messages[messages.length - 1]!;
  sendJson(res, 200, completion(String(request.body.model), `You wrote: ${last.content}`));
}

function unexpectedSuccess(): never {
  throw new Error('expected the request to fail');
}

/** Returns the API error a request failed with, so a test can assert on it. */
function apiError(error: unknown): InstanceType<typeof OpenAI.APIError> {
  if (error instanceof OpenAI.APIError) return error;
  throw error;
}

async function adminGet(path: string): Promise<Record<string, any>> {
  const response = await fetch(`${gw.url}/airlock/api${path}`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, any>;
}

describe('guard on the OpenAI surface', () => {
  it('blocks a secret bound for a cloud model', async () => {
    const before = cloud.requests.length;
    const error = await client.chat.completions
      .create({
        model: 'gpt-4o',
        messages: [
          { role: 'system', content: 'You review code.' },
          { role: 'user', content: `Why does this fail?\nDATABASE_URL=${DATABASE_URL}\n` },
        ],
      })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const denied = error as InstanceType<typeof OpenAI.PermissionDeniedError>;
    expect(denied.status).toBe(403);
    expect(denied.code).toBe('guard_blocked');
    expect(denied.type).toBe('invalid_request_error');
    expect(denied.message).toContain('postgres_uri at messages[1].content');
    expect(denied.message).not.toContain(PASSWORD);
    expect(denied.headers?.get('x-airlock-guard')).toBe('block');
    expect(denied.headers?.get('x-airlock-guard-findings')).toBe('postgres_uri=1');
    expect(cloud.requests.length).toBe(before);

    const requestId = denied.headers?.get('x-airlock-request-id');
    const events = await adminGet(`/guard/events?request_id=${requestId}`);
    expect(events.data).toHaveLength(1);
    expect(events.data[0]).toMatchObject({
      type: 'postgres_uri',
      category: 'secret',
      action: 'block',
      destination: 'cloud',
      path: 'messages[1].content',
      message_index: 1,
      length: PASSWORD.length,
    });
    expect(events.data[0].value_hash).toMatch(/^[0-9a-f]{32}$/);
    const record = await adminGet(`/requests/${requestId}`);
    expect(record.guardAction).toBe('block');
    expect(record.guardFindings).toBe(1);
    expect(record.attempts[0].errorKind).toBe('guard_blocked');
  });

  it('redacts personal data and restores it in the answer', async () => {
    cloud.next(echo);
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Write to ${EMAIL} or call ${PHONE} about ticket 42.` }] })
      .withResponse();

    const sent = sentText(cloud.last);
    expect(sent).not.toContain(EMAIL);
    expect(sent).not.toContain('912 345 678');
    expect(sent).toContain('Write to [EMAIL_1] or call [PHONE_NUMBER_1] about ticket 42.');
    expect(data.choices[0]!.message.content).toBe(`You wrote: Write to ${EMAIL} or call ${PHONE} about ticket 42.`);
    expect(response.headers.get('x-airlock-guard')).toBe('redact');
    expect(response.headers.get('x-airlock-guard-findings')).toBe('email=1, phone_number=1');
  });

  it('restores placeholders split across stream chunks', async () => {
    cloud.next((request, res) => {
      const pieces = ['Sure, I will write to [EMA', 'IL_1', '] today. Call [', 'PHONE_NUMBER_1] if', ' needed. [EMAIL_1]'];
      return sendStream(res, textChunks(String(request.body.model), pieces, request.body.stream_options));
    });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: `Contact ${EMAIL}, phone ${PHONE}.` }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(`Sure, I will write to ${EMAIL} today. Call ${PHONE} if needed. ${EMAIL}`);
    expect(sentText(cloud.last)).not.toContain(EMAIL);
  });

  it('sends a placeholder held at the end of a choice', async () => {
    cloud.next((request, res) => sendStream(res, textChunks(String(request.body.model), ['Reply to [EMAIL', '_1'], request.body.stream_options)));
    const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: `Mail ${EMAIL}` }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    // "[EMAIL_1" never closed, so it is not a placeholder and passes through as written.
    expect(text).toBe('Reply to [EMAIL_1');
  });

  it('restores streamed tool-call arguments as JSON', async () => {
    const owner = 'Nightjar';
    cloud.next((request, res) => {
      const base = { id: 'chatcmpl-tools', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o' };
      const call = (delta: Record<string, unknown>, finish: string | null = null) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
      return sendStream(res, [
        call({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'send_mail', arguments: '' } }] }),
        call({ tool_calls: [{ index: 0, function: { arguments: '{"to":"[EM' } }] }),
        call({ tool_calls: [{ index: 0, function: { arguments: 'AIL_1]","project":"[PROJECT_CODENAME_1]"}' } }] }),
        call({}, 'tool_calls'),
      ]);
    });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: `Send the ${owner} status to ${EMAIL}.` }],
      tools: [{ type: 'function', function: { name: 'send_mail', parameters: { type: 'object', properties: { to: { type: 'string' } } } } }],
    });
    let args = '';
    for await (const chunk of stream) args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
    expect(JSON.parse(args)).toEqual({ to: EMAIL, project: owner });
    expect(sentText(cloud.last)).toContain('Send the [PROJECT_CODENAME_1] status to [EMAIL_1].');
  });

  it('scans tool results and tool definitions', async () => {
    const before = cloud.requests.length;
    const inToolResult = await client.chat.completions
      .create({
        model: 'gpt-4o',
        messages: [
          { role: 'user', content: 'Read the config.' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'read_file', arguments: '{"path":".env"}' } }] },
          { role: 'tool', tool_call_id: 'c1', content: 'AWS_ACCESS_KEY_ID=AKIAQ3EGRTZ7NWP4XK2M\nDEBUG=1' },
        ],
      })
      .then(unexpectedSuccess, apiError);
    expect(inToolResult.status).toBe(403);
    expect(inToolResult.message).toContain('aws_access_key_id at messages[2].content');

    const inToolDefinition = await client.chat.completions
      .create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'Hi' }],
        tools: [{ type: 'function', function: { name: 'query', description: `Runs SQL on ${DATABASE_URL}`, parameters: { type: 'object' } } }],
      })
      .then(unexpectedSuccess, apiError);
    expect(inToolDefinition.status).toBe(403);
    expect(inToolDefinition.message).toContain('postgres_uri at tools[0].function.description');
    expect(cloud.requests.length).toBe(before);
  });

  it('lets a local model receive the request unchanged', async () => {
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'Looks fine.' }] });
    const { data, response } = await client.chat.completions
      .create({ model: 'local-llama', messages: [{ role: 'user', content: `Check ${DATABASE_URL} for ${EMAIL}` }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Looks fine.');
    const chats = ollama.requests.filter((request) => request.path === '/api/chat');
    expect(JSON.stringify(chats[chats.length - 1]!.body)).toContain(PASSWORD);
    expect(response.headers.get('x-airlock-guard')).toBe('allow');
  });

  it('treats a deployment declared local as local', async () => {
    cloud.next(echo);
    const { data } = await client.chat.completions
      .create({ model: 'company-vllm', messages: [{ role: 'user', content: `Use ${DATABASE_URL}` }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe(`You wrote: Use ${DATABASE_URL}`);
    expect(cloud.last.rawBody).toContain(PASSWORD);
  });

  it('blocks a local alias that falls back to a cloud model', async () => {
    ollama.enqueue('/api/chat', { kind: 'error', status: 500, message: 'model runner crashed' });
    const before = cloud.requests.length;
    const error = await client.chat.completions
      .create({ model: 'local-first', messages: [{ role: 'user', content: `Debug ${DATABASE_URL}` }] })
      .then(unexpectedSuccess, apiError);
    expect(error.status).toBe(403);
    expect(error.message).toContain("cloud deployment 'gpt-4o#0'");
    expect(error.message).toContain('Before that, local-first#2 answered HTTP 500.');
    expect(cloud.requests.length).toBe(before);
    const record = await adminGet(`/requests/${error.headers?.get('x-airlock-request-id')}`);
    expect(record.attempts.map((attempt: { errorKind: string }) => attempt.errorKind)).toEqual(['upstream_server', 'guard_blocked']);
  });

  it('redacts a fallback attempt to a cloud model', async () => {
    ollama.enqueue('/api/chat', { kind: 'error', status: 500, message: 'model runner crashed' });
    cloud.next(echo);
    const { data, response } = await client.chat.completions
      .create({ model: 'local-first', messages: [{ role: 'user', content: `Mail ${EMAIL}` }] })
      .withResponse();
    const chats = ollama.requests.filter((request) => request.path === '/api/chat');
    expect(JSON.stringify(chats[chats.length - 1]!.body)).toContain(EMAIL);
    expect(cloud.last.rawBody).toContain('Mail [EMAIL_1]');
    expect(data.choices[0]!.message.content).toBe(`You wrote: Mail ${EMAIL}`);
    expect(response.headers.get('x-airlock-guard')).toBe('redact');
  });

  it('reports the block of a skipped cloud attempt', async () => {
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'Local answer.' }] });
    const { response } = await client.chat.completions
      .create({ model: 'cloud-first', messages: [{ role: 'user', content: `Debug ${DATABASE_URL}` }] })
      .withResponse();
    expect(response.headers.get('x-airlock-guard')).toBe('block');
    const events = await adminGet(`/guard/events?request_id=${response.headers.get('x-airlock-request-id')}`);
    const actions = events.data.map((event: { destination: string; action: string }) => `${event.destination}:${event.action}`).sort();
    expect(actions).toEqual(['cloud:block', 'local:allow']);
  });

  it('scans fields outside the messages text', async () => {
    const token = 'ghp_R8x2Kq7LmN4vB9cT1zW5yH3jD6fG0sA2pE7u';
    const before = cloud.requests.length;
    const blocked = await client.chat.completions
      .create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `https://raw.example.com/a.png?token=${token}` } }] }],
      })
      .then(unexpectedSuccess, apiError);
    expect(blocked.status).toBe(403);
    expect(blocked.message).toContain('messages[0].content[0].image_url.url');
    expect(cloud.requests.length).toBe(before);

    cloud.next(echo);
    await client.chat.completions.create({ model: 'gpt-4o', user: EMAIL, messages: [{ role: 'user', content: 'Hi' }] });
    expect(cloud.last.body.user).toBe('[EMAIL_1]');
  });

  it('keeps secrets out of stored upstream errors', async () => {
    ollama.enqueue('/api/chat', { kind: 'error', status: 400, message: `cannot parse prompt: ${DATABASE_URL}` });
    const error = await client.chat.completions
      .create({ model: 'local-llama', messages: [{ role: 'user', content: DATABASE_URL }] })
      .then(unexpectedSuccess, apiError);
    const record = await adminGet(`/requests/${error.headers?.get('x-airlock-request-id')}`);
    expect(record.errorMessage).toContain('[POSTGRES_URI]');
    expect(record.errorMessage).not.toContain(PASSWORD);
    expect(record.attempts[0].errorMessage).not.toContain(PASSWORD);
  });

  it('scans embedding inputs', async () => {
    const blocked = await client.embeddings
      .create({ model: 'cloud-embed', input: ['fine', `password for ${DATABASE_URL}`] })
      .then(unexpectedSuccess, apiError);
    expect(blocked.status).toBe(403);
    expect(blocked.message).toContain('postgres_uri at input[1]');

    const { response } = await client.embeddings.create({ model: 'cloud-embed', input: `Customer ${EMAIL}` }).withResponse();
    expect(cloud.last.body.input).toBe('Customer [EMAIL_1]');
    expect(response.headers.get('x-airlock-guard')).toBe('redact');
    expect(response.headers.get('x-airlock-guard-findings')).toBe('email=1');
  });

  it('stores no value in the database, the key file or the logs', async () => {
    const files = readdirSync(gw.dataDir).filter((name) => name.startsWith('airlock.db'));
    expect(files.length).toBeGreaterThan(0);
    for (const name of files) {
      const bytes = readFileSync(join(gw.dataDir, name));
      expect(bytes.includes(PASSWORD)).toBe(false);
      expect(bytes.includes(EMAIL)).toBe(false);
    }
    const logs = gw.logs.join('');
    expect(logs).not.toContain(PASSWORD);
    expect(logs).not.toContain(EMAIL);
  });

  it('counts repeats by value hash in the summary', async () => {
    const summary = await adminGet('/guard/summary?type=email');
    const redacted = summary.data.find((row: { action: string }) => row.action === 'redact');
    expect(redacted.count).toBeGreaterThanOrEqual(5);
    expect(redacted.distinct_values).toBe(1);
  });

  it('rejects bad guard event filters', async () => {
    const response = await fetch(`${gw.url}/airlock/api/guard/events?action=delete`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe('action');
    expect(body.error.message).toContain('block, redact, route_local or allow');
  });
});

describe('guard route_local', () => {
  let routed: TestGateway;
  let routedClient: OpenAI;

  beforeAll(async () => {
    routed = await startTestGateway({
      model_list: [
        { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } },
        { model_name: 'local-llama', litellm_params: { model: 'ollama/llama3.2', api_base: ollama.url } },
      ],
      airlock: { guard: { actions: { personal: { cloud: 'route_local' }, aws_access_key_id: { cloud: 'route_local' } }, local_model: 'local-llama' } },
    });
    routedClient = new OpenAI({ baseURL: `${routed.url}/v1`, apiKey: routed.userKey, maxRetries: 0 });
  });

  afterAll(async () => {
    await routed.stop();
  });

  it('sends personal data to the local model instead', async () => {
    const before = cloud.requests.length;
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'Handled locally.' }] });
    const { data, response } = await routedClient.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Summarise the mail from ${EMAIL}` }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Handled locally.');
    expect(cloud.requests.length).toBe(before);
    expect(response.headers.get('x-airlock-guard')).toBe('route_local');
    expect(decodeURIComponent(response.headers.get('x-airlock-route-reason') ?? '')).toContain('guard: route_local (email) to local-llama');
    const events = await fetch(`${routed.url}/airlock/api/guard/events?request_id=${response.headers.get('x-airlock-request-id')}`, {
      headers: { authorization: `Bearer ${routed.adminKey}` },
    }).then((r) => r.json() as Promise<{ data: Array<{ action: string; destination: string }> }>);
    const actions = events.data.map((event) => `${event.destination}:${event.action}`).sort();
    expect(actions).toEqual(['cloud:route_local', 'local:allow']);
  });

  it('blocks when no local model exists', async () => {
    const noLocal = await startTestGateway({
      model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }],
      airlock: { guard: { actions: { personal: { cloud: 'route_local' } } } },
    });
    try {
      const response = await fetch(`${noLocal.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${noLocal.userKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `Mail ${EMAIL}` }] }),
      });
      expect(response.status).toBe(403);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('guard_blocked');
      expect(body.error.message).toContain('airlock.guard.local_model');
      expect(response.headers.get('x-airlock-guard')).toBe('block');
    } finally {
      await noLocal.stop();
    }
  });
});

describe('guard settings', () => {
  it('passes everything when disabled', async () => {
    const off = await startTestGateway({
      model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }],
      airlock: { guard: { enabled: false } },
    });
    try {
      cloud.next(echo);
      const response = await fetch(`${off.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${off.userKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: DATABASE_URL }] }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-airlock-guard')).toBeNull();
      expect(cloud.last.rawBody).toContain(PASSWORD);
    } finally {
      await off.stop();
    }
  });

  it('lets a type override its category', async () => {
    const custom = await startTestGateway({
      model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }],
      airlock: { guard: { actions: { email: { cloud: 'allow' }, personal: { cloud: 'block' } } } },
    });
    try {
      cloud.next(echo);
      const post = (content: string): Promise<Response> =>
        fetch(`${custom.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${custom.userKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] }),
        });
      const allowed = await post(`Mail ${EMAIL}`);
      expect(allowed.status).toBe(200);
      expect(cloud.last.rawBody).toContain(EMAIL);
      const blocked = await post(`Call ${PHONE}`);
      expect(blocked.status).toBe(403);
    } finally {
      await custom.stop();
    }
  });
});
