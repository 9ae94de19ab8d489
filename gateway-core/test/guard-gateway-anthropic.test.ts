import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { messageBody, splitEvery, startAnthropicStub, streamEvents, type AnthropicStub } from './stubs/anthropic';
import { completion, OpenAIStub, sendJson, sendStream } from './stubs/openai';

/*
 * Guard redaction round trips on the Anthropic Messages surface: passthrough to an Anthropic
 * stub and translation to an OpenAI-format stub, streamed and not, with placeholders cut across
 * events and across the bytes of the stream.
 */

const EMAIL = 'thao.tran@acme-corp.net';
const CARD = '5425 2334 3010 9903';
const SECRET_KEY = 'sk-ant-api03-R2d9kLmQ4xTz7VbN1pWs8YcH3jFe6UoA5gKi0rDq-XyZ1aBcD2eFgH3iJkL4mNoP5qRsT6uVwX7yZ8aBcDeFgHi-AAAAAAAA';

let anthropic: AnthropicStub;
let openai: OpenAIStub;
let gw: TestGateway;
let client: Anthropic;

beforeAll(async () => {
  anthropic = await startAnthropicStub();
  openai = await new OpenAIStub().start();
  gw = await startTestGateway({
    model_list: [
      { model_name: 'claude-sonnet', litellm_params: { model: 'anthropic/claude-sonnet-4-5', api_key: 'sk-stub', api_base: anthropic.url } },
      { model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_key: 'sk-stub', api_base: openai.url } },
    ],
  });
  client = new Anthropic({ baseURL: gw.url, apiKey: gw.userKey, maxRetries: 0 });
});

afterAll(async () => {
  await gw.stop();
  await anthropic.close();
  await openai.stop();
});

function lastAnthropicBody(): string {
  return anthropic.requests[anthropic.requests.length - 1]!.rawBody;
}

