/**
 * A stub Anthropic server for tests: node:http on 127.0.0.1, port 0. It speaks the Messages wire
 * format as Anthropic documents it: POST /v1/messages returns a message object or
 * `event: <type>\ndata: <json>\n\n` server-sent events, errors as
 * {"type":"error","error":{"type","message"},"request_id"} with a request-id header. Tests script
 * each response (a queue, or a handler for an empty queue), and can split the stream bytes anywhere
 * (inside a UTF-8 character, inside an event, between `data:` and its JSON), send `event: error`,
 * hang, or close the socket. Every request is recorded with its headers and raw body.
 */
import { type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One SSE event, or raw text written as it is (a comment line, a malformed frame). */
export type StubEvent = { event: string; data: unknown } | { raw: string };

export type StubBehaviour =
  /** A non-streaming response: the body as JSON, status 200 unless set. */
  | { kind: 'message'; body: Record<string, unknown>; status?: number; headers?: Record<string, string> }
  /** An error response in Anthropic's envelope; `headers` adds e.g. retry-after. */
  | { kind: 'error'; status: number; type: string; message: string; headers?: Record<string, string> }
  | {
      kind: 'stream';
      events: StubEvent[];
      /** Cuts the serialized bytes into pieces, each written separately after a short pause. */
      split?: (bytes: Buffer) => Buffer[];
      /** After the events: end the response (default), reset the socket, or stop writing. */
      finish?: 'end' | 'destroy' | 'hang';
      /** Milliseconds to wait before the response headers. */
      delayMs?: number;
    }
  /** Reads the request and never responds. */
  | { kind: 'hang' }
  /** Reads the request and closes the socket without a response. */
  | { kind: 'destroy' }
  /** Any status, headers and body text, for responses that break the format. */
  | { kind: 'raw'; status: number; headers: Record<string, string>; body: string };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body bytes as UTF-8 text, exactly as received. */
  rawBody: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  body: unknown;
  /** Whether the client closed the connection before the response was complete. */
  aborted: boolean;
}

export interface AnthropicStub {
  /** Server root, for a deployment's apiBase (the client adds /v1/messages). */
  url: string;
  requests: RecordedRequest[];
  /** Queues behaviours for the next requests, in order. */
  enqueue(...behaviours: StubBehaviour[]): void;
  /** Handles requests when the queue is empty; without a handler such a request gets a 500 api_error. */
  setHandler(handler: ((request: RecordedRequest) => StubBehaviour) | null): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Serialize events the way Anthropic streams them. */
export function serializeEvents(events: StubEvent[]): string {
  return events.map((event) => ('raw' in event ? event.raw : `event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`)).join('');
}

/** Splits bytes into pieces of `size` bytes. */
export function splitEvery(size: number): (bytes: Buffer) => Buffer[] {
  return (bytes) => {
    const pieces: Buffer[] = [];
    for (let offset = 0; offset < bytes.length; offset += size) pieces.push(bytes.subarray(offset, offset + size));
    return pieces;
  };
}

/** Splits bytes at the given byte offsets. */
export function splitAtOffsets(...offsets: number[]): (bytes: Buffer) => Buffer[] {
  return (bytes) => {
    const cuts = [0, ...offsets.filter((offset) => offset > 0 && offset < bytes.length).sort((a, b) => a - b), bytes.length];
    return cuts.slice(1).map((end, index) => bytes.subarray(cuts[index]!, end));
  };
}

export interface StubUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation?: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

export interface MessageOptions {
  id?: string;
  model?: string;
  stopReason?: string;
  stopSequence?: string | null;
  usage?: StubUsage;
}

const defaultUsage = { input_tokens: 25, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 12 };

/** A message object as POST /v1/messages returns it. */
export function messageBody(content: Array<Record<string, unknown>>, options: MessageOptions = {}): Record<string, unknown> {
  return {
    id: options.id ?? 'msg_stub_01',
    type: 'message',
    role: 'assistant',
    model: options.model ?? 'claude-sonnet-4-5-20250929',
    content,
    stop_reason: options.stopReason ?? 'end_turn',
    stop_sequence: options.stopSequence ?? null,
    usage: { ...defaultUsage, ...options.usage },
  };
}

/** One content block of a scripted stream, with its text cut into deltas. */
export type StubBlock =
  | { type: 'text'; pieces: string[] }
  | { type: 'tool_use'; id: string; name: string; pieces: string[] }
  | { type: 'thinking'; pieces: string[]; signature: string }
  | { type: 'redacted_thinking'; data: string };

/**
 * Build the event sequence of a streamed message: message_start (empty content, input usage),
 * each block with a ping after the first start, message_delta with the cumulative output count,
 * message_stop.
 */
export function streamEvents(blocks: StubBlock[], options: MessageOptions = {}): StubEvent[] {
  const usage = { ...defaultUsage, ...options.usage };
  const start = { ...messageBody([], options), stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } };
  const events: StubEvent[] = [{ event: 'message_start', data: { type: 'message_start', message: start } }];
  blocks.forEach((block, index) => {
    events.push({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: blockStart(block) } });
    if (index === 0) events.push({ event: 'ping', data: { type: 'ping' } });
    for (const delta of blockDeltas(block)) events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta } });
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
  });
  events.push({
    event: 'message_delta',
    data: {
      type: 'message_delta',
      delta: { stop_reason: options.stopReason ?? 'end_turn', stop_sequence: options.stopSequence ?? null },
      usage: { output_tokens: usage.output_tokens },
    },
  });
  events.push({ event: 'message_stop', data: { type: 'message_stop' } });
  return events;
}

