/**
 * Shared pieces of the routing tests that run through a real gateway: a scripted upstream in
 * OpenAI's wire format with a per-test handler, a URL whose port refuses connections, and reads
 * of the audit log and deployment health through the management API.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditRecord } from '../../src/storage/audit';
import type { TestGateway } from './gateway';
import type { StubBehaviour } from '../stubs/anthropic';
import { messageBody, streamEvents } from '../stubs/anthropic';
import { completion, errorBody, pause, sendJson, sendStream, sseText, textChunks } from '../stubs/openai';

/** A request an upstream received. */
export interface UpstreamRequest {
  /** 1 for the first request this upstream received. */
  number: number;
  body: Record<string, unknown>;
  /** The model name the gateway sent, which tells deployments on one upstream apart. */
  model: string;
  stream: boolean;
  /** Whether the gateway closed the connection before the response was complete. */
  aborted: boolean;
}

export type UpstreamHandler = (request: UpstreamRequest, res: ServerResponse) => void | Promise<void>;

/**
 * An OpenAI-format upstream on 127.0.0.1. Queued handlers serve the next requests in order,
 * and the default handler serves the rest. Unless replaced, it returns "from <name>" as a
 * completion or a stream, whichever the request asked for.
 */
export interface OpenAIUpstream {
  name: string;
  /** Base URL including /v1, for a deployment's api_base. */
  url: string;
  requests: UpstreamRequest[];
  /** Queue handlers for the next requests. */
  next(...handlers: UpstreamHandler[]): void;
  setDefault(handler: UpstreamHandler): void;
  /** Forget the recorded requests and queued handlers, and restore the default handler. */
  reset(): void;
  close(): Promise<void>;
}

export async function startOpenAIUpstream(name: string): Promise<OpenAIUpstream> {
  const requests: UpstreamRequest[] = [];
  const queue: UpstreamHandler[] = [];
  const answer = reply(`from ${name}`);
  let fallback: UpstreamHandler = answer;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    const request: UpstreamRequest = {
      number: requests.length + 1,
      body,
      model: String(body.model),
      stream: body.stream === true,
      aborted: false,
    };
    requests.push(request);
    res.on('close', () => {
      if (!res.writableFinished) request.aborted = true;
    });
    res.socket?.setNoDelay(true);
    const handler = queue.shift() ?? fallback;
    await handler(request, res);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => res.destroy(error instanceof Error ? error : new Error(String(error))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    name,
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    next: (...handlers) => void queue.push(...handlers),
    setDefault: (handler) => {
      fallback = handler;
    },
    reset: () => {
      requests.length = 0;
      queue.length = 0;
      fallback = answer;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        // A hanging response would keep close() waiting forever.
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** Respond with `text` as a completion, or as a stream in two pieces when the request streams. */
export function reply(text: string, options: { delayMs?: number } = {}): UpstreamHandler {
  return async (request, res) => {
    if (options.delayMs) await pause(options.delayMs);
    if (res.destroyed) return;
    if (!request.stream) return sendJson(res, 200, completion(request.model, text));
    const middle = Math.ceil(text.length / 2);
    await sendStream(res, textChunks(request.model, [text.slice(0, middle), text.slice(middle)], request.body.stream_options));
  };
}

/** Respond with `status` and an OpenAI error envelope. */
export function fail(status: number, message: string, type: string, code: string | null = null, headers: Record<string, string> = {}): UpstreamHandler {
  return (_request, res) => sendJson(res, status, errorBody(message, type, code), headers);
}

/** Read the request and never respond. */
export const hang: UpstreamHandler = () => undefined;

/** Close the connection without sending a status line. */
export const resetConnection: UpstreamHandler = (_request, res) => {
  res.socket?.destroy();
};

/**
 * Respond 200 with an event stream, write the first `chunks` chunks of a streamed "Hello there"
 * (0 writes no body bytes at all), then reset the connection.
 */
export function cutStream(chunks: number): UpstreamHandler {
  return async (request, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    const all = textChunks(request.model, ['Hello', ' there'], request.body.stream_options);
    if (chunks > 0) res.write(sseText(all.slice(0, chunks), false));
    // Give the gateway time to read what was written before the reset.
    await pause(20);
    res.socket?.destroy();
  };
}

/** Respond 200, write only `prelude` (such as an SSE comment), then never write again. */
export function stallStream(prelude = ''): UpstreamHandler {
  return (_request, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    if (prelude !== '') res.write(prelude);
  };
}

/** Builds an Anthropic stub behaviour that returns `text` as a message, or as a stream when the request streams. */
export function anthropicReply(body: unknown, text: string): StubBehaviour {
  const model = String((body as { model?: unknown } | undefined)?.model);
  if ((body as { stream?: unknown } | undefined)?.stream === true) {
    return { kind: 'stream', events: streamEvents([{ type: 'text', pieces: [text.slice(0, 4), text.slice(4)] }], { model }) };
  }
  return { kind: 'message', body: messageBody([{ type: 'text', text }], { model }) };
}

/** Return a loopback URL whose port was just free and is now closed, so connections to it are refused. */
export async function refusedUrl(path = ''): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}${path}`;
}

/**
 * Fetch a request's audit record through the management API. The gateway writes the record
 * after the response has ended, so this polls for up to two seconds.
 */
export async function auditRecord(gw: TestGateway, requestId: string | null | undefined): Promise<AuditRecord> {
  if (!requestId) throw new Error('the response carried no x-airlock-request-id header');
  for (let waited = 0; waited <= 2000; waited += 20) {
    const res = await fetch(`${gw.url}/airlock/api/requests/${requestId}`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    if (res.status === 200) return (await res.json()) as AuditRecord;
    await res.body?.cancel();
    await pause(20);
  }
  throw new Error(`no audit record for ${requestId} after 2 s`);
}

/** A deployment's entry in GET /airlock/api/deployments. */
export interface DeploymentView {
  id: string;
  model_name: string;
  model: string;
  health: {
    state: 'healthy' | 'cooling_down';
    cooldownRemainingMs: number;
    failuresInWindow: number;
    inFlight: number;
    rpmUsed: number;
    latencyMs: number | null;
    lastErrorKind: string | null;
  };
}

/** Read GET /airlock/api/deployments as a map from deployment id to its entry. */
export async function deploymentHealth(gw: TestGateway): Promise<Map<string, DeploymentView>> {
  const res = await fetch(`${gw.url}/airlock/api/deployments`, { headers: { authorization: `Bearer ${gw.userKey}` } });
  if (res.status !== 200) throw new Error(`GET /airlock/api/deployments returned ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { data: DeploymentView[] };
  return new Map(body.data.map((view) => [view.id, view]));
}

/** Decode the route reason header back to the text that the audit record stores. */
export function decodedRouteReason(headers: Headers): string | null {
  const value = headers.get('x-airlock-route-reason');
  return value === null ? null : decodeURIComponent(value);
}
