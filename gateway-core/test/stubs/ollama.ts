/**
 * A stub Ollama server for tests: node:http on 127.0.0.1, port 0. It speaks the native API as
 * Ollama documents it (POST /api/chat, POST /api/embed, GET /api/tags, GET /api/version, errors
 * as {"error": "..."}), records every request, and plays scripted behaviours, including
 * faults: NDJSON written in small byte pieces, error objects mid-stream, cut streams and hangs.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubToolCall {
  id?: string;
  function: { name: string; arguments: Record<string, unknown> };
}

/** One message piece; a streamed reply sends one NDJSON line per piece. */
export interface StubChunk {
  content?: string;
  thinking?: string;
  tool_calls?: StubToolCall[];
}

export interface StubChatReply {
  kind: 'reply';
  chunks: StubChunk[];
  /** done_reason of the final object, "stop" unless set. */
  doneReason?: string;
  /** prompt_eval_count of the final object. Null leaves the field out, as Ollama does for 0. */
  promptEvalCount?: number | null;
  evalCount?: number | null;
  /** Writes the NDJSON bytes in pieces of this size with a pause between, to split lines and characters. */
  chunkBytes?: number;
  /** After this many pieces: 'end' finishes the HTTP response without the done object, 'destroy' resets the socket, 'hang' stops writing. */
  cut?: { after: number; how: 'end' | 'destroy' | 'hang' };
  /** After this many pieces, sends {"error": message} and ends the response. */
  errorAfter?: { after: number; message: string };
}

export interface StubEmbedReply {
  kind: 'embed';
  embeddings: number[][];
  /** null leaves prompt_eval_count out. */
  promptEvalCount?: number | null;
}

export type StubBehaviour =
  | StubChatReply
  | StubEmbedReply
  | { kind: 'error'; status: number; message: string }
  /** Reads the request and never sends a response. */
  | { kind: 'hang' };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** The parsed JSON body, or undefined for a request without one. */
  body: unknown;
  /** Whether the client closed the connection before the response was complete. */
  aborted: boolean;
}

export interface OllamaStub {
  /** Base URL, for a deployment's apiBase. */
  url: string;
  requests: RecordedRequest[];
  /** Queues a behaviour for the next request to `path` ("/api/chat" or "/api/embed"). */
  enqueue(path: '/api/chat' | '/api/embed', behaviour: StubBehaviour): void;
  close(): Promise<void>;
}

/** Durations in nanoseconds, as Ollama reports them. The values are arbitrary but realistic. */
const DURATIONS = {
  total_duration: 4_883_583_458,
  load_duration: 1_334_875,
  prompt_eval_duration: 342_546_000,
  eval_duration: 4_535_599_000,
};

const DEFAULT_MODELS = ['llama3.2:latest', 'qwen3:8b', 'llava:latest', 'nomic-embed-text:latest'];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Ollama resolves a name without a tag to ":latest". */
function withTag(model: string): string {
  return model.includes(':') ? model : `${model}:latest`;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(value));
}

function chatLine(model: string, chunk: StubChunk): Record<string, unknown> {
  const message: Record<string, unknown> = { role: 'assistant', content: chunk.content ?? '' };
  if (chunk.thinking !== undefined) message.thinking = chunk.thinking;
  if (chunk.tool_calls !== undefined) message.tool_calls = chunk.tool_calls;
  return { model, created_at: new Date().toISOString(), message, done: false };
}

function finalFields(reply: StubChatReply): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    done: true,
    done_reason: reply.doneReason ?? 'stop',
    total_duration: DURATIONS.total_duration,
    load_duration: DURATIONS.load_duration,
    prompt_eval_duration: DURATIONS.prompt_eval_duration,
    eval_duration: DURATIONS.eval_duration,
  };
  const input = reply.promptEvalCount === undefined ? 26 : reply.promptEvalCount;
  const output = reply.evalCount === undefined ? 12 : reply.evalCount;
  if (input !== null) fields.prompt_eval_count = input;
  if (output !== null) fields.eval_count = output;
  return fields;
}

