import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway';
import { OpenAIStub } from './stubs/openai';

let stub: OpenAIStub;
let gw: TestGateway;

beforeAll(async () => {
  stub = await new OpenAIStub().start();
  gw = await startTestGateway({
    model_list: [{ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_key: 'sk-literal', api_base: stub.url } }],
    airlock: { max_body_bytes: 2048, allowed_origins: ['http://localhost:5173'], allowed_hosts: ['devbox.internal'] },
  });
});

afterAll(async () => {
  await gw.stop();
  await stub.stop();
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** A raw HTTP request, so that tests control Host, Origin and the exact body bytes. */
function send(path: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
  const url = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path, method: options.method ?? 'POST', headers: options.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Not JSON: keep the text.
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

function chat(body: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return send('/v1/chat/completions', {
    headers: { authorization: `Bearer ${gw.userKey}`, 'content-type': 'application/json', ...headers },
    body,
  });
}

describe('bad input', () => {
  it('rejects malformed JSON with param null', async () => {
    const reply = await chat('{"model": "gpt-4o", ');
    expect(reply.status).toBe(400);
    expect(reply.body.error).toMatchObject({ type: 'invalid_request_error', param: null, code: null });
    expect(reply.body.error.message).toMatch(/JSON/);
  });

  it('rejects invalid UTF-8', async () => {
    const reply = await chat(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
    expect(reply.status).toBe(400);
    expect(reply.body.error.message).toMatch(/UTF-8/);
  });

  it('names a field with the wrong type', async () => {
    const reply = await chat(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }));
    expect(reply.status).toBe(400);
    expect(reply.body.error).toMatchObject({ code: 'invalid_value', param: 'temperature' });
  });

  it('names a missing model', async () => {
    const reply = await chat(JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }));
    expect(reply.status).toBe(400);
    expect(reply.body.error.param).toBe('model');
    expect(reply.body.error.message).toMatch(/Missing required field 'model'/);
  });

  it('answers 404 model_not_found listing the models', async () => {
    const reply = await chat(JSON.stringify({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] }));
    expect(reply.status).toBe(404);
    expect(reply.body.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
    expect(reply.body.error.message).toContain('gpt-4o');
  });

  it('answers 413 for a body over the limit and keeps serving', async () => {
    const reply = await chat(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(5000) }] }));
    expect(reply.status).toBe(413);
    expect(reply.body.error.code).toBe('request_too_large');
    const next = await chat(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }));
    expect(next.status).toBe(200);
  });

  it('writes an audit record for a rejected request', async () => {
    const reply = await chat('not json');
    const id = reply.headers['x-airlock-request-id'] as string;
    const record = gw.gateway.audit.get(id);
    expect(record?.httpStatus).toBe(400);
    expect(record?.errorKind).toBe('invalid_json');
  });
});

