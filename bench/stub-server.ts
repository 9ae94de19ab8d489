/**
 * The upstream for the benchmark: a minimal OpenAI Chat Completions server on 127.0.0.1, run in
 * its own process by bench/run.ts. It uses the response shapes of the test stub, but records
 * nothing, so its memory stays flat over hundreds of thousands of requests. A streamed response is
 * written one server-sent event at a time, with a turn of the event loop between events, and
 * without the timed pauses the test stub adds.
 *
 * Protocol: the parent starts it with an IPC channel. It sends `{ type: 'ready', url }` once
 * listening and exits when the parent disconnects or sends SIGTERM.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { completion, textChunks } from '../gateway-core/test/stubs/openai';

/** The text of the streamed response, one content chunk per piece. */
const streamedPieces = ['Hel', 'lo', ', wor', 'ld'];

const jsonBodies = new Map<string, string>();
const streamEvents = new Map<string, string[]>();

function jsonBody(model: string): string {
  let body = jsonBodies.get(model);
  if (body === undefined) {
    body = JSON.stringify(completion(model, 'Hello, world'));
    jsonBodies.set(model, body);
  }
  return body;
}

function sseEvents(model: string, includeUsage: boolean): string[] {
  const cacheKey = `${model}\n${includeUsage}`;
  let events = streamEvents.get(cacheKey);
  if (events === undefined) {
    const chunks = textChunks(model, streamedPieces, { include_usage: includeUsage });
    events = [...chunks.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`), 'data: [DONE]\n\n'];
    streamEvents.set(cacheKey, events);
  }
  return events;
}

function sendError(res: ServerResponse, status: number, message: string): void {
  const text = JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: null } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
    sendError(res, 404, `the benchmark stub serves only POST /v1/chat/completions, not ${req.method} ${req.url}`);
    return;
  }

  let body: { model?: unknown; stream?: unknown; stream_options?: { include_usage?: unknown } | null };
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
  } catch {
    sendError(res, 400, 'the request body is not valid JSON');
    return;
  }
  const model = typeof body.model === 'string' ? body.model : 'unknown';
  res.socket?.setNoDelay(true);

  if (body.stream !== true) {
    const text = jsonBody(model);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': 'req_bench' });
    res.end(text);
    return;
  }

  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_bench' });
  for (const event of sseEvents(model, body.stream_options?.include_usage === true)) {
    if (res.destroyed) return;
    res.write(event);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  res.end();
}

const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    process.stderr.write(`bench stub: request failed: ${String(error)}\n`);
    res.destroy();
  });
});
// Keep connections open across the pauses between benchmark runs.
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}` });
});

function stop(): void {
  server.closeAllConnections();
  server.close(() => process.exit(0));
}
process.on('disconnect', stop);
process.on('SIGTERM', stop);
