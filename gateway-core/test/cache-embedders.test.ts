import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { EmbedderError, HashedNgramEmbedder, tokenizeForEmbedding } from '../src/cache/embedders.js';
import { OllamaEmbedder, OpenAICompatibleEmbedder } from '../src/cache/embedders-http.js';
import { cosineSimilarity, decide } from '../src/cache/similarity.js';

interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

type Handler = (request: RecordedRequest, response: ServerResponse) => void;

/** A loopback HTTP server whose next responses the test sets. */
class StubServer {
  readonly requests: RecordedRequest[] = [];
  handler: Handler = (_request, response) => response.writeHead(500).end();
  private readonly server: Server = createServer((request, response) => this.handle(request, response));

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const recorded: RecordedRequest = {
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body: text === '' ? undefined : (JSON.parse(text) as unknown),
      };
      this.requests.push(recorded);
      this.handler(recorded, response);
    });
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function norm(vector: Float32Array): number {
  return Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
}

async function embedError(promise: Promise<unknown>): Promise<EmbedderError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(EmbedderError);
  return error as EmbedderError;
}

describe('HashedNgramEmbedder', () => {
  const embedder = new HashedNgramEmbedder();

  it('returns unit vectors of the configured size', async () => {
    const [vector] = await embedder.embed(['How do I reverse a list in Python?']);
    expect(vector).toBeInstanceOf(Float32Array);
    expect(vector?.length).toBe(1024);
    expect(norm(vector as Float32Array)).toBeCloseTo(1, 5);
    expect(embedder.dimensions).toBe(1024);
    expect(embedder.version).toBe('1;dim=1024;n=3,4');
  });

  it('is deterministic across instances', () => {
    const other = new HashedNgramEmbedder();
    expect(Array.from(other.embedOne('git rebase -i HEAD~3'))).toEqual(Array.from(embedder.embedOne('git rebase -i HEAD~3')));
  });

  it('scores a paraphrase above an unrelated prompt', () => {
    const query = embedder.embedOne('How do I reverse a list in Python?');
    const paraphrase = embedder.embedOne('python: reverse a list');
    const unrelated = embedder.embedOne('Configure nginx as a reverse proxy');
    expect(cosineSimilarity(query, paraphrase)).toBeGreaterThan(0.85);
    expect(cosineSimilarity(query, unrelated)).toBeLessThan(0.5);
  });

  it('returns a zero vector for text without content words', () => {
    const vector = embedder.embedOne('how do I ?');
    expect(norm(vector)).toBe(0);
  });

  it('handles an empty batch and long text', async () => {
    expect(await embedder.embed([])).toEqual([]);
    const [vector] = await embedder.embed(['token '.repeat(50_000)]);
    expect(norm(vector as Float32Array)).toBeCloseTo(1, 5);
  });

  it('rejects a non-string text', async () => {
    const error = await embedError(embedder.embed(['ok', 42 as unknown as string]));
    expect(error.kind).toBe('invalid_input');
    expect(error.message).toContain('texts[1] is number');
  });

  it('rejects invalid options', () => {
    expect(() => new HashedNgramEmbedder({ dimensions: 8 })).toThrow(/Invalid dimensions 8/);
    expect(() => new HashedNgramEmbedder({ ngramSizes: [] })).toThrow(/Invalid ngramSizes/);
  });

  it('splits camelCase and snake_case names', () => {
    // "get" and "by" are stopwords, so only the whole names and the content parts remain.
    expect(tokenizeForEmbedding('getUserById user_id')).toEqual(['getuserbyid', 'user', 'id', 'user_id', 'user', 'id']);
  });
});

