import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/storage/audit';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { anthropicReply, auditRecord, decodedRouteReason, refusedUrl, startOpenAIUpstream, type OpenAIUpstream } from './helpers/routing';
import { errorEvent, startAnthropicStub, streamEvents, type AnthropicStub, type StubBehaviour, type StubEvent } from './stubs/anthropic';
import { pause } from './stubs/openai';

/*
 * Failover on the Anthropic Messages surface, through a real gateway to Anthropic-format stubs
 * and one OpenAI-format upstream. Before the first content event a failure moves on to the next
 * deployment or fallback alias, and the client sees only the successful response. After it, the client gets
 * one `event: error` in Anthropic's format and no other provider is called.
 *
 * claude-main (stub "flaky", timeout 1 s, stream_timeout 0.3 s) falls back to claude-backup, and
 * to claude-wide on "prompt is too long". claude-cross falls back to gpt-backup, an OpenAI-format
 * deployment. claude-pair has a cheap deployment on "flaky" and a dearer one on "backup".
 */

let flaky: AnthropicStub;
let backup: AnthropicStub;
let wide: AnthropicStub;
let openaiBackup: OpenAIUpstream;
let gw: TestGateway;
let client: Anthropic;

const key = 'os.environ/STUB_ANTHROPIC_KEY';

