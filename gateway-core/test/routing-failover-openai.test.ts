import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/storage/audit';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import {
  auditRecord,
  cutStream,
  decodedRouteReason,
  fail,
  hang,
  refusedUrl,
  reply,
  resetConnection,
  stallStream,
  startOpenAIUpstream,
  type OpenAIUpstream,
  type UpstreamHandler,
} from './helpers/routing';
import { errorBody, pause, sseText, textChunks } from './stubs/openai';

/*
 * Failover on the OpenAI Chat Completions surface, through a real gateway to OpenAI-format
 * upstreams. Until the first content event the client has received nothing, so a failing
 * deployment is replaced by the next one (or by a fallback alias) without the client noticing.
 * After it, the client gets an in-band error chunk and no other provider is called.
 *
 * gpt-main (upstream "flaky", timeout 1 s, stream_timeout 0.3 s) falls back to gpt-backup, to
 * gpt-wide on a context-window error and to gpt-safe on a content-policy refusal. gpt-pair has
 * a cheap deployment on "flaky" and a dearer one on "backup"; cost-based routing tries the
 * cheap one first. Cooldowns are kept out of the way with a high allowed_fails.
 */

let flaky: OpenAIUpstream;
let backup: OpenAIUpstream;
let wide: OpenAIUpstream;
let safe: OpenAIUpstream;
let gw: TestGateway;
let client: OpenAI;

const key = 'os.environ/STUB_OPENAI_KEY';

beforeAll(async () => {
  flaky = await startOpenAIUpstream('flaky');
  backup = await startOpenAIUpstream('backup');
  wide = await startOpenAIUpstream('wide');
  safe = await startOpenAIUpstream('safe');
  gw = await startTestGateway(
    {
      model_list: [
        { model_name: 'gpt-main', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: flaky.url, timeout: 1, stream_timeout: 0.3 } },
        { model_name: 'gpt-backup', litellm_params: { model: 'openai/gpt-4o-mini', api_key: key, api_base: backup.url } },
        { model_name: 'gpt-wide', litellm_params: { model: 'openai/gpt-4.1', api_key: key, api_base: wide.url } },
        { model_name: 'gpt-safe', litellm_params: { model: 'openai/gpt-4o-mini', api_key: key, api_base: safe.url } },
        { model_name: 'gpt-refused', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: await refusedUrl('/v1') } },
        { model_name: 'gpt-pair', litellm_params: { model: 'openai/gpt-4o-mini', api_key: key, api_base: flaky.url } },
        { model_name: 'gpt-pair', litellm_params: { model: 'openai/gpt-4o', api_key: key, api_base: backup.url } },
      ],
      router_settings: {
        routing_strategy: 'cost-based',
        allowed_fails: 1000,
        fallbacks: [{ 'gpt-main': ['gpt-backup'] }, { 'gpt-refused': ['gpt-backup'] }],
        context_window_fallbacks: [{ 'gpt-main': ['gpt-wide'] }],
        content_policy_fallbacks: [{ 'gpt-main': ['gpt-safe'] }],
      },
    },
    { STUB_OPENAI_KEY: 'sk-stub-openai-key' },
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.userKey, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop();
  await Promise.all([flaky.close(), backup.close(), wide.close(), safe.close()]);
});

beforeEach(() => {
  for (const upstream of [flaky, backup, wide, safe]) upstream.reset();
});

const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Hi' }];

interface Served {
  text: string;
  headers: Headers;
  record: AuditRecord;
}

/** Send a chat request, streamed or not, and return the response text, the headers and the audit record. */
async function ask(model: string, stream: boolean): Promise<Served> {
  if (!stream) {
    const { data, response } = await client.chat.completions.create({ model, messages }).withResponse();
    const record = await auditRecord(gw, response.headers.get('x-airlock-request-id'));
    return { text: data.choices[0]!.message.content ?? '', headers: response.headers, record };
  }
  const { data, response } = await client.chat.completions.create({ model, messages, stream: true }).withResponse();
  let text = '';
  for await (const chunk of data) text += chunk.choices[0]?.delta?.content ?? '';
  const record = await auditRecord(gw, response.headers.get('x-airlock-request-id'));
  return { text, headers: response.headers, record };
}

