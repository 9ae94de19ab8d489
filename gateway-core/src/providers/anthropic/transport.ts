import Anthropic from '@anthropic-ai/sdk';
import type { CallOptions, Deployment } from '../types';
import { mapAnthropicError } from './errors';
import { defaultAnthropicVersion } from './parameters';

const defaultBaseUrl = 'https://api.anthropic.com';

/** Request headers a caller may not forward, because the provider sets credentials and framing itself. */
const reservedHeaders = new Set(['x-api-key', 'authorization', 'host', 'content-length', 'content-type', 'connection', 'transfer-encoding']);

/**
 * A time limit for one call, linked to the caller's signal. For a plain response it bounds the
 * whole call, body included; a stream restarts it at every event, so it bounds the silence
 * between events. The SDK's own `timeout` only covers the wait for the response headers.
 */
export class CallDeadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private fired = false;
  private readonly forwardAbort = (): void => this.controller.abort(this.caller.reason);

  constructor(
    private readonly caller: AbortSignal,
    /** Milliseconds. */
    readonly ms: number,
  ) {
    if (caller.aborted) this.controller.abort(caller.reason);
    else caller.addEventListener('abort', this.forwardAbort, { once: true });
    this.restart();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether this deadline, not the caller, aborted the call. */
  get timedOut(): boolean {
    return this.fired;
  }

  restart(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.controller.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.fired = true;
      this.controller.abort(new Error(`timed out after ${this.ms} ms without a response`));
      this.dispose();
    }, this.ms);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.caller.removeEventListener('abort', this.forwardAbort);
  }
}

export interface AnthropicResponse {
  response: Response;
  deadline: CallDeadline;
  /** Anthropic's request-id header, for error reports. */
  requestId: string | null;
}

/**
 * Sends POST /v1/messages (or another Messages path) through the official SDK with its retries off (the router retries)
 * and returns the raw response, whose body the caller reads. The SDK serializes the body with
 * JSON.stringify, so a passthrough body keeps its keys and their order.
 */
export class AnthropicTransport {
  private readonly clients = new Map<string, { key: string | null; client: Anthropic }>();

  /** Return the anthropic-version header a call sends: the forwarded one, else the default. */
  static versionFor(options: CallOptions): string {
    for (const [name, value] of Object.entries(options.headers)) {
      if (name.toLowerCase() === 'anthropic-version' && value !== '') return value;
    }
    return defaultAnthropicVersion;
  }

  async post(
    deployment: Deployment,
    body: Record<string, unknown>,
    options: CallOptions,
    stream: boolean,
    path = '/v1/messages',
  ): Promise<AnthropicResponse> {
    const client = this.client(deployment);
    // The SDK accepts only a whole, non-negative number of milliseconds.
    const timeoutMs = Math.max(1, Math.ceil(options.timeoutMs));
    const deadline = new CallDeadline(options.signal, timeoutMs);
    try {
      const response = await client
        .post(path, {
          body,
          stream,
          signal: deadline.signal,
          timeout: timeoutMs,
          headers: forwardedHeaders(options),
          maxRetries: 0,
        })
        .asResponse();
      return { response, deadline, requestId: response.headers.get('request-id') };
    } catch (error) {
      deadline.dispose();
      throw mapAnthropicError(error, deployment, options.signal, deadline);
    }
  }

  /**
   * Return the client of a deployment, one per deployment and key. The key goes out as
   * `x-api-key`, which the Anthropic API and Anthropic-compatible servers accept under every API
   * version. @anthropic-ai/sdk 1.x (checked in 1.17.0) sends `Authorization: Bearer` by default, which is switched
   * off so that the key is sent once.
   */
  private client(deployment: Deployment): Anthropic {
    const key = deployment.apiKey ? deployment.apiKey.read() : null;
    const cached = this.clients.get(deployment.id);
    if (cached && cached.key === key) return cached.client;
    const client = new Anthropic({
      // A credential must be given, or the SDK looks for one in the environment and config files.
      apiKey: key ?? 'unused',
      baseURL: deployment.apiBase ?? defaultBaseUrl,
      maxRetries: 0,
      timeout: Math.max(1, Math.ceil(deployment.timeoutMs)),
      defaultHeaders: { authorization: null, ...(key !== null ? { 'x-api-key': key } : {}) },
    });
    this.clients.set(deployment.id, { key, client });
    return client;
  }
}

function forwardedHeaders(options: CallOptions): Record<string, string> {
  const headers: Record<string, string> = { 'anthropic-version': AnthropicTransport.versionFor(options) };
  for (const [name, value] of Object.entries(options.headers)) {
    const lower = name.toLowerCase();
    if (reservedHeaders.has(lower) || lower === 'anthropic-version') continue;
    headers[lower] = value;
  }
  return headers;
}