function blockStart(block: StubBlock): Record<string, unknown> {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: '' };
    case 'tool_use':
      return { type: 'tool_use', id: block.id, name: block.name, input: {} };
    case 'thinking':
      return { type: 'thinking', thinking: '', signature: '' };
    case 'redacted_thinking':
      return { type: 'redacted_thinking', data: block.data };
  }
}

function blockDeltas(block: StubBlock): Array<Record<string, unknown>> {
  switch (block.type) {
    case 'text':
      return block.pieces.map((text) => ({ type: 'text_delta', text }));
    case 'tool_use':
      return block.pieces.map((partial_json) => ({ type: 'input_json_delta', partial_json }));
    case 'thinking':
      return [...block.pieces.map((thinking) => ({ type: 'thinking_delta', thinking })), { type: 'signature_delta', signature: block.signature }];
    case 'redacted_thinking':
      return [];
  }
}

/** Build an `event: error` frame as Anthropic sends it mid-stream. */
export function errorEvent(type: string, message: string): StubEvent {
  return { event: 'error', data: { type: 'error', error: { type, message } } };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export async function startAnthropicStub(): Promise<AnthropicStub> {
  const queue: StubBehaviour[] = [];
  const requests: RecordedRequest[] = [];
  let handler: ((request: RecordedRequest) => StubBehaviour) | null = null;
  let counter = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawBody = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const record: RecordedRequest = { method: req.method ?? '', path, headers: req.headers, rawBody, body: parseJson(rawBody), aborted: false };
    requests.push(record);
    res.on('close', () => {
      if (!res.writableFinished) record.aborted = true;
    });
    const requestId = `req_stub_${String(++counter).padStart(4, '0')}`;

    if (req.method !== 'POST' || path !== '/v1/messages') {
      return sendError(res, requestId, 404, 'not_found_error', `${req.method} ${path} is not served by this stub`);
    }
    const behaviour = queue.shift() ?? handler?.(record);
    if (!behaviour) return sendError(res, requestId, 500, 'api_error', 'the test scripted no response for this request');
    await play(res, requestId, behaviour);
  };

  const server: Server = createServer((req, res) => {
    res.socket?.setNoDelay(true);
    handle(req, res).catch((error: unknown) => {
      // A failure inside the stub is a broken test; make it visible instead of hanging.
      res.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...behaviours) => queue.push(...behaviours),
    setHandler: (next) => {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function sendError(res: ServerResponse, requestId: string, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ type: 'error', error: { type, message }, request_id: requestId });
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId, ...headers });
  res.end(body);
}

async function play(res: ServerResponse, requestId: string, behaviour: StubBehaviour): Promise<void> {
  switch (behaviour.kind) {
    case 'message':
      res.writeHead(behaviour.status ?? 200, { 'content-type': 'application/json', 'request-id': requestId, ...behaviour.headers });
      res.end(JSON.stringify(behaviour.body));
      return;
    case 'error':
      return sendError(res, requestId, behaviour.status, behaviour.type, behaviour.message, behaviour.headers);
    case 'raw':
      res.writeHead(behaviour.status, { 'request-id': requestId, ...behaviour.headers });
      res.end(behaviour.body);
      return;
    case 'hang':
      return;
    case 'destroy':
      res.socket?.destroy();
      return;
    case 'stream':
      return writeStream(res, requestId, behaviour);
  }
}

async function writeStream(res: ServerResponse, requestId: string, behaviour: Extract<StubBehaviour, { kind: 'stream' }>): Promise<void> {
  if (behaviour.delayMs) await sleep(behaviour.delayMs);
  if (res.destroyed) return;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': requestId });
  const bytes = Buffer.from(serializeEvents(behaviour.events), 'utf8');
  const pieces = behaviour.split ? behaviour.split(bytes) : [bytes];
  for (const piece of pieces) {
    if (res.destroyed) return;
    await new Promise<void>((resolve) => res.write(piece, () => resolve()));
    // A pause lets each piece leave as its own TCP segment instead of being coalesced.
    if (behaviour.split) await sleep(2);
  }
  if (res.destroyed) return;
  if (behaviour.finish === 'destroy') {
    // Give the client time to read what was written before the reset.
    await sleep(20);
    res.socket?.destroy();
  } else if (behaviour.finish !== 'hang') {
    res.end();
  }
}