/** Lists the deployment id, status and error kind of each attempt, in order. */
function attemptsOf(record: AuditRecord): Array<[string, number | null, string | null]> {
  return record.attempts.map((attempt) => [attempt.deploymentId, attempt.status, attempt.errorKind]);
}

/** Respond 200, then send an OpenAI error chunk before any content, as some compatible servers do. */
const errorChunkFirst: UpstreamHandler = (_request, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end(`data: ${JSON.stringify(errorBody('The server is overloaded', 'server_error'))}\n\n`);
};

/** Respond 200 with the role chunk and the first content chunk, then go silent. */
const stallAfterContent: UpstreamHandler = (request, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(sseText(textChunks(request.model, ['Hello', ' there'], request.body.stream_options).slice(0, 2), false));
};

interface FallbackCase {
  name: string;
  stream: boolean;
  handler: UpstreamHandler;
  /** What the failed attempt records: the provider's status (null when none) and the error kind. */
  status: number | null;
  errorKind: string;
  /** The failure as the route reason words it. */
  reason: string;
}

const fallbackCases: FallbackCase[] = [
  { name: 'a 500', stream: false, handler: fail(500, 'The server had an error', 'server_error'), status: 500, errorKind: 'upstream_server', reason: 'answered HTTP 500' },
  {
    name: 'a 429 with Retry-After',
    stream: false,
    handler: fail(429, 'Rate limit reached for requests', 'requests', 'rate_limit_exceeded', { 'retry-after': '1' }),
    status: 429,
    errorKind: 'upstream_rate_limited',
    reason: 'answered HTTP 429',
  },
  { name: 'a 529', stream: false, handler: fail(529, 'Overloaded', 'overloaded_error'), status: 529, errorKind: 'overloaded', reason: 'answered HTTP 529' },
  { name: 'a 408', stream: false, handler: fail(408, 'Request timed out.', 'timeout'), status: 408, errorKind: 'upstream_timeout', reason: 'answered HTTP 408' },
  { name: 'a reset connection', stream: false, handler: resetConnection, status: null, errorKind: 'upstream_error', reason: 'was unreachable or sent an invalid response' },
  { name: 'a hang past the total timeout', stream: false, handler: hang, status: null, errorKind: 'upstream_timeout', reason: 'timed out after 1 s' },
  { name: 'a 500', stream: true, handler: fail(500, 'The server had an error', 'server_error'), status: 500, errorKind: 'upstream_server', reason: 'answered HTTP 500' },
  { name: 'a 529', stream: true, handler: fail(529, 'Overloaded', 'overloaded_error'), status: 529, errorKind: 'overloaded', reason: 'answered HTTP 529' },
  {
    name: 'a stream cut after zero bytes',
    stream: true,
    handler: cutStream(0),
    status: null,
    errorKind: 'upstream_error',
    reason: 'was unreachable or sent an invalid response',
  },
  {
    name: 'a stream cut after the role chunk',
    stream: true,
    handler: cutStream(1),
    status: null,
    errorKind: 'upstream_error',
    reason: 'was unreachable or sent an invalid response',
  },
  { name: 'an error chunk before content', stream: true, handler: errorChunkFirst, status: 500, errorKind: 'upstream_server', reason: 'answered HTTP 500' },
  {
    name: 'no first event within stream_timeout',
    stream: true,
    handler: stallStream(': keep-alive\n\n'),
    status: null,
    errorKind: 'upstream_timeout',
    reason: 'sent no first event within 0.3 s',
  },
];

