import { readdirSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Anthropic from '@anthropic-ai/sdk';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../src/config/load';
import { createEnvSecretStore } from '../src/config/secrets';
import { Guard } from '../src/guard/guard';
import { createLogger } from '../src/logger';
import { decideCache, type CacheDecision } from '../src/pipeline/cache-step';
import { RequestContext } from '../src/pipeline/context';
import type { RoutePlan } from '../src/pipeline/router';
import type { ChatSurface, ParsedChatRequest } from '../src/pipeline/surface';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { messageBody, startAnthropicStub, type AnthropicStub, type RecordedRequest as AnthropicRequest } from './stubs/anthropic';
import { startOllamaStub, type OllamaStub } from './stubs/ollama';
import { completion, OpenAIStub, sendJson, sendStream, textChunks, type RecordedRequest } from './stubs/openai';

/*
 * airlock.cache.store_redacted: responses to requests the guard redacted are cached under the
 * redacted body, stored with placeholders, and served with each request's own values.
 */

const EMAIL_A = 'minh.pham@acme-corp.net';
const EMAIL_B = 'quynh.dao@acme-corp.net';
const PASSWORD_A = 'Qw7!rTz9Lp';
const PASSWORD_B = 'Hn4$kVb2Xs';
const PATH_A = 'C:\\builds\\alpha';
const PATH_B = 'C:\\builds\\beta';
const PHONE_A = '+84 912 345 678';
const PHONE_B = '+84 987 654 321';
const AWS_KEY = 'AKIAQ3EGRTZ7NWP4XK2M';

const databaseUrl = (password: string): string => `postgres://app_user:${password}@db.internal.acme-corp.net:5432/orders`;

/**
 * Every value the requests carried, as text and in the JSON-escaped form a stored body would use,
 * and the local part of each email, which the semantic tier's lexical signature keeps as a token.
 */
const VALUES = [
  EMAIL_A,
  EMAIL_B,
  'minh.pham',
  'quynh.dao',
  PASSWORD_A,
  PASSWORD_B,
  PHONE_A,
  PHONE_B,
  PATH_A,
  PATH_B,
  ...[PATH_A, PATH_B].map((path) => JSON.stringify(path).slice(1, -1)),
];

const guardConfig = {
  actions: { postgres_uri: { cloud: 'redact' }, phone_number: { cloud: 'redact', local: 'redact' } },
  rules: [{ name: 'build_path', regex: 'C:\\\\builds\\\\[a-z]+' }],
};

/** Replies with the last message's text as the stub received it, so placeholders come back. */
function echo(request: RecordedRequest, res: ServerResponse): void {
  const messages = request.body.messages as Array<{ content: string }>;
  sendJson(res, 200, completion(String(request.body.model), `You wrote: ${messages[messages.length - 1]!.content}`));
}

/** Returns the parsed arguments of a completion's first tool call. */
function toolArguments(data: OpenAI.Chat.ChatCompletion): unknown {
  const call = data.choices[0]!.message.tool_calls?.[0];
  if (call?.type !== 'function') throw new Error(`expected a function tool call, got ${JSON.stringify(call)}`);
  return JSON.parse(call.function.arguments);
}

describe('redacted cache key', () => {
  const config = buildConfig(
    {
      model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: 'http://127.0.0.1:9/v1', api_key: 'sk-stub' } }],
      airlock: { cache: { enabled: true, store_redacted: true }, guard: guardConfig },
    },
    createEnvSecretStore({}),
    { dataDir: '/tmp/airlock-cache-redacted-test' },
  );
  const guard = new Guard(config.guard, Buffer.alloc(32));
  const silent = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const plan: RoutePlan = { alias: 'gpt-4o', primary: config.aliases.get('gpt-4o')!, reasons: [], fallbacks: [], contextWindowFallbacks: [], contentPolicyFallbacks: [] };

  function decide(content: string): CacheDecision {
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content }] };
    const ctx = new RequestContext('openai-chat', null, createLogger({ destination: silent }));
    ctx.principal = { keyId: 'key-1', role: 'user', userId: null, teamId: null };
    const cache = { settings: config.cache, store: null as never, semantic: null };
    const surface = { format: 'openai-chat' } as ChatSurface;
    const request = { body } as unknown as ParsedChatRequest;
    return decideCache(cache, ctx, surface, request, plan, guard.scanRequest('openai-chat', body), {});
  }

  it('is the same for different secret values', () => {
    const first = decide(`Why does ${databaseUrl(PASSWORD_A)} refuse connections?`);
    const second = decide(`Why does ${databaseUrl(PASSWORD_B)} refuse connections?`);
    if (first.kind !== 'use' || second.kind !== 'use') throw new Error(`expected both requests to use the cache, got ${JSON.stringify([first, second])}`);
    expect(second.key).toBe(first.key);
    expect(JSON.stringify(first.body)).toContain('[POSTGRES_URI_1]');
    expect(JSON.stringify(first.body)).not.toContain(PASSWORD_A);
    expect(first.mapping.get('[POSTGRES_URI_1]')).toBe(PASSWORD_A);
    expect(second.mapping.get('[POSTGRES_URI_1]')).toBe(PASSWORD_B);
  });

  it('differs when the other text differs', () => {
    const first = decide(`Why does ${databaseUrl(PASSWORD_A)} refuse connections?`);
    const other = decide(`Why does ${databaseUrl(PASSWORD_A)} time out?`);
    if (first.kind !== 'use' || other.kind !== 'use') throw new Error('expected both requests to use the cache');
    expect(other.key).not.toBe(first.key);
  });

  it('guard finds values in an answer', () => {
    expect(guard.findsAny(`Connect with ${databaseUrl(PASSWORD_A)}`)).toBe(true);
    expect(guard.findsAny('Connect with [POSTGRES_URI_1]')).toBe(false);
    expect(guard.findsAny('')).toBe(false);
  });
});