beforeAll(async () => {
  flaky = await startAnthropicStub();
  backup = await startAnthropicStub();
  wide = await startAnthropicStub();
  openaiBackup = await startOpenAIUpstream('openai-backup');
  backup.setHandler((request) => anthropicReply(request.body, 'from backup'));
  wide.setHandler((request) => anthropicReply(request.body, 'from wide'));
  const sonnet = 'anthropic/claude-sonnet-4-5-20250929';
  gw = await startTestGateway(
    {
      model_list: [
        { model_name: 'claude-main', litellm_params: { model: sonnet, api_key: key, api_base: flaky.url, timeout: 1, stream_timeout: 0.3 } },
        { model_name: 'claude-backup', litellm_params: { model: 'anthropic/claude-haiku-4-5-20251001', api_key: key, api_base: backup.url } },
        { model_name: 'claude-wide', litellm_params: { model: 'anthropic/claude-opus-4-1-20250805', api_key: key, api_base: wide.url } },
        { model_name: 'claude-refused', litellm_params: { model: sonnet, api_key: key, api_base: await refusedUrl() } },
        { model_name: 'claude-cross', litellm_params: { model: sonnet, api_key: key, api_base: flaky.url } },
        { model_name: 'gpt-backup', litellm_params: { model: 'openai/gpt-4o-mini', api_key: 'os.environ/STUB_OPENAI_KEY', api_base: openaiBackup.url } },
        { model_name: 'claude-pair', litellm_params: { model: 'anthropic/claude-haiku-4-5-20251001', api_key: key, api_base: flaky.url } },
        { model_name: 'claude-pair', litellm_params: { model: sonnet, api_key: key, api_base: backup.url } },
      ],
      router_settings: {
        routing_strategy: 'cost-based-routing',
        allowed_fails: 1000,
        fallbacks: [{ 'claude-main': ['claude-backup'] }, { 'claude-refused': ['claude-backup'] }, { 'claude-cross': ['gpt-backup'] }],
        context_window_fallbacks: [{ 'claude-main': ['claude-wide'] }],
      },
    },
    { STUB_ANTHROPIC_KEY: 'sk-ant-stub-key', STUB_OPENAI_KEY: 'sk-stub-openai-key' },
  );
  client = new Anthropic({ baseURL: gw.url, apiKey: gw.userKey, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop();
  await Promise.all([flaky.close(), backup.close(), wide.close(), openaiBackup.close()]);
});

beforeEach(() => {
  for (const stub of [flaky, backup, wide]) stub.requests.length = 0;
  openaiBackup.reset();
});

const params = { max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hi' }] };

interface Served {
  text: string;
  headers: Headers;
  record: AuditRecord;
}

/** Send a Messages request, streamed or not, and return the response text, the headers and the audit record. */
async function ask(model: string, stream: boolean): Promise<Served> {
  if (!stream) {
    const { data, response } = await client.messages.create({ ...params, model }).withResponse();
    const text = data.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
    return { text, headers: response.headers, record: await auditRecord(gw, response.headers.get('x-airlock-request-id')) };
  }
  const { data, response } = await client.messages.create({ ...params, model, stream: true }).withResponse();
  let text = '';
  for await (const event of data) {
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
  }
  return { text, headers: response.headers, record: await auditRecord(gw, response.headers.get('x-airlock-request-id')) };
}

function attemptsOf(record: AuditRecord): Array<[string, number | null, string | null]> {
  return record.attempts.map((attempt) => [attempt.deploymentId, attempt.status, attempt.errorKind]);
}

const text = (): StubEvent[] => streamEvents([{ type: 'text', pieces: ['Hello', ' there'] }]);
/** Returns the events of a text stream up to and including its first content delta. */
const untilFirstDelta = (): StubEvent[] => {
  const events = text();
  return events.slice(0, events.findIndex((event) => 'event' in event && event.event === 'content_block_delta') + 1);
};
/** message_start, content_block_start and ping: bytes on the wire, but no content yet. */
const prelude = (): StubEvent[] => untilFirstDelta().slice(0, -1);

interface FallbackCase {
  name: string;
  stream: boolean;
  behaviour: StubBehaviour;
  status: number | null;
  errorKind: string;
  reason: string;
}

const fallbackCases: FallbackCase[] = [
  { name: 'a 500', stream: false, behaviour: { kind: 'error', status: 500, type: 'api_error', message: 'Internal server error' }, status: 500, errorKind: 'upstream_server', reason: 'answered HTTP 500' },
  {
    name: 'a 429 with Retry-After',
    stream: false,
    behaviour: { kind: 'error', status: 429, type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit', headers: { 'retry-after': '1' } },
    status: 429,
    errorKind: 'upstream_rate_limited',
    reason: 'answered HTTP 429',
  },
  { name: 'a 529', stream: false, behaviour: { kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' }, status: 529, errorKind: 'overloaded', reason: 'answered HTTP 529' },
  { name: 'a reset connection', stream: false, behaviour: { kind: 'destroy' }, status: null, errorKind: 'upstream_error', reason: 'was unreachable or sent an invalid response' },
  { name: 'a hang past the total timeout', stream: false, behaviour: { kind: 'hang' }, status: null, errorKind: 'upstream_timeout', reason: 'timed out after 1 s' },
  { name: 'a 529', stream: true, behaviour: { kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' }, status: 529, errorKind: 'overloaded', reason: 'answered HTTP 529' },
  {
    name: 'a stream cut after zero bytes',
    stream: true,
    behaviour: { kind: 'stream', events: [], finish: 'destroy' },
    status: null,
    errorKind: 'upstream_error',
    reason: 'was unreachable or sent an invalid response',
  },
  {
    name: 'a stream cut after message_start and ping',
    stream: true,
    behaviour: { kind: 'stream', events: prelude(), finish: 'destroy' },
    status: null,
    errorKind: 'upstream_error',
    reason: 'was unreachable or sent an invalid response',
  },
  {
    name: 'an overloaded error event before content',
    stream: true,
    behaviour: { kind: 'stream', events: [...prelude().slice(0, 1), errorEvent('overloaded_error', 'Overloaded')] },
    status: 529,
    errorKind: 'overloaded',
    reason: 'answered HTTP 529',
  },
  {
    name: 'no first event within stream_timeout',
    stream: true,
    behaviour: { kind: 'stream', events: [{ raw: ': keep-alive\n\n' }], finish: 'hang' },
    status: null,
    errorKind: 'upstream_timeout',
    reason: 'sent no first event within 0.3 s',
  },
];

describe('failover before the first content byte', () => {
  for (const { name, stream, behaviour, status, errorKind, reason } of fallbackCases) {
    it(`falls back to claude-backup after ${name}${stream ? ' (stream)' : ''}`, async () => {
      flaky.enqueue(behaviour);

      const { text: answer, headers, record } = await ask('claude-main', stream);

      expect(answer).toBe('from backup');
      expect(headers.get('x-airlock-model')).toBe('claude-haiku-4-5-20251001');
      expect(headers.get('x-airlock-fallback-from')).toBe('claude-main');
      expect(decodedRouteReason(headers)).toBe(`fallback: claude-main#0 ${reason}`);
      expect(flaky.requests).toHaveLength(1);
      expect(backup.requests).toHaveLength(1);
      expect(attemptsOf(record)).toEqual([
        ['claude-main#0', status, errorKind],
        ['claude-backup#1', 200, null],
      ]);
      expect(record).toMatchObject({ httpStatus: 200, inboundApi: 'anthropic-messages', deploymentId: 'claude-backup#1', fallbackFrom: 'claude-main' });
      expect(record.routeReason).toBe(`fallback: claude-main#0 ${reason}`);
    });
  }

  for (const stream of [false, true]) {
    it(`falls back from a refused connection${stream ? ' (stream)' : ''}`, async () => {
      const { text: answer, headers, record } = await ask('claude-refused', stream);

      expect(answer).toBe('from backup');
      expect(headers.get('x-airlock-fallback-from')).toBe('claude-refused');
      expect(attemptsOf(record)).toEqual([
        ['claude-refused#3', null, 'upstream_error'],
        ['claude-backup#1', 200, null],
      ]);
      expect(record.attempts[0]!.errorMessage).toMatch(/could not connect to deployment 'claude-refused#3'.*ECONNREFUSED/);
    });

    it(`sends "prompt is too long" to context_window_fallbacks${stream ? ' (stream)' : ''}`, async () => {
      flaky.enqueue({ kind: 'error', status: 400, type: 'invalid_request_error', message: 'prompt is too long: 215008 tokens > 200000 maximum' });

      const { text: answer, headers, record } = await ask('claude-main', stream);

      expect(answer).toBe('from wide');
      expect(headers.get('x-airlock-model')).toBe('claude-opus-4-1-20250805');
      expect(decodedRouteReason(headers)).toBe('fallback: claude-main#0 exceeded its context window');
      expect(backup.requests).toHaveLength(0);
      expect(attemptsOf(record)).toEqual([
        ['claude-main#0', 400, 'upstream_bad_request'],
        ['claude-wide#2', 200, null],
      ]);
    });

    it(`falls back to an OpenAI deployment in Anthropic's format${stream ? ' (stream)' : ''}`, async () => {
      flaky.enqueue({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' });

      const { text: answer, headers, record } = await ask('claude-cross', stream);

      expect(answer).toBe('from openai-backup');
      expect(headers.get('x-airlock-model')).toBe('gpt-4o-mini');
      expect(headers.get('x-airlock-fallback-from')).toBe('claude-cross');
      expect(openaiBackup.requests).toHaveLength(1);
      expect(attemptsOf(record)).toEqual([
        ['claude-cross#4', 529, 'overloaded'],
        ['gpt-backup#5', 200, null],
      ]);
    });

    it(`moves to the next deployment of the same alias${stream ? ' (stream)' : ''}`, async () => {
      flaky.enqueue({ kind: 'error', status: 500, type: 'api_error', message: 'Internal server error' });

      const { text: answer, headers, record } = await ask('claude-pair', stream);

      expect(answer).toBe('from backup');
      expect(headers.get('x-airlock-model')).toBe('claude-sonnet-4-5-20250929');
      expect(headers.get('x-airlock-fallback-from')).toBeNull();
      expect(decodedRouteReason(headers)).toBe('cost-based: claude-pair#6 $6 per 1M tokens vs $18 per 1M tokens; fallback: claude-pair#6 answered HTTP 500');
      expect(attemptsOf(record)).toEqual([
        ['claude-pair#6', 500, 'upstream_server'],
        ['claude-pair#7', 200, null],
      ]);
    });
  }

  it('returns the last failure in Anthropic format when every candidate fails', async () => {
    flaky.enqueue({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' });
    backup.enqueue({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded again' });

    const error = (await client.messages.create({ ...params, model: 'claude-main' }).catch((caught: unknown) => caught)) as InstanceType<
      typeof Anthropic.APIError
    >;

    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(error.status).toBe(529);
    expect(error.type).toBe('overloaded_error');
    const record = await auditRecord(gw, error.headers?.get('x-airlock-request-id'));
    expect(attemptsOf(record)).toEqual([
      ['claude-main#0', 529, 'overloaded'],
      ['claude-backup#1', 529, 'overloaded'],
    ]);
  });
});

describe('failures after the first content byte', () => {
  async function streamUntilError(): Promise<{ text: string; error: InstanceType<typeof Anthropic.APIError>; record: AuditRecord }> {
    const stream = client.messages.stream({ ...params, model: 'claude-main' });
    let received = '';
    stream.on('text', (delta) => {
      received += delta;
    });
    const raised = await stream.finalMessage().then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(raised).toBeInstanceOf(Anthropic.APIError);
    const record = await auditRecord(gw, stream.response?.headers.get('x-airlock-request-id'));
    return { text: received, error: raised as InstanceType<typeof Anthropic.APIError>, record };
  }

  it('ends a stream cut after content with an error event', async () => {
    flaky.enqueue({ kind: 'stream', events: untilFirstDelta(), finish: 'destroy' });

    const { text: received, error, record } = await streamUntilError();

    expect(received).toBe('Hello');
    expect(error.type).toBe('api_error');
    expect(backup.requests).toHaveLength(0);
    expect(attemptsOf(record)).toEqual([['claude-main#0', 200, null]]);
    expect(record).toMatchObject({ httpStatus: 200, errorKind: 'upstream_error', fallbackFrom: null });
    expect(record.flags).toContain('stream_failed_after_commit');
  });

  it('ends a stream that outlives the total timeout with an error event', async () => {
    flaky.enqueue({ kind: 'stream', events: untilFirstDelta(), finish: 'hang' });

    const { text: received, error, record } = await streamUntilError();

    expect(received).toBe('Hello');
    expect(error.type).toBe('api_error');
    expect(error.message).toMatch(/did not finish within 1 s|did not respond within 1000 ms/);
    expect(backup.requests).toHaveLength(0);
    expect(flaky.requests[0]!.aborted).toBe(true);
    expect(record).toMatchObject({ httpStatus: 200, errorKind: 'upstream_timeout' });
  });

  it('passes an upstream error event after content through once', async () => {
    flaky.enqueue({ kind: 'stream', events: [...untilFirstDelta(), errorEvent('overloaded_error', 'Overloaded')] });

    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': gw.userKey, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ ...params, model: 'claude-main', stream: true }),
    });
    const raw = await res.text();

    expect(res.status).toBe(200);
    const names = [...raw.matchAll(/^event: (.+)$/gm)].map((match) => match[1]);
    expect(names[0]).toBe('message_start');
    expect(names.at(-1)).toBe('error');
    expect(names.filter((name) => name === 'error')).toHaveLength(1);
    expect(names).not.toContain('message_stop');
    const last = JSON.parse(raw.trim().split('\n').at(-1)!.slice('data: '.length)) as { type: string; error: { type: string } };
    expect(last).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    await pause(50);
    expect(backup.requests).toHaveLength(0);
  });
});