describe('failover before the first content byte', () => {
  for (const { name, stream, handler, status, errorKind, reason } of fallbackCases) {
    it(`falls back to gpt-backup after ${name}${stream ? ' (stream)' : ''}`, async () => {
      flaky.next(handler);

      const { text, headers, record } = await ask('gpt-main', stream);

      expect(text).toBe('from backup');
      expect(headers.get('x-airlock-model')).toBe('gpt-4o-mini');
      expect(headers.get('x-airlock-fallback-from')).toBe('gpt-main');
      expect(decodedRouteReason(headers)).toBe(`fallback: gpt-main#0 ${reason}`);
      expect(flaky.requests).toHaveLength(1);
      expect(backup.requests).toHaveLength(1);
      expect(attemptsOf(record)).toEqual([
        ['gpt-main#0', status, errorKind],
        ['gpt-backup#1', 200, null],
      ]);
      expect(record).toMatchObject({ httpStatus: 200, alias: 'gpt-main', deploymentId: 'gpt-backup#1', fallbackFrom: 'gpt-main', errorKind: null });
      expect(record.routeReason).toBe(`fallback: gpt-main#0 ${reason}`);
      // A server that accepted the connection and then cut it did not refuse it.
      if (handler === resetConnection) expect(record.attempts[0]!.errorMessage).toMatch(/closed the connection before the response was complete/);
    });
  }

  for (const stream of [false, true]) {
    it(`falls back from a refused connection${stream ? ' (stream)' : ''}`, async () => {
      const { text, headers, record } = await ask('gpt-refused', stream);

      expect(text).toBe('from backup');
      expect(headers.get('x-airlock-fallback-from')).toBe('gpt-refused');
      expect(decodedRouteReason(headers)).toBe('fallback: gpt-refused#4 was unreachable or sent an invalid response');
      expect(attemptsOf(record)).toEqual([
        ['gpt-refused#4', null, 'upstream_error'],
        ['gpt-backup#1', 200, null],
      ]);
      expect(record.attempts[0]!.errorMessage).toMatch(/could not connect to deployment 'gpt-refused#4'.*ECONNREFUSED/);
    });
  }

  for (const stream of [false, true]) {
    it(`sends a context-length error to context_window_fallbacks${stream ? ' (stream)' : ''}`, async () => {
      flaky.next(
        fail(
          400,
          "This model's maximum context length is 128000 tokens. However, your messages resulted in 130412 tokens. Please reduce the length of the messages.",
          'invalid_request_error',
          'context_length_exceeded',
        ),
      );

      const { text, headers, record } = await ask('gpt-main', stream);

      expect(text).toBe('from wide');
      expect(headers.get('x-airlock-model')).toBe('gpt-4.1');
      expect(headers.get('x-airlock-fallback-from')).toBe('gpt-main');
      expect(decodedRouteReason(headers)).toBe('fallback: gpt-main#0 exceeded its context window');
      expect(backup.requests).toHaveLength(0);
      expect(attemptsOf(record)).toEqual([
        ['gpt-main#0', 400, 'upstream_bad_request'],
        ['gpt-wide#2', 200, null],
      ]);
    });
  }

  it('sends a content-policy refusal to content_policy_fallbacks', async () => {
    flaky.next(fail(400, 'Your request was rejected as a result of our safety system.', 'invalid_request_error', 'content_policy_violation'));

    const { text, headers, record } = await ask('gpt-main', false);

    expect(text).toBe('from safe');
    expect(decodedRouteReason(headers)).toBe('fallback: gpt-main#0 refused the request under its content policy');
    expect(backup.requests).toHaveLength(0);
    expect(wide.requests).toHaveLength(0);
    expect(attemptsOf(record)).toEqual([
      ['gpt-main#0', 400, 'upstream_bad_request'],
      ['gpt-safe#3', 200, null],
    ]);
  });

  for (const stream of [false, true]) {
    it(`moves to the next deployment of the same alias${stream ? ' (stream)' : ''}`, async () => {
      flaky.next(fail(500, 'The server had an error', 'server_error'));

      const { text, headers, record } = await ask('gpt-pair', stream);

      expect(text).toBe('from backup');
      expect(headers.get('x-airlock-model')).toBe('gpt-4o');
      expect(headers.get('x-airlock-fallback-from')).toBeNull();
      expect(decodedRouteReason(headers)).toBe('cost-based: gpt-pair#5 $0.75 per 1M tokens vs $12.5 per 1M tokens; fallback: gpt-pair#5 answered HTTP 500');
      expect(attemptsOf(record)).toEqual([
        ['gpt-pair#5', 500, 'upstream_server'],
        ['gpt-pair#6', 200, null],
      ]);
      expect(record.fallbackFrom).toBeNull();
    });
  }

  it('applies stream_timeout only to streams', async () => {
    flaky.next(reply('slow but in time', { delayMs: 500 }));

    const { text, headers, record } = await ask('gpt-main', false);

    expect(text).toBe('slow but in time');
    expect(headers.get('x-airlock-fallback-from')).toBeNull();
    expect(attemptsOf(record)).toEqual([['gpt-main#0', 200, null]]);
  });

  it('returns the last failure when every candidate fails', async () => {
    flaky.next(fail(500, 'The server had an error', 'server_error'));
    backup.next(fail(503, 'Service temporarily unavailable', 'server_error'));

    const error = (await client.chat.completions.create({ model: 'gpt-main', messages }).catch((caught: unknown) => caught)) as InstanceType<
      typeof OpenAI.APIError
    >;

    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(503);
    expect(error.code).toBe('upstream_error');
    expect(error.message).toContain('Service temporarily unavailable');
    const record = await auditRecord(gw, error.headers?.get('x-airlock-request-id'));
    expect(attemptsOf(record)).toEqual([
      ['gpt-main#0', 500, 'upstream_server'],
      ['gpt-backup#1', 503, 'upstream_server'],
    ]);
    expect(record).toMatchObject({ httpStatus: 503, errorKind: 'upstream_server' });
    // The error response still says what the router tried.
    expect(decodedRouteReason(error.headers!)).toBe(record.routeReason);
    expect(record.routeReason).toContain('gpt-main#0 answered HTTP 500');
    expect(error.headers?.get('x-airlock-fallback-from')).toBe('gpt-main');
  });
});