describe('keys', () => {
  it('rejects a missing key with 401 invalid_api_key', async () => {
    const reply = await send('/v1/chat/completions', { body: '{}', headers: { 'content-type': 'application/json' } });
    expect(reply.status).toBe(401);
    expect(reply.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' });
  });

  it('accepts x-api-key as well as Bearer', async () => {
    const reply = await send('/v1/models', { method: 'GET', headers: { 'x-api-key': gw.userKey } });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      object: 'list',
      data: [
        expect.objectContaining({ id: 'gpt-4o', object: 'model', owned_by: 'airlock' }),
        expect.objectContaining({ id: 'auto', object: 'model', owned_by: 'airlock' }),
      ],
    });
  });

  it('creates, lists and revokes a key through the management API', async () => {
    const admin = { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' };
    const created = await send('/airlock/api/keys', { headers: admin, body: JSON.stringify({ name: 'cline' }) });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^sk-airlock-[A-Za-z0-9_-]{43}$/);
    const listed = await send('/airlock/api/keys', { method: 'GET', headers: admin });
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key);
    expect(listed.body.data.map((k: { id: string }) => k.id)).toContain(created.body.id);

    const ok = await send('/v1/models', { method: 'GET', headers: { authorization: `Bearer ${created.body.key}` } });
    expect(ok.status).toBe(200);
    const revoked = await send(`/airlock/api/keys/${created.body.id}`, { method: 'DELETE', headers: admin });
    expect(revoked.body).toEqual({ id: created.body.id, revoked: true });
    const denied = await send('/v1/models', { method: 'GET', headers: { authorization: `Bearer ${created.body.key}` } });
    expect(denied.status).toBe(401);
  });

  it('records the user and team of a key', async () => {
    const admin = { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' };
    const unknownUser = await send('/airlock/api/keys', { headers: admin, body: JSON.stringify({ name: 'alice-cline', user: 'alice' }) });
    expect(unknownUser.status).toBe(400);
    expect(unknownUser.body.error.message).toContain("User 'alice' does not exist");
    const misspelt = await send('/airlock/api/keys', { headers: admin, body: JSON.stringify({ name: 'alice-cline', usr: 'alice' }) });
    expect(misspelt.status).toBe(400);
    expect(misspelt.body.error.param).toBe('usr');

    expect((await send('/airlock/api/teams', { headers: admin, body: JSON.stringify({ id: 'backend' }) })).status).toBe(201);
    expect((await send('/airlock/api/users', { headers: admin, body: JSON.stringify({ id: 'alice', team_id: 'backend' }) })).status).toBe(201);
    const created = await send('/airlock/api/keys', { headers: admin, body: JSON.stringify({ name: 'alice-cline', user: 'alice' }) });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ user: 'alice', team: 'backend', role: 'user' });
    expect(gw.gateway.keys.authenticate(created.body.key)).toMatchObject({ userId: 'alice', teamId: 'backend' });
    const bad = await send('/airlock/api/keys', { headers: admin, body: JSON.stringify({ name: 'x', team: 'a b' }) });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('team');
  });

  it('refuses to revoke the last active admin key', async () => {
    const admin = { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' };
    const listed = await send('/airlock/api/keys', { method: 'GET', headers: admin });
    const adminKeys = listed.body.data.filter((k: { role: string; revoked_at: string | null }) => k.role === 'admin' && k.revoked_at === null);
    expect(adminKeys).toHaveLength(1);
    const reply = await send(`/airlock/api/keys/${adminKeys[0].id}`, { method: 'DELETE', headers: admin });
    expect(reply.status).toBe(400);
    expect(reply.body.error.message).toMatch(/last active admin key/);
    const still = await send('/airlock/api/keys', { method: 'GET', headers: admin });
    expect(still.status).toBe(200);
  });

  it('keeps a user key out of key management', async () => {
    const reply = await send('/airlock/api/keys', { method: 'GET', headers: { authorization: `Bearer ${gw.userKey}` } });
    expect(reply.status).toBe(403);
    expect(reply.body.error.code).toBe('forbidden');
  });

  it('stores keys only as hashes', async () => {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(`${gw.dataDir}/airlock.db`, { readonly: true });
    const dump = JSON.stringify(db.prepare('SELECT * FROM api_keys').all());
    db.close();
    expect(dump).not.toContain(gw.userKey);
    expect(dump).not.toContain('sk-literal');
  });
});