async function writeStream(res: ServerResponse, model: string, reply: StubChatReply): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  const stopAt = reply.cut?.after ?? reply.errorAfter?.after ?? reply.chunks.length;
  const lines = reply.chunks.slice(0, stopAt).map((chunk) => JSON.stringify(chatLine(model, chunk)) + '\n');
  if (reply.errorAfter) lines.push(JSON.stringify({ error: reply.errorAfter.message }) + '\n');
  else if (!reply.cut) {
    lines.push(JSON.stringify({ model, created_at: new Date().toISOString(), message: { role: 'assistant', content: '' }, ...finalFields(reply) }) + '\n');
  }

  const bytes = Buffer.from(lines.join(''), 'utf8');
  const pieceSize = reply.chunkBytes ?? bytes.length;
  for (let offset = 0; offset < bytes.length; offset += pieceSize) {
    if (res.destroyed) return;
    await new Promise<void>((resolve) => res.write(bytes.subarray(offset, offset + pieceSize), () => resolve()));
    // A pause lets each piece leave as its own TCP segment instead of being coalesced.
    if (reply.chunkBytes !== undefined) await sleep(2);
  }

  if (res.destroyed) return;
  if (reply.cut?.how === 'destroy') {
    // Give the client time to read what was written before the reset.
    await sleep(20);
    res.socket?.destroy();
  }
  else if (reply.cut?.how === 'hang') return;
  else res.end();
}

function writeWhole(res: ServerResponse, model: string, reply: StubChatReply): void {
  const content = reply.chunks.map((chunk) => chunk.content ?? '').join('');
  const thinking = reply.chunks.map((chunk) => chunk.thinking ?? '').join('');
  const toolCalls = reply.chunks.flatMap((chunk) => chunk.tool_calls ?? []);
  const message: Record<string, unknown> = { role: 'assistant', content };
  if (thinking.length > 0) message.thinking = thinking;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  sendJson(res, 200, { model, created_at: new Date().toISOString(), message, ...finalFields(reply) });
}

/** Builds a deterministic vector from the input, so tests can compare exact values. */
function defaultEmbedding(text: string): number[] {
  return [text.length, 0.1, -0.25, 1 / 3];
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startOllamaStub(options: { models?: string[] } = {}): Promise<OllamaStub> {
  const installed = new Set((options.models ?? DEFAULT_MODELS).map(withTag));
  const queues = new Map<string, StubBehaviour[]>();
  const requests: RecordedRequest[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const text = await readBody(req);
    const record: RecordedRequest = { method: req.method ?? '', path, headers: req.headers, body: undefined, aborted: false };
    requests.push(record);
    res.on('close', () => {
      if (!res.writableFinished) record.aborted = true;
    });

    if (req.method === 'GET' && path === '/api/version') return sendJson(res, 200, { version: '0.12.6' });
    if (req.method === 'GET' && path === '/api/tags') {
      const models = [...installed].map((name) => ({
        name,
        model: name,
        modified_at: '2025-10-01T12:00:00.000000000Z',
        size: 2_019_393_189,
        digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
        details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
      }));
      return sendJson(res, 200, { models });
    }
    if (path !== '/api/chat' && path !== '/api/embed') {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('404 page not found');
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { 'Content-Type': 'text/plain' });
      res.end('405 method not allowed');
      return;
    }

    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
      record.body = body;
    } catch (error) {
      return sendJson(res, 400, { error: `invalid request body: ${(error as Error).message}` });
    }
    const model = body.model;
    if (typeof model !== 'string' || model.length === 0) return sendJson(res, 400, { error: 'model is required' });
    if (!installed.has(withTag(model))) {
      return sendJson(res, 404, { error: `model "${model}" not found, try pulling it first` });
    }

    const behaviour = queues.get(path)?.shift();
    if (behaviour?.kind === 'error') return sendJson(res, behaviour.status, { error: behaviour.message });
    if (behaviour?.kind === 'hang') return;

    if (path === '/api/embed') {
      const inputs = Array.isArray(body.input) ? (body.input as string[]) : [String(body.input ?? '')];
      const reply: StubEmbedReply =
        behaviour?.kind === 'embed' ? behaviour : { kind: 'embed', embeddings: inputs.map(defaultEmbedding), promptEvalCount: 7 };
      const response: Record<string, unknown> = { model, embeddings: reply.embeddings, total_duration: 14_143_917, load_duration: 1_019_500 };
      if (reply.promptEvalCount !== null) response.prompt_eval_count = reply.promptEvalCount ?? 7;
      return sendJson(res, 200, response);
    }

    const reply: StubChatReply =
      behaviour?.kind === 'reply' ? behaviour : { kind: 'reply', chunks: [{ content: 'Hello' }, { content: ' from the stub.' }] };
    // Ollama streams unless the request sets "stream": false.
    if (body.stream === false) return writeWhole(res, model, reply);
    await writeStream(res, model, reply);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: `stub failure: ${(error as Error).message}` });
      else res.destroy(error as Error);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue(path, behaviour) {
      const queue = queues.get(path) ?? [];
      queue.push(behaviour);
      queues.set(path, queue);
    },
    async close() {
      // Hanging responses would keep server.close() waiting forever.
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
