import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../src/config/load';
import { createEnvSecretStore } from '../src/config/secrets';
import { startGateway, type Gateway } from '../src/gateway';
import { createLogger } from '../src/logger';
import { completion, OpenAIStub, sendJson } from './stubs/openai';

/*
 * The semantic cache's start-up log line after a restart on the same data folder. Under the
 * default content_words check the tier builds no index in memory, but stored entries still
 * serve hits, so the line must report both counts.
 */

interface Started {
  gateway: Gateway;
  logs: Array<Record<string, unknown>>;
}

let cloud: OpenAIStub;
let dataDir: string;
let running: Gateway | null = null;
let answers = 0;

async function start(lexicalCheck: 'content_words' | 'signature'): Promise<Started> {
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const config = buildConfig(
    {
      model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: cloud.url, api_key: 'sk-stub' } }],
      airlock: { port: 0, cache: { enabled: true, namespace: 'org', semantic: { lexical_check: lexicalCheck } } },
    },
    createEnvSecretStore({}),
    { dataDir },
  );
  const gateway = await startGateway({ config, logger: createLogger({ level: 'debug', destination }), drainTimeoutMs: 2000 });
  running = gateway;
  return { gateway, logs };
}

async function stop(): Promise<void> {
  await running?.close();
  running = null;
}

async function ask(gateway: Gateway, content: string): Promise<string | null> {
  cloud.next((request, res) => sendJson(res, 200, completion(String(request.body.model), `Answer ${++answers}`)));
  const key = gateway.keys.create('asker', 'user').key;
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0 });
  const { response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] }).withResponse();
  return response.headers.get('x-airlock-cache');
}

function readyLine(logs: Array<Record<string, unknown>>): Record<string, unknown> | undefined {
  return logs.find((line) => line.msg === 'semantic cache ready');
}

beforeAll(async () => {
  cloud = await new OpenAIStub().start();
});

afterEach(async () => {
  await stop();
  rmSync(dataDir, { recursive: true, force: true });
});

afterAll(async () => {
  await cloud.stop();
});

describe('semantic cache start-up log', () => {
  it('counts stored entries under content_words', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'airlock-startup-log-'));
    const first = await start('content_words');
    expect(readyLine(first.logs)).toMatchObject({ storedEntries: 0, indexedEntries: 0, lexicalCheck: 'content_words', embedder: 'builtin' });
    expect(await ask(first.gateway, 'How do I undo the last commit in git?')).toBe('miss');
    expect(await ask(first.gateway, 'How do I rename a branch in git?')).toBe('miss');
    await stop();

    const second = await start('content_words');
    expect(readyLine(second.logs)).toMatchObject({ storedEntries: 2, indexedEntries: 0, lexicalCheck: 'content_words' });
    expect(second.logs.some((line) => line.msg === 'semantic cache index built')).toBe(false);
    // The line is true: a stored entry still serves a paraphrase after the restart.
    expect(await ask(second.gateway, 'undo the last commit in git')).toBe('hit-semantic');
  });

  it('counts indexed entries under signature', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'airlock-startup-log-'));
    const first = await start('signature');
    expect(await ask(first.gateway, 'How do I undo the last commit in git?')).toBe('miss');
    await stop();

    const second = await start('signature');
    expect(readyLine(second.logs)).toMatchObject({ storedEntries: 1, indexedEntries: 1, lexicalCheck: 'signature' });
  });
});