describe('host and origin checks', () => {
  it('rejects a Host that is not loopback', async () => {
    const reply = await send('/v1/models', { method: 'GET', headers: { host: 'evil.example:4000', authorization: `Bearer ${gw.userKey}` } });
    expect(reply.status).toBe(403);
    expect(reply.body.error.code).toBe('forbidden');
  });

  it('accepts localhost as Host', async () => {
    const reply = await send('/v1/models', { method: 'GET', headers: { host: 'localhost:4000', authorization: `Bearer ${gw.userKey}` } });
    expect(reply.status).toBe(200);
  });

  it('rejects an Origin that is not on the allowlist', async () => {
    const reply = await send('/v1/models', { method: 'GET', headers: { origin: 'https://evil.example', authorization: `Bearer ${gw.userKey}` } });
    expect(reply.status).toBe(403);
    expect(reply.body.error.message).toContain('allowed_origins');
  });

  it('answers a CORS and private-network preflight for an allowed Origin', async () => {
    const reply = await send('/v1/chat/completions', {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
        'access-control-request-private-network': 'true',
      },
    });
    expect(reply.status).toBe(204);
    expect(reply.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect(reply.headers['access-control-allow-private-network']).toBe('true');
    expect(reply.headers['access-control-allow-headers']).toBe('authorization, content-type');
  });

  it('refuses a preflight from another Origin', async () => {
    const reply = await send('/v1/chat/completions', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(reply.status).toBe(403);
    expect(reply.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('health', () => {
  it('answers /healthz with a request id', async () => {
    const reply = await send('/healthz', { method: 'GET' });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: 'ok' });
    expect(reply.headers['x-airlock-request-id']).toMatch(/^req_[0-9a-f]{32}$/);
  });
});

describe('common mistakes', () => {
  it('answers 405 naming POST for a GET on a POST route', async () => {
    const reply = await send('/v1/chat/completions', { method: 'GET', headers: { authorization: `Bearer ${gw.userKey}` } });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('POST');
    expect(reply.body.error.message).toMatch(/send a POST request/);
  });

  it('puts a request id on unknown paths', async () => {
    const reply = await send('/nothing-here', { method: 'GET' });
    expect(reply.status).toBe(404);
    expect(reply.headers['x-airlock-request-id']).toMatch(/^req_/);
  });

  it('accepts a gzip-encoded body', async () => {
    const body = gzipSync(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }));
    const reply = await chat(body, { 'content-encoding': 'gzip' });
    expect(reply.status).toBe(200);
    expect(reply.body.choices[0].message.content).toBe('Hello');
  });

  it('limits the decoded size of a compressed body', async () => {
    const body = gzipSync(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'a'.repeat(100_000) }] }));
    expect(body.length).toBeLessThan(2048);
    const reply = await chat(body, { 'content-encoding': 'gzip' });
    expect(reply.status).toBe(413);
  });

  it('rejects an unknown Content-Encoding', async () => {
    const reply = await chat('{}', { 'content-encoding': 'zstd' });
    expect(reply.status).toBe(400);
    expect(reply.body.error.message).toMatch(/Content-Encoding 'zstd' is not supported/);
  });

  it('accepts a Host listed in allowed_hosts', async () => {
    const reply = await send('/v1/models', { method: 'GET', headers: { host: 'devbox.internal:4000', authorization: `Bearer ${gw.userKey}` } });
    expect(reply.status).toBe(200);
  });
});

describe('models by id', () => {
  it('describes one model in OpenAI shape', async () => {
    const reply = await send('/v1/models/gpt-4o', { method: 'GET', headers: { authorization: `Bearer ${gw.userKey}` } });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ id: 'gpt-4o', object: 'model', owned_by: 'airlock' });
  });

  it('describes one model in Anthropic shape', async () => {
    const reply = await send('/v1/models/gpt-4o', { method: 'GET', headers: { 'x-api-key': gw.userKey, 'anthropic-version': '2023-06-01' } });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ type: 'model', id: 'gpt-4o', display_name: 'gpt-4o' });
  });

  it('answers 404 for an unknown model id', async () => {
    const reply = await send('/v1/models/nope', { method: 'GET', headers: { 'x-api-key': gw.userKey, 'anthropic-version': '2023-06-01' } });
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it('pages the Anthropic list with limit and after_id', async () => {
    const headers = { 'x-api-key': gw.userKey, 'anthropic-version': '2023-06-01' };
    const first = await send('/v1/models?limit=1', { method: 'GET', headers });
    expect(first.body).toMatchObject({ data: [{ id: 'gpt-4o' }], has_more: true, first_id: 'gpt-4o', last_id: 'gpt-4o' });
    const second = await send('/v1/models?limit=1&after_id=gpt-4o', { method: 'GET', headers });
    expect(second.body).toMatchObject({ data: [{ id: 'auto' }], has_more: false });
  });
});
