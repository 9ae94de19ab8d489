import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/storage/audit';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import {
  anthropicReply,
  auditRecord,
  decodedRouteReason,
  fail,
  hang,
  reply,
  startOpenAIUpstream,
  type OpenAIUpstream,
  type UpstreamHandler,
} from './helpers/routing';
import { startAnthropicStub, streamEvents, type AnthropicStub } from './stubs/anthropic';
import { pause } from './stubs/openai';

/*
 * Retries through a real gateway with num_retries 2. "solo" and "solo-claude" have one deployment
 * each and fall back to "spare". The SDK clients run with maxRetries 0, so every repeated
 * upstream request comes from the gateway.
 */

let solo: OpenAIUpstream;
let spare: OpenAIUpstream;
let claude: AnthropicStub;
let gw: TestGateway;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  solo = await startOpenAIUpstream('solo');
  spare = await startOpenAIUpstream('spare');
  claude = await startAnthropicStub();
  const openaiKey = 'os.environ/STUB_OPENAI_KEY';
  gw = await startTestGateway(
    {
      model_list: [
        { model_name: 'solo', litellm_params: { model: 'openai/gpt-4o', api_key: openaiKey, api_base: solo.url } },
        { model_name: 'spare', litellm_params: { model: 'openai/gpt-4o-mini', api_key: openaiKey, api_base: spare.url } },
        {
          model_name: 'solo-claude',
          litellm_params: { model: 'anthropic/claude-sonnet-4-5-20250929', api_key: 'os.environ/STUB_ANTHROPIC_KEY', api_base: claude.url },
        },
      ],
      router_settings: {
        num_retries: 2,
        allowed_fails: 1000,
        fallbacks: [{ solo: ['spare'] }, { 'solo-claude': ['spare'] }],
      },
    },
    { STUB_OPENAI_KEY: 'sk-stub-openai-key', STUB_ANTHROPIC_KEY: 'sk-ant-stub-key' },
  );
  openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: gw.url, apiKey: gw.userKey, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop();
  await Promise.all([solo.close(), spare.close(), claude.close()]);
});

beforeEach(() => {
  solo.reset();
  spare.reset();
  claude.requests.length = 0;
  claude.setHandler(null);
});

const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Hi' }];

/** Wrap a handler so that it logs "<upstream> request <n>" to `events` when a request arrives. */
function logged(events: string[], upstream: OpenAIUpstream, handler: UpstreamHandler): UpstreamHandler {
  return (request, res) => {
    events.push(`${upstream.name} request ${request.number}`);
    return handler(request, res);
  };
}

/** Resolve once `count()` reaches `expected`, polling every 5 ms for up to two seconds. */
async function waitFor(count: () => number, expected: number): Promise<void> {
  for (let waited = 0; waited < 2000 && count() < expected; waited += 5) await pause(5);
  expect(count()).toBe(expected);
}

const rateLimited = (retryAfter: string): UpstreamHandler =>
  fail(429, 'Rate limit reached for gpt-4o in organization org-stub on requests per min (RPM): Limit 3, Used 3.', 'requests', 'rate_limit_exceeded', {
    'retry-after': retryAfter,
  });