describe('store_redacted on', () => {
  let cloud: OpenAIStub;
  let anthropic: AnthropicStub;
  let ollama: OllamaStub;
  let gw: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    cloud = await new OpenAIStub().start();
    anthropic = await startAnthropicStub();
    ollama = await startOllamaStub();
    gw = await startTestGateway({
      model_list: [
        { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } },
        { model_name: 'claude-sonnet', litellm_params: { model: 'anthropic/claude-sonnet-4-5', api_base: anthropic.url, api_key: 'sk-stub' } },
        { model_name: 'local-llama', litellm_params: { model: 'ollama/llama3.2', api_base: ollama.url } },
        { model_name: 'mixed', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } },
        { model_name: 'mixed', litellm_params: { model: 'ollama/llama3.2', api_base: ollama.url } },
      ],
      airlock: { cache: { enabled: true, store_redacted: true, semantic: { enabled: true } }, guard: guardConfig },
    });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
  });

  afterAll(async () => {
    await gw.stop();
    await cloud.stop();
    await anthropic.close();
    await ollama.close();
  });

  async function adminGet(path: string): Promise<Record<string, any>> {
    const response = await fetch(`${gw.url}/airlock/api${path}`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, any>;
  }

  const ask = (content: string) => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] }).withResponse();

  it('serves a hit with this request value', async () => {
    cloud.next(echo);
    const before = cloud.requests.length;
    const first = await ask(`Write a reminder to ${EMAIL_A} about the invoice.`);
    expect(first.response.headers.get('x-airlock-cache')).toBe('miss');
    expect(cloud.last.rawBody).toContain('Write a reminder to [EMAIL_1] about the invoice.');
    expect(first.data.choices[0]!.message.content).toBe(`You wrote: Write a reminder to ${EMAIL_A} about the invoice.`);

    const second = await ask(`Write a reminder to ${EMAIL_B} about the invoice.`);
    expect(second.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(cloud.requests.length).toBe(before + 1);
    expect(second.data.choices[0]!.message.content).toBe(`You wrote: Write a reminder to ${EMAIL_B} about the invoice.`);
    expect(second.data.choices[0]!.message.content).not.toContain(EMAIL_A);
  });

  it('reports the guard on a hit', async () => {
    cloud.next(echo);
    await ask(`Draft a thank-you note to ${EMAIL_A}.`);
    const { response } = await ask(`Draft a thank-you note to ${EMAIL_B}.`);
    expect(response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(response.headers.get('x-airlock-guard')).toBe('redact');
    expect(response.headers.get('x-airlock-guard-findings')).toBe('email=1');
    const requestId = response.headers.get('x-airlock-request-id');
    const events = await adminGet(`/guard/events?request_id=${requestId}`);
    expect(events.data).toHaveLength(1);
    expect(events.data[0]).toMatchObject({ type: 'email', action: 'redact', destination: 'cloud' });
    const record = await adminGet(`/requests/${requestId}`);
    expect(record.guardAction).toBe('redact');
    expect(record.cacheStatus).toBe('hit-exact');
  });

  it('shares an answer across secret values', async () => {
    cloud.next(echo);
    const first = await ask(`Why does ${databaseUrl(PASSWORD_A)} refuse connections?`);
    expect(first.response.headers.get('x-airlock-cache')).toBe('miss');
    const second = await ask(`Why does ${databaseUrl(PASSWORD_B)} refuse connections?`);
    expect(second.response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(second.data.choices[0]!.message.content).toBe(`You wrote: Why does ${databaseUrl(PASSWORD_B)} refuse connections?`);
  });

  it('restores the value in a replayed stream', async () => {
    cloud.next(echo);
    await ask(`Summarise the thread with ${EMAIL_A} in two lines.`);
    const before = cloud.requests.length;
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: `Summarise the thread with ${EMAIL_B} in two lines.` }] })
      .withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(response.headers.get('x-airlock-guard')).toBe('redact');
    expect(cloud.requests.length).toBe(before);
    expect(text).toBe(`You wrote: Summarise the thread with ${EMAIL_B} in two lines.`);
  });

  it('stores a streamed answer with placeholders', async () => {
    cloud.next((request, res) => sendStream(res, textChunks(String(request.body.model), ['Reminder sent to [EMA', 'IL_1].'], request.body.stream_options)));
    const request = (email: string) => ({ model: 'gpt-4o', messages: [{ role: 'user' as const, content: `Send the overdue notice to ${email}.` }] });
    const streamed = await client.chat.completions.stream({ ...request(EMAIL_A), stream: true }).finalChatCompletion();
    expect(streamed.choices[0]!.message.content).toBe(`Reminder sent to ${EMAIL_A}.`);

    const { data, response } = await client.chat.completions.create(request(EMAIL_B)).withResponse();
    expect(response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(data.choices[0]!.message.content).toBe(`Reminder sent to ${EMAIL_B}.`);
  });

  it('restores JSON-escaped tool-call arguments', async () => {
    cloud.next((request, res) => {
      const call = { id: 'call_1', type: 'function', function: { name: 'archive', arguments: '{"path": "[BUILD_PATH_1]", "notify": "[EMAIL_1]"}' } };
      sendJson(res, 200, completion(String(request.body.model), null, { tool_calls: [call] }));
    });
    const tools = [{ type: 'function' as const, function: { name: 'archive', parameters: { type: 'object' } } }];
    const request = (path: string, email: string) => ({ model: 'gpt-4o', tools, messages: [{ role: 'user' as const, content: `Archive ${path} and notify ${email}.` }] });
    const first = await client.chat.completions.create(request(PATH_A, EMAIL_A));
    expect(cloud.last.rawBody).toContain('Archive [BUILD_PATH_1] and notify [EMAIL_1].');
    expect(toolArguments(first)).toEqual({ path: PATH_A, notify: EMAIL_A });

    const { data, response } = await client.chat.completions.create(request(PATH_B, EMAIL_B)).withResponse();
    expect(response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(toolArguments(data)).toEqual({ path: PATH_B, notify: EMAIL_B });
  });

  it('restores the value in an Anthropic stream', async () => {
    anthropic.setHandler((request: AnthropicRequest) => {
      const messages = (request.body as { messages: Array<{ content: string }> }).messages;
      return {
        kind: 'message',
        body: messageBody([
          { type: 'text', text: `You wrote: ${messages[messages.length - 1]!.content}` },
          { type: 'tool_use', id: 'toolu_1', name: 'send_mail', input: { to: '[EMAIL_1]' } },
        ]),
      };
    });
    const messages = new Anthropic({ baseURL: gw.url, apiKey: gw.userKey, maxRetries: 0 });
    const request = (email: string) => ({ model: 'claude-sonnet', max_tokens: 100, messages: [{ role: 'user' as const, content: `Book a call with ${email}.` }] });
    await messages.messages.create(request(EMAIL_A));
    const before = anthropic.requests.length;

    const stream = messages.messages.stream(request(EMAIL_B));
    const { response } = await stream.withResponse();
    const replayed = await stream.finalMessage();
    expect(response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(response.headers.get('x-airlock-guard')).toBe('redact');
    expect(anthropic.requests.length).toBe(before);
    expect(replayed.content[0]).toMatchObject({ type: 'text', text: `You wrote: Book a call with ${EMAIL_B}.` });
    expect(replayed.content[1]).toMatchObject({ type: 'tool_use', input: { to: EMAIL_B } });
  });

  it('serves a semantic hit with this request value', async () => {
    cloud.next(echo);
    const first = await ask(`How do I share a calendar with ${EMAIL_A} in Outlook?`);
    expect(first.response.headers.get('x-airlock-cache')).toBe('miss');
    const second = await ask(`What's the way to share a calendar with ${EMAIL_B} in Outlook?`);
    expect(second.response.headers.get('x-airlock-cache')).toBe('hit-semantic');
    expect(second.data.choices[0]!.message.content).toBe(`You wrote: How do I share a calendar with ${EMAIL_B} in Outlook?`);
  });

  it('caches a local model redacted answer', async () => {
    ollama.enqueue('/api/chat', { kind: 'reply', chunks: [{ content: 'Calling [PHONE_' }, { content: 'NUMBER_1] now.' }] });
    const request = (phone: string) => ({ model: 'local-llama', messages: [{ role: 'user' as const, content: `Call ${phone} about the delivery.` }] });
    const first = await client.chat.completions.create(request(PHONE_A)).withResponse();
    expect(first.response.headers.get('x-airlock-cache')).toBe('miss');
    expect(first.data.choices[0]!.message.content).toBe(`Calling ${PHONE_A} now.`);
    const before = ollama.requests.length;

    const { data, response } = await client.chat.completions.create(request(PHONE_B)).withResponse();
    expect(response.headers.get('x-airlock-cache')).toBe('hit-exact');
    expect(ollama.requests.length).toBe(before);
    expect(data.choices[0]!.message.content).toBe(`Calling ${PHONE_B} now.`);
    const events = await adminGet(`/guard/events?request_id=${response.headers.get('x-airlock-request-id')}`);
    expect(events.data.map((event: { destination: string; action: string }) => `${event.destination}:${event.action}`)).toEqual(['local:redact']);
  });

  it('skips a local model that gets the values', async () => {
    const before = ollama.requests.length;
    const { response } = await client.chat.completions
      .create({ model: 'local-llama', messages: [{ role: 'user', content: `Forward the minutes to ${EMAIL_A}.` }] })
      .withResponse();
    expect(response.headers.get('x-airlock-cache')).toBe("skip; reason=guard findings that the model's local deployments receive unredacted");
    expect(ollama.requests.length).toBe(before + 1);
  });

  it('skips a request with a block finding', async () => {
    const before = ollama.requests.length;
    for (let attempt = 0; attempt < 2; attempt++) {
      const { response } = await client.chat.completions
        .create({ model: 'local-llama', messages: [{ role: 'user', content: `Is ${AWS_KEY} still in use?` }] })
        .withResponse();
      expect(response.headers.get('x-airlock-cache')).toBe('skip; reason=guard (a finding that policy blocks or keeps on local models)');
    }
    expect(ollama.requests.length).toBe(before + 2);
  });

  it('skips a plan of cloud and local deployments', async () => {
    const before = cloud.requests.length + ollama.requests.length;
    for (let attempt = 0; attempt < 2; attempt++) {
      const { response } = await client.chat.completions
        .create({ model: 'mixed', messages: [{ role: 'user', content: `Forward the agenda to ${EMAIL_A}.` }] })
        .withResponse();
      expect(response.headers.get('x-airlock-cache')).toBe('skip; reason=guard redaction, and the model has both cloud and local deployments');
    }
    expect(cloud.requests.length + ollama.requests.length).toBe(before + 2);
  });

  it('keeps no value in the database', async () => {
    const files = readdirSync(gw.dataDir).filter((name) => name.startsWith('airlock.db'));
    expect(files).toContain('airlock.db');
    expect(files).toContain('airlock.db-wal');
    for (const name of files) {
      const bytes = readFileSync(join(gw.dataDir, name));
      for (const value of VALUES) expect(bytes.includes(value), `${name} contains a request value`).toBe(false);
    }

    const db = new Database(join(gw.dataDir, 'airlock.db'), { readonly: true });
    try {
      const stored = (db.prepare('SELECT response, signature FROM cache_entries').all() as Array<{ response: string; signature: string | null }>)
        .map((row) => `${row.response}\n${row.signature ?? ''}`)
        .join('\n');
      for (const placeholder of ['[EMAIL_1]', '[POSTGRES_URI_1]', '[BUILD_PATH_1]', 'EMAIL_1']) expect(stored).toContain(placeholder);
      for (const value of VALUES) expect(stored).not.toContain(value);
    } finally {
      db.close();
    }
    const logs = gw.logs.join('');
    for (const value of VALUES) expect(logs).not.toContain(value);
  });
});

describe('store_redacted off', () => {
  it('skips a redacted request by default', async () => {
    const cloud = await new OpenAIStub().start();
    const gw = await startTestGateway({
      model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }],
      airlock: { cache: { enabled: true } },
    });
    try {
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
      for (const email of [EMAIL_A, EMAIL_A]) {
        cloud.next(echo);
        const { data, response } = await client.chat.completions
          .create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Write a reminder to ${email}.` }] })
          .withResponse();
        expect(response.headers.get('x-airlock-cache')).toBe('skip; reason=guard redaction (set airlock.cache.store_redacted: true to cache redacted requests)');
        expect(data.choices[0]!.message.content).toBe(`You wrote: Write a reminder to ${email}.`);
      }
      expect(cloud.requests.length).toBe(2);
    } finally {
      await gw.stop();
      await cloud.stop();
    }
  });
});