describe('guard on the Anthropic surface, passthrough', () => {
  it('redacts the system prompt and restores text and tool input', async () => {
    anthropic.enqueue({
      kind: 'message',
      body: messageBody([
        { type: 'text', text: 'I will charge [PAYMENT_CARD_1] and mail [EMAIL_1].' },
        { type: 'tool_use', id: 'toolu_1', name: 'charge', input: { card: '[PAYMENT_CARD_1]', receipt_to: ['[EMAIL_1]'] } },
      ]),
    });
    const message = await client.messages.create({
      model: 'claude-sonnet',
      max_tokens: 200,
      system: `The customer is ${EMAIL}.`,
      metadata: { user_id: EMAIL },
      messages: [{ role: 'user', content: `Charge card ${CARD} for the order.` }],
    });

    const sent = lastAnthropicBody();
    expect(sent).not.toContain(EMAIL);
    expect(sent).not.toContain(CARD);
    expect(sent).toContain('"system":"The customer is [EMAIL_1]."');
    expect(sent).toContain('"metadata":{"user_id":"[EMAIL_1]"}');
    expect(sent).toContain('Charge card [PAYMENT_CARD_1] for the order.');
    expect(message.content[0]).toEqual({ type: 'text', text: `I will charge ${CARD} and mail ${EMAIL}.` });
    expect(message.content[1]).toMatchObject({ type: 'tool_use', input: { card: CARD, receipt_to: [EMAIL] } });
  });

  it('restores placeholders cut across stream events and bytes', async () => {
    anthropic.enqueue({
      kind: 'stream',
      events: streamEvents([
        { type: 'text', pieces: ['Sending to [EM', 'AIL', '_1] now, card [PAYMENT_', 'CARD_1]'] },
        { type: 'tool_use', id: 'toolu_2', name: 'mail', pieces: ['{"to": "[EMAIL', '_1]", "cc": "[EMAIL_1]"}'] },
      ]),
      split: splitEvery(7),
    });
    const stream = client.messages.stream({
      model: 'claude-sonnet',
      max_tokens: 200,
      messages: [{ role: 'user', content: `Mail ${EMAIL} the receipt for ${CARD}.` }],
    });
    let streamedText = '';
    stream.on('text', (text) => {
      streamedText += text;
    });
    const message = await stream.finalMessage();

    expect(streamedText).toBe(`Sending to ${EMAIL} now, card ${CARD}`);
    expect(message.content[0]).toEqual({ type: 'text', text: `Sending to ${EMAIL} now, card ${CARD}` });
    expect(message.content[1]).toMatchObject({ type: 'tool_use', input: { to: EMAIL, cc: EMAIL } });
    expect(lastAnthropicBody()).toContain('Mail [EMAIL_1] the receipt for [PAYMENT_CARD_1].');
  });

  it('flushes a held placeholder start before the block stops', async () => {
    anthropic.enqueue({ kind: 'stream', events: streamEvents([{ type: 'text', pieces: ['Totals in [EMAIL'] }]) });
    const message = await client.messages
      .stream({ model: 'claude-sonnet', max_tokens: 50, messages: [{ role: 'user', content: `For ${EMAIL}` }] })
      .finalMessage();
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Totals in [EMAIL' });
  });

  it('blocks a secret in a tool result', async () => {
    const before = anthropic.requests.length;
    const error = await client.messages
      .create({
        model: 'claude-sonnet',
        max_tokens: 50,
        messages: [
          { role: 'user', content: 'What is in the env file?' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_9', name: 'read', input: { path: '.env' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_9', content: [{ type: 'text', text: `ANTHROPIC_API_KEY=${SECRET_KEY}` }] }] },
        ],
      })
      .then(
        () => {
          throw new Error('expected the request to fail');
        },
        (caught: unknown) => caught as InstanceType<typeof Anthropic.APIError>,
      );
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(error.status).toBe(403);
    expect((error.error as { error: { type: string } }).error.type).toBe('permission_error');
    expect(error.message).toContain('anthropic_api_key at messages[2].content[0].content[0].text');
    expect(error.message).not.toContain(SECRET_KEY.slice(20));
    expect(anthropic.requests.length).toBe(before);
  });

  it('blocks rather than redacts a thinking block', async () => {
    const before = anthropic.requests.length;
    const response = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': gw.userKey, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-sonnet',
        max_tokens: 50,
        messages: [
          { role: 'user', content: 'Who should get the report?' },
          { role: 'assistant', content: [{ type: 'thinking', thinking: `The owner is ${EMAIL}.`, signature: 'c2lnbmF0dXJl' }, { type: 'text', text: 'The owner.' }] },
          { role: 'user', content: 'Send it.' },
        ],
      }),
    });
    expect(response.status).toBe(403);
    const body = (await response.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('permission_error');
    expect(body.error.message).toContain('email at messages[1].content[0].thinking');
    expect(anthropic.requests.length).toBe(before);
  });

  it('counts tokens locally when the guard would act', async () => {
    const before = anthropic.requests.length;
    const counted = await client.messages.countTokens({ model: 'claude-sonnet', messages: [{ role: 'user', content: `Hello ${EMAIL}` }] });
    expect(counted.input_tokens).toBeGreaterThan(0);
    expect(anthropic.requests.length).toBe(before);
  });
});

describe('guard on the Anthropic surface, translated', () => {
  it('restores a non-streaming answer from an OpenAI model', async () => {
    openai.next((request, res) => {
      const messages = request.body.messages as Array<{ content: string }>;
      sendJson(res, 200, completion('gpt-4o', `Echo: ${messages[messages.length - 1]!.content}`));
    });
    const message = await client.messages.create({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: `Mail ${EMAIL}` }] });
    expect(openai.last.rawBody).toContain('Mail [EMAIL_1]');
    expect(message.content[0]).toMatchObject({ type: 'text', text: `Echo: Mail ${EMAIL}` });
  });

  it('restores a translated stream with split placeholders', async () => {
    openai.next((request, res) => {
      const base = { id: 'chatcmpl-g', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o' };
      const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] });
      const include = (request.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      return sendStream(res, [
        chunk({ role: 'assistant', content: '' }),
        chunk({ content: 'Card [PAYM' }),
        chunk({ content: 'ENT_CARD_1] belongs to [' }),
        chunk({ content: 'EMAIL_1]' }),
        chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'notify', arguments: '{"to":"[EMA' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: 'IL_1]"}' } }] }),
        chunk({}, 'tool_calls'),
        ...(include ? [{ ...base, choices: [], usage: { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 } }] : []),
      ]);
    });
    const message = await client.messages
      .stream({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: `Whose is ${CARD}? Ask ${EMAIL}.` }] })
      .finalMessage();
    expect(openai.last.rawBody).not.toContain(EMAIL);
    expect(message.content[0]).toMatchObject({ type: 'text', text: `Card ${CARD} belongs to ${EMAIL}` });
    expect(message.content[1]).toMatchObject({ type: 'tool_use', name: 'notify', input: { to: EMAIL } });
  });
});