describe('retries', () => {
  it('retries a 429 after its Retry-After on the same deployment', async () => {
    const events: string[] = [];
    solo.next(logged(events, solo, rateLimited('1')), logged(events, solo, reply('second try')));

    const { data, response } = await openai.chat.completions.create({ model: 'solo', messages }).withResponse();
    events.push('client response');

    expect(data.choices[0]!.message.content).toBe('second try');
    expect(events).toEqual(['solo request 1', 'solo request 2', 'client response']);
    expect(spare.requests).toHaveLength(0);
    expect(response.headers.get('x-airlock-model')).toBe('gpt-4o');
    expect(response.headers.get('x-airlock-fallback-from')).toBeNull();
    const reason = 'retry round 1 after 1000 ms: solo#0 answered HTTP 429';
    expect(decodedRouteReason(response.headers)).toBe(reason);
    const record = await auditRecord(gw, response.headers.get('x-airlock-request-id'));
    expect(record.routeReason).toBe(reason);
    expect(record.attempts.map((attempt) => [attempt.deploymentId, attempt.status, attempt.errorKind])).toEqual([
      ['solo#0', 429, 'upstream_rate_limited'],
      ['solo#0', 200, null],
    ]);
  });

  it('retries an Anthropic 429 after its retry-after', async () => {
    claude.enqueue({ kind: 'error', status: 429, type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit', headers: { 'retry-after': '1' } });
    claude.setHandler((request) => anthropicReply(request.body, 'second try'));

    const { data, response } = await anthropic.messages
      .create({ model: 'solo-claude', max_tokens: 32, messages: [{ role: 'user', content: 'Hi' }] })
      .withResponse();

    expect(data.content).toEqual([{ type: 'text', text: 'second try' }]);
    expect(claude.requests).toHaveLength(2);
    expect(spare.requests).toHaveLength(0);
    expect(decodedRouteReason(response.headers)).toBe('retry round 1 after 1000 ms: solo-claude#2 answered HTTP 429');
  });

  it('retries a 500 with backoff', async () => {
    const events: string[] = [];
    const serverError = fail(500, 'The server had an error while processing your request.', 'server_error');
    solo.next(logged(events, solo, serverError), logged(events, solo, serverError), logged(events, solo, reply('third try')));

    const { data, response } = await openai.chat.completions.create({ model: 'solo', messages }).withResponse();
    events.push('client response');

    expect(data.choices[0]!.message.content).toBe('third try');
    expect(events).toEqual(['solo request 1', 'solo request 2', 'solo request 3', 'client response']);
    // Equal-jitter backoff with a 500 ms base: round 1 waits 250-500 ms, round 2 waits 500-1000 ms.
    const reason = decodedRouteReason(response.headers)!;
    const rounds = [...reason.matchAll(/retry round (\d) after (\d+) ms: solo#0 answered HTTP 500/g)];
    expect(rounds.map((round) => round[1])).toEqual(['1', '2']);
    expect(Number(rounds[0]![2])).toBeGreaterThanOrEqual(250);
    expect(Number(rounds[0]![2])).toBeLessThanOrEqual(500);
    expect(Number(rounds[1]![2])).toBeGreaterThanOrEqual(500);
    expect(Number(rounds[1]![2])).toBeLessThanOrEqual(1000);
  });

  it('retries a 409', async () => {
    solo.next(fail(409, 'The request conflicts with another request in progress.', 'invalid_request_error'), reply('after conflict'));

    const data = await openai.chat.completions.create({ model: 'solo', messages });

    expect(data.choices[0]!.message.content).toBe('after conflict');
    expect(solo.requests).toHaveLength(2);
  });

  it('neither retries nor falls back after a 400', async () => {
    solo.next(fail(400, "Invalid value for 'temperature': must be at most 2.", 'invalid_request_error', 'invalid_value'));

    const error = (await openai.chat.completions.create({ model: 'solo', messages }).catch((caught: unknown) => caught)) as InstanceType<
      typeof OpenAI.APIError
    >;

    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(400);
    expect(error.message).toContain("Invalid value for 'temperature'");
    expect(solo.requests).toHaveLength(1);
    expect(spare.requests).toHaveLength(0);
    const record = await auditRecord(gw, error.headers?.get('x-airlock-request-id'));
    expect(record.attempts).toHaveLength(1);
    expect(record).toMatchObject({ httpStatus: 400, errorKind: 'upstream_bad_request' });
  });

  it('falls back instead of waiting for a Retry-After over 60 s', async () => {
    solo.next(rateLimited('120'));

    const { data, response } = await openai.chat.completions.create({ model: 'solo', messages }).withResponse();

    expect(data.choices[0]!.message.content).toBe('from spare');
    expect(solo.requests).toHaveLength(1);
    expect(decodedRouteReason(response.headers)).toBe('fallback: solo#0 answered HTTP 429');
  });
});

describe('client aborts', () => {
  it('does not retry a request the client aborted', async () => {
    solo.next(hang);
    const previous = await newestRecord();
    const controller = new AbortController();

    const call = openai.chat.completions.create({ model: 'solo', messages }, { signal: controller.signal }).catch((caught: unknown) => caught);
    await waitFor(() => solo.requests.length, 1);
    controller.abort();

    expect(await call).toBeInstanceOf(OpenAI.APIUserAbortError);
    const record = await recordAfter(previous);
    expect(record).toMatchObject({ alias: 'solo', httpStatus: 499, errorKind: 'client_disconnected' });
    expect(record.attempts.map((attempt) => attempt.errorKind)).toEqual(['client_disconnected']);
    await waitFor(() => Number(solo.requests[0]!.aborted), 1);
    expect(solo.requests).toHaveLength(1);
    expect(spare.requests).toHaveLength(0);
  });

  it('stops waiting for Retry-After when the client aborts', async () => {
    solo.next(rateLimited('1'));
    const previous = await newestRecord();
    const controller = new AbortController();

    const call = openai.chat.completions.create({ model: 'solo', messages }, { signal: controller.signal }).catch((caught: unknown) => caught);
    await waitFor(() => solo.requests.length, 1);
    await pause(100);
    controller.abort();

    expect(await call).toBeInstanceOf(OpenAI.APIUserAbortError);
    const record = await recordAfter(previous);
    expect(record).toMatchObject({ alias: 'solo', httpStatus: 499, errorKind: 'client_disconnected' });
    expect(record.attempts.map((attempt) => attempt.errorKind)).toEqual(['upstream_rate_limited']);
    expect(solo.requests).toHaveLength(1);
    expect(spare.requests).toHaveLength(0);
  });

  it('does not retry a stream the client aborted after content', async () => {
    const events = streamEvents([{ type: 'text', pieces: ['Hello', ' there'] }]);
    const firstDelta = events.findIndex((event) => 'event' in event && event.event === 'content_block_delta') + 1;
    claude.enqueue({ kind: 'stream', events: events.slice(0, firstDelta), finish: 'hang' });
    const previous = await newestRecord();

    const stream = anthropic.messages.stream({ model: 'solo-claude', max_tokens: 32, messages: [{ role: 'user', content: 'Hi' }] });
    const firstText = new Promise<string>((resolve) => stream.once('text', resolve));
    expect(await firstText).toBe('Hello');
    stream.abort();
    await stream.done().catch(() => undefined);

    const record = await recordAfter(previous);
    expect(record).toMatchObject({ alias: 'solo-claude', httpStatus: 200, errorKind: 'client_disconnected' });
    expect(record.flags).toContain('client_disconnected');
    await waitFor(() => Number(claude.requests[0]!.aborted), 1);
    expect(claude.requests).toHaveLength(1);
    expect(spare.requests).toHaveLength(0);
  });
});

/** Read the newest audit record, or null when there is none. */
async function newestRecord(): Promise<AuditRecord | null> {
  const res = await fetch(`${gw.url}/airlock/api/requests?limit=1`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
  const { data } = (await res.json()) as { data: AuditRecord[] };
  return data[0] ?? null;
}

/**
 * Wait for the audit record of a request sent after `previous` was the newest. An aborted call
 * leaves the client without the x-airlock-request-id header, so the record is found by order.
 */
async function recordAfter(previous: AuditRecord | null): Promise<AuditRecord> {
  for (let waited = 0; waited <= 2000; waited += 20) {
    const newest = await newestRecord();
    if (newest !== null && newest.id !== previous?.id) return newest;
    await pause(20);
  }
  throw new Error('no audit record of the aborted request after 2 s');
}
