import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the stub received, as bytes arrived. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  rawBody: string;
  body: Record<string, unknown>;
}

export type Behaviour = (request: RecordedRequest, res: ServerResponse) => void | Promise<void>;

/**
 * A stub of OpenAI's Chat Completions and Embeddings API on 127.0.0.1, speaking the wire format
 * as OpenAI documents it. Tests queue behaviours; without one, it answers a short completion.
 */
export class OpenAIStub {
  readonly requests: RecordedRequest[] = [];
  private readonly queue: Behaviour[] = [];
  private server: Server | null = null;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Queue the behaviour for the next request. */
  next(behaviour: Behaviour): this {
    this.queue.push(behaviour);
    return this;
  }

  get last(): RecordedRequest {
    const request = this.requests[this.requests.length - 1];
    if (!request) throw new Error('the stub received no request');
    return request;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const request: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      rawBody,
      body: rawBody === '' ? {} : (JSON.parse(rawBody) as Record<string, unknown>),
    };
    this.requests.push(request);
    res.socket?.setNoDelay(true);
    const behaviour = this.queue.shift() ?? defaultBehaviour;
    await behaviour(request, res);
  }
}

export const usage = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };

function defaultBehaviour(request: RecordedRequest, res: ServerResponse): void | Promise<void> {
  if (request.path.endsWith('/embeddings')) {
    const inputs = Array.isArray(request.body.input) ? request.body.input : [request.body.input];
    const vectors = inputs.map((_, i) => [0.25 + i, -0.5, 1.5]);
    const base64 = request.body.encoding_format === 'base64';
    return sendJson(res, 200, {
      object: 'list',
      data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: base64 ? encodeFloat32(v) : v })),
      model: request.body.model,
      usage: { prompt_tokens: 4, total_tokens: 4 },
    });
  }
  if (request.body.stream === true) {
    return sendStream(res, textChunks(String(request.body.model), ['Hel', 'lo'], request.body.stream_options));
  }
  return sendJson(res, 200, completion(String(request.body.model), 'Hello'));
}

export function encodeFloat32(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString('base64');
}

export function completion(model: string, content: string | null, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'chatcmpl-stub1',
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null, ...extra }, logprobs: null, finish_reason: 'stop' }],
    usage,
    system_fingerprint: 'fp_stub',
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_stub', ...headers });
  res.end(text);
}

export function errorBody(message: string, type: string, code: string | null = null): Record<string, unknown> {
  return { error: { message, type, param: null, code } };
}

/** The chunks OpenAI streams for a text answer, honouring stream_options.include_usage. */
export function textChunks(model: string, pieces: string[], streamOptions?: unknown): Record<string, unknown>[] {
  const includeUsage = (streamOptions as { include_usage?: boolean } | undefined)?.include_usage === true;
  const base = { id: 'chatcmpl-stub2', object: 'chat.completion.chunk', created: 1_700_000_000, model, system_fingerprint: 'fp_stub' };
  const withUsage = (chunk: Record<string, unknown>): Record<string, unknown> => (includeUsage ? { ...chunk, usage: null } : chunk);
  const chunks = [
    withUsage({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }] }),
    ...pieces.map((piece) => withUsage({ ...base, choices: [{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }] })),
    withUsage({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] }),
  ];
  if (includeUsage) chunks.push({ ...base, choices: [], usage });
  return chunks;
}

export interface StreamOptions {
  /** Split the bytes at these offsets, each piece written separately. */
  splitAt?: number[];
  /** Write `data: [DONE]` at the end (default true). */
  done?: boolean;
  /** Destroy the socket after this many chunks instead of finishing. */
  cutAfter?: number;
}

export function sseText(chunks: unknown[], done = true): string {
  return chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : '');
}

export async function sendStream(res: ServerResponse, chunks: unknown[], options: StreamOptions = {}): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_stub' });
  if (options.cutAfter !== undefined) {
    res.write(sseText(chunks.slice(0, options.cutAfter), false));
    await pause();
    res.destroy();
    return;
  }
  const bytes = Buffer.from(sseText(chunks, options.done ?? true), 'utf8');
  let start = 0;
  for (const offset of [...(options.splitAt ?? []), bytes.length]) {
    res.write(bytes.subarray(start, offset));
    start = offset;
    await pause();
  }
  res.end();
}

export function pause(ms = 5): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
