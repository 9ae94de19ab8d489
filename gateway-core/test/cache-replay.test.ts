import Anthropic from '@anthropic-ai/sdk';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleStream } from '../src/cache/assemble';
import { replayAnthropicStream, replayOpenAIStream } from '../src/cache/replay';

/*
 * Replayed streams are parsed by the official SDKs, served from a loopback server, and must
 * assemble into the stored response.
 */

let server: Server;
let url: string;
let nextBody = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(nextBody);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const completion = {
  id: 'chatcmpl-cached1',
  object: 'chat.completion',
  created: 1_800_000_000,
  model: 'gpt-4o-2024-08-06',
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content: 'Call the tool with the file name.',
        refusal: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'read_file', arguments: '{"path":"src/login.ts"}' } }],
      },
      logprobs: null,
      finish_reason: 'tool_calls',
    },
  ],
  usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 },
  system_fingerprint: 'fp_cached',
};

describe('cache replay', () => {
  it('replays an OpenAI completion the SDK assembles', async () => {
    nextBody = replayOpenAIStream(completion, true);
    const client = new OpenAI({ baseURL: url, apiKey: 'unused', maxRetries: 0 });
    const stream = client.chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe('Call the tool with the file name.');
    expect(final.choices[0]!.message.tool_calls).toEqual([
      expect.objectContaining({ id: 'call_1', type: 'function', function: expect.objectContaining({ name: 'read_file', arguments: '{"path":"src/login.ts"}' }) }),
    ]);
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    expect(final.usage).toEqual(completion.usage);
    expect(nextBody.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('leaves out usage the client did not ask for', () => {
    const text = replayOpenAIStream(completion, false);
    expect(text).not.toContain('"usage"');
  });

  it('replays an Anthropic message the SDK assembles', async () => {
    const message = {
      id: 'msg_cached1',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [
        { type: 'thinking', thinking: 'The user wants the login file.', signature: 'c2ln' },
        { type: 'text', text: 'Reading it now.' },
        { type: 'tool_use', id: 'toolu_1', name: 'read_file', input: { path: 'src/login.ts', lines: [1, 40] } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 50, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 33 },
    };
    nextBody = replayAnthropicStream(message);
    const client = new Anthropic({ baseURL: url, apiKey: 'unused', maxRetries: 0 });
    const final = await client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'x' }] }).finalMessage();
    expect(final.content).toEqual([
      { type: 'thinking', thinking: 'The user wants the login file.', signature: 'c2ln' },
      expect.objectContaining({ type: 'text', text: 'Reading it now.' }),
      expect.objectContaining({ type: 'tool_use', id: 'toolu_1', name: 'read_file', input: { path: 'src/login.ts', lines: [1, 40] } }),
    ]);
    expect(final.stop_reason).toBe('tool_use');
    expect(final.usage.output_tokens).toBe(33);
    expect(final.usage.input_tokens).toBe(50);
  });

  it('assembles a replayed stream back into the response', () => {
    expect(assembleStream('openai-chat', replayOpenAIStream(completion, true))).toEqual(completion);
    const message = {
      id: 'msg_cached2',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [
        { type: 'text', text: 'Reading it now.' },
        { type: 'tool_use', id: 'toolu_2', name: 'read_file', input: { path: 'a.ts' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 5, output_tokens: 9 },
    };
    expect(assembleStream('anthropic-messages', replayAnthropicStream(message))).toEqual(message);
  });

  it('assembles nothing from an unfinished or failed stream', () => {
    const text = replayOpenAIStream(completion, false);
    expect(assembleStream('openai-chat', text.replace('data: [DONE]\n\n', ''))).toBeNull();
    expect(assembleStream('openai-chat', `${text.replace('data: [DONE]\n\n', '')}data: {"error":{"message":"cut"}}\n\n`)).toBeNull();
    expect(assembleStream('anthropic-messages', 'event: message_start\ndata: {"type":"message_start","message":{"id":"m"}}\n\n')).toBeNull();
  });
});