describe('failures after the first content byte', () => {
  /** Stream gpt-main and return the text received before the SDK raised, and what it raised. */
  async function streamUntilError(): Promise<{ text: string; error: InstanceType<typeof OpenAI.APIError>; record: AuditRecord }> {
    const { data, response } = await client.chat.completions.create({ model: 'gpt-main', messages, stream: true }).withResponse();
    let text = '';
    let raised: unknown = null;
    try {
      for await (const chunk of data) text += chunk.choices[0]?.delta?.content ?? '';
    } catch (caught) {
      raised = caught;
    }
    expect(raised).toBeInstanceOf(OpenAI.APIError);
    const record = await auditRecord(gw, response.headers.get('x-airlock-request-id'));
    return { text, error: raised as InstanceType<typeof OpenAI.APIError>, record };
  }

  it('ends a stream cut after content with an error chunk', async () => {
    flaky.next(cutStream(2));

    const { text, error, record } = await streamUntilError();

    expect(text).toBe('Hello');
    expect(error.type).toBe('api_error');
    expect(error.code).toBe('upstream_error');
    expect(backup.requests).toHaveLength(0);
    expect(attemptsOf(record)).toEqual([['gpt-main#0', 200, null]]);
    expect(record).toMatchObject({ httpStatus: 200, errorKind: 'upstream_error', fallbackFrom: null });
    expect(record.flags).toContain('stream_failed_after_commit');
  });

  it('ends a stream that outlives the total timeout with an error chunk', async () => {
    flaky.next(stallAfterContent);

    const { text, error, record } = await streamUntilError();

    expect(text).toBe('Hello');
    expect(error.code).toBe('upstream_timeout');
    expect(backup.requests).toHaveLength(0);
    expect(flaky.requests[0]!.aborted).toBe(true);
    expect(record).toMatchObject({ httpStatus: 200, errorKind: 'upstream_timeout' });
  });

  it('writes one error chunk and no [DONE] after content', async () => {
    flaky.next(cutStream(2));

    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.userKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-main', messages, stream: true }),
    });
    const raw = await res.text();

    expect(res.status).toBe(200);
    expect(res.headers.get('x-airlock-model')).toBe('gpt-4o');
    const frames = raw.split('\n\n').filter((frame) => frame !== '');
    expect(frames.every((frame) => frame.startsWith('data: '))).toBe(true);
    const last = JSON.parse(frames.at(-1)!.slice('data: '.length)) as { error: { type: string; code: string; message: string } };
    expect(last.error).toMatchObject({ type: 'api_error', code: 'upstream_error' });
    expect(frames.filter((frame) => frame.includes('"error"'))).toHaveLength(1);
    expect(raw).not.toContain('[DONE]');
    expect(backup.requests).toHaveLength(0);
    // The socket reset reached the stub; give the gateway a moment in case it wrongly calls another deployment.
    await pause(50);
    expect(backup.requests).toHaveLength(0);
  });
});