describe('HTTP embedders', () => {
  const stub = new StubServer();

  beforeAll(async () => {
    await stub.start();
  });

  afterAll(async () => {
    await stub.stop();
  });

  beforeEach(() => {
    stub.requests.length = 0;
  });

  it('calls Ollama /api/embed and normalises', async () => {
    stub.handler = (_request, response) => sendJson(response, 200, { model: 'nomic-embed-text', embeddings: [[3, 4], [0, 2]] });
    const embedder = new OllamaEmbedder({ baseUrl: `${stub.baseUrl}/`, model: 'nomic-embed-text' });
    expect(embedder.dimensions).toBeUndefined();

    const vectors = await embedder.embed(['a', 'b']);

    expect(stub.requests[0]?.method).toBe('POST');
    expect(stub.requests[0]?.path).toBe('/api/embed');
    expect(stub.requests[0]?.body).toEqual({ model: 'nomic-embed-text', input: ['a', 'b'] });
    expect(Array.from(vectors[0] as Float32Array)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(Array.from(vectors[1] as Float32Array)).toEqual([0, 1]);
    expect(embedder.dimensions).toBe(2);
    expect(embedder.version).toBe('nomic-embed-text');
  });

  it('reports Ollama error messages', async () => {
    stub.handler = (_request, response) => sendJson(response, 404, { error: 'model "nope" not found, try pulling it first' });
    const embedder = new OllamaEmbedder({ baseUrl: stub.baseUrl, model: 'nope' });
    const error = await embedError(embedder.embed(['a']));
    expect(error.kind).toBe('http_status');
    expect(error.status).toBe(404);
    expect(error.message).toContain('HTTP 404 for model "nope": model "nope" not found, try pulling it first');
  });

  it('calls OpenAI-compatible /embeddings with the key', async () => {
    stub.handler = (_request, response) =>
      sendJson(response, 200, {
        object: 'list',
        data: [
          { object: 'embedding', index: 1, embedding: [0, 0, 5] },
          { object: 'embedding', index: 0, embedding: [1, 0, 0] },
        ],
        model: 'text-embedding-3-small',
      });
    const embedder = new OpenAICompatibleEmbedder({ baseUrl: `${stub.baseUrl}/v1`, model: 'text-embedding-3-small', apiKey: 'sk-test' });

    const vectors = await embedder.embed(['first', 'second']);

    expect(stub.requests[0]?.path).toBe('/v1/embeddings');
    expect(stub.requests[0]?.headers.authorization).toBe('Bearer sk-test');
    expect(stub.requests[0]?.body).toEqual({ model: 'text-embedding-3-small', input: ['first', 'second'], encoding_format: 'float' });
    expect(Array.from(vectors[0] as Float32Array)).toEqual([1, 0, 0]);
    expect(Array.from(vectors[1] as Float32Array)).toEqual([0, 0, 1]);
  });

  it('reports OpenAI-style error bodies', async () => {
    stub.handler = (_request, response) => sendJson(response, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } });
    const embedder = new OpenAICompatibleEmbedder({ baseUrl: `${stub.baseUrl}/v1`, model: 'm' });
    const error = await embedError(embedder.embed(['a']));
    expect(error.status).toBe(401);
    expect(error.message).toContain('Incorrect API key provided');
  });

  it('reports a non-JSON error body as an excerpt', async () => {
    stub.handler = (_request, response) => response.writeHead(502).end('<html>Bad Gateway</html>');
    const embedder = new OpenAICompatibleEmbedder({ baseUrl: stub.baseUrl, model: 'm' });
    const error = await embedError(embedder.embed(['a']));
    expect(error.message).toContain('HTTP 502');
    expect(error.message).toContain('<html>Bad Gateway</html>');
  });

  it('rejects malformed success responses', async () => {
    const cases: [unknown, RegExp][] = [
      [{ embeddings: [[1, 2]] }, /expected 2 embeddings, received 1/],
      [{ embeddings: [[1, 2], [1]] }, /different lengths/],
      [{ embeddings: [[1, 'x'], [1, 2]] }, /non-numeric value at index 1/],
      [{ embeddings: [[], [1]] }, /embedding 0 is not a non-empty array/],
      [{ vectors: [] }, /"embeddings" is missing/],
    ];
    const embedder = new OllamaEmbedder({ baseUrl: stub.baseUrl, model: 'm' });
    for (const [body, message] of cases) {
      stub.handler = (_request, response) => sendJson(response, 200, body);
      const error = await embedError(embedder.embed(['a', 'b']));
      expect(error.kind).toBe('invalid_response');
      expect(error.message).toMatch(message);
    }
  });

  it('rejects a success body that is not JSON', async () => {
    stub.handler = (_request, response) => response.writeHead(200).end('not json');
    const embedder = new OllamaEmbedder({ baseUrl: stub.baseUrl, model: 'm' });
    const error = await embedError(embedder.embed(['a']));
    expect(error.message).toContain('body is not JSON: not json');
  });

  it('rejects repeated and base64 OpenAI items', async () => {
    const embedder = new OpenAICompatibleEmbedder({ baseUrl: stub.baseUrl, model: 'm' });
    stub.handler = (_request, response) => sendJson(response, 200, { data: [{ index: 0, embedding: [1] }, { index: 0, embedding: [1] }] });
    expect((await embedError(embedder.embed(['a', 'b']))).message).toContain('repeated');
    stub.handler = (_request, response) => sendJson(response, 200, { data: [{ index: 0, embedding: 'AAAA' }] });
    expect((await embedError(embedder.embed(['a']))).message).toContain('base64');
  });

  it('rejects a change of dimensions', async () => {
    const embedder = new OllamaEmbedder({ baseUrl: stub.baseUrl, model: 'm', dimensions: 3 });
    stub.handler = (_request, response) => sendJson(response, 200, { embeddings: [[1, 2]] });
    const error = await embedError(embedder.embed(['a']));
    expect(error.message).toContain('expected 3 dimensions, received 2');
  });

  it('times out a hanging server', async () => {
    stub.handler = () => undefined;
    const embedder = new OllamaEmbedder({ baseUrl: stub.baseUrl, model: 'm', timeoutMs: 200 });
    const started = Date.now();
    const error = await embedError(embedder.embed(['a']));
    expect(error.kind).toBe('timeout');
    expect(error.message).toContain('timed out after 200 ms');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('times out a body that stops midway', async () => {
    stub.handler = (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"embeddings": [[1,');
    };
    const embedder = new OllamaEmbedder({ baseUrl: stub.baseUrl, model: 'm', timeoutMs: 200 });
    expect((await embedError(embedder.embed(['a']))).kind).toBe('timeout');
  });

  it('reports a refused connection', async () => {
    const closed = new StubServer();
    await closed.start();
    const baseUrl = closed.baseUrl;
    await closed.stop();
    const embedder = new OllamaEmbedder({ baseUrl, model: 'm' });
    const error = await embedError(embedder.embed(['a']));
    expect(error.kind).toBe('network');
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('sends nothing for an empty batch', async () => {
    const embedder = new OllamaEmbedder({ baseUrl: stub.baseUrl, model: 'm' });
    expect(await embedder.embed([])).toEqual([]);
    expect(stub.requests).toEqual([]);
  });

  it('rejects invalid options', () => {
    expect(() => new OllamaEmbedder({ baseUrl: 'localhost:11434', model: 'm' })).toThrow(/invalid baseUrl/);
    expect(() => new OllamaEmbedder({ baseUrl: 'ftp://127.0.0.1', model: 'm' })).toThrow(/invalid baseUrl/);
    expect(() => new OllamaEmbedder({ baseUrl: 'http://127.0.0.1?x=1', model: 'm' })).toThrow(/query or fragment/);
    expect(() => new OllamaEmbedder({ baseUrl: 'http://127.0.0.1', model: ' ' })).toThrow(/model is missing/);
    expect(() => new OllamaEmbedder({ baseUrl: 'http://127.0.0.1', model: 'm', timeoutMs: 0 })).toThrow(/invalid timeoutMs/);
  });
});

describe('decide', () => {
  const embedder = new HashedNgramEmbedder();
  const prompt = (text: string) => ({ text, vector: embedder.embedOne(text) });

  it('serves a paraphrase', () => {
    const decision = decide(prompt('How do I reverse a list in Python?'), prompt('python: reverse a list'));
    expect(decision.hit).toBe(true);
    expect(decision.reason).toBe('hit');
  });

  it('stops Login vs Logout lexically', () => {
    const decision = decide(prompt('Fix the Login button'), prompt('Fix the Logout button'), 0.5);
    expect(decision.reason).toBe('lexical_mismatch');
    expect(decision.detail).toContain('terms differ (query only: "login"; cached only: "logout")');
  });

  it('stops a low similarity first', () => {
    const decision = decide(prompt('Explain closures'), prompt('Configure nginx'));
    expect(decision.reason).toBe('below_threshold');
    expect(decision.mismatches).toEqual([]);
  });

  it('rejects an invalid threshold', () => {
    expect(() => decide(prompt('a'), prompt('b'), Number.NaN)).toThrow(/Invalid similarity threshold/);
    expect(() => decide(prompt('a'), prompt('b'), 1.5)).toThrow(/Invalid similarity threshold/);
  });

  it('rejects vectors of different lengths', () => {
    expect(() => cosineSimilarity(new Float32Array(3), new Float32Array(4))).toThrow(/different lengths \(3 and 4\)/);
  });
});
