import OpenAI from 'openai';
import { GatewayError, UpstreamError, connectionFailureReason } from '../../errors';
import type { CanonicalRequest, CanonicalStreamEvent } from '../../formats/canonical';
import { canonicalToOpenAIRequest } from '../../formats/openai-chat/request';
import { openAIResponseToCanonical } from '../../formats/openai-chat/response';
import {
  OpenAIStreamToCanonical,
  openAIChunkCarriesContent,
  openAIChunkOutputText,
  type OpenAIChunk,
} from '../../formats/openai-chat/stream';
import { openAIUsageToCanonical, type OpenAIUsage } from '../../formats/openai-chat/usage';
import type { UsageRecord } from '../../usage/record';
import { readServerSentEvents } from '../sse';
import type {
  CallOptions,
  CanonicalCompletion,
  ChatProvider,
  Deployment,
  EmbeddingRequest,
  EmbeddingResult,
  NativeCompletion,
  NativeStreamEvent,
  StreamHandle,
} from '../types';
import { mapOpenAIError, mapOpenAIStreamError } from './errors';

const defaultBaseUrl = 'https://api.openai.com/v1';

/** OpenAI and every OpenAI-compatible server (vLLM, LM Studio, company proxies). */
export class OpenAIProvider implements ChatProvider {
  readonly kind = 'openai' as const;
  readonly nativeFormat = 'openai-chat' as const;
  private readonly clients = new Map<string, { key: string; client: OpenAI }>();

  async complete(deployment: Deployment, request: CanonicalRequest, options: CallOptions): Promise<CanonicalCompletion> {
    this.checkParameters(request);
    const body = canonicalToOpenAIRequest({ ...request, stream: false }, { maxTokensField: maxTokensField(deployment) });
    const result = await this.completeNative(deployment, body, options);
    return { response: openAIResponseToCanonical(result.body), rawUsage: result.rawUsage, emulated: [] };
  }

  async stream(deployment: Deployment, request: CanonicalRequest, options: CallOptions): Promise<StreamHandle<CanonicalStreamEvent>> {
    this.checkParameters(request);
    const body = canonicalToOpenAIRequest({ ...request, stream: true }, { maxTokensField: maxTokensField(deployment) });
    const native = await this.streamNative(deployment, body, options);
    const converter = new OpenAIStreamToCanonical();
    async function* events(): AsyncGenerator<CanonicalStreamEvent> {
      for await (const event of native.events) yield* converter.push(event.data as OpenAIChunk);
      yield* converter.finish();
    }
    return { events: events(), usage: () => native.usage(), outputText: () => native.outputText(), emulated: [] };
  }

  async completeNative(deployment: Deployment, body: Record<string, unknown>, options: CallOptions): Promise<NativeCompletion> {
    const response = await this.post(deployment, '/chat/completions', { ...body, model: deployment.model }, options, false);
    const parsed = await readJson(response, deployment, options.signal);
    const usage = parsed.usage as OpenAIUsage | undefined;
    return { body: parsed, usage: usage ? reported(usage) : null, rawUsage: usage ?? null };
  }

  async streamNative(deployment: Deployment, body: Record<string, unknown>, options: CallOptions): Promise<StreamHandle<NativeStreamEvent>> {
    const streamOptions = typeof body.stream_options === 'object' && body.stream_options !== null ? body.stream_options : {};
    const upstreamBody = { ...body, model: deployment.model, stream: true, stream_options: { ...streamOptions, include_usage: true } };
    const response = await this.post(deployment, '/chat/completions', upstreamBody, options, true);
    if (!response.body) throw new UpstreamError('upstream_error', `deployment '${deployment.id}' sent an empty stream`, errorDetails(deployment));

    let usage: { usage: UsageRecord; raw: unknown } | null = null;
    let output = '';
    const signal = options.signal;
    const stream = response.body;
    async function* events(): AsyncGenerator<NativeStreamEvent> {
      let done = false;
      try {
        for await (const message of readServerSentEvents(stream)) {
          if (message.data === '[DONE]') {
            done = true;
            break;
          }
          const chunk = parseChunk(message.data, deployment);
          if ('error' in chunk && chunk.error) throw mapOpenAIStreamError(chunk.error, deployment);
          const typed = chunk as OpenAIChunk;
          if (typed.usage) usage = { usage: reported(typed.usage), raw: typed.usage };
          output += openAIChunkOutputText(typed);
          yield { data: typed, content: openAIChunkCarriesContent(typed) };
        }
      } catch (error) {
        throw mapStreamReadError(error, deployment, signal);
      }
      if (!done) {
        throw new UpstreamError('upstream_error', `deployment '${deployment.id}' closed the stream before [DONE]`, errorDetails(deployment));
      }
    }
    return { events: events(), usage: () => usage, outputText: () => output, emulated: [] };
  }

  async embed(deployment: Deployment, request: EmbeddingRequest, options: CallOptions): Promise<EmbeddingResult> {
    const response = await this.post(deployment, '/embeddings', { ...request.body, model: deployment.model }, options, false);
    const parsed = await readJson(response, deployment, options.signal);
    if (!Array.isArray(parsed.data)) {
      throw new UpstreamError('upstream_error', `deployment '${deployment.id}' returned embeddings without a data array`, errorDetails(deployment));
    }
    if (request.encodingFormat === 'base64') encodeMissingBase64(parsed.data as Array<Record<string, unknown>>);
    const usage = (parsed.usage ?? {}) as OpenAIUsage;
    return { body: parsed, usage: reported({ prompt_tokens: usage.prompt_tokens ?? 0, completion_tokens: 0 }), rawUsage: parsed.usage ?? null };
  }

  /** OpenAI serves every canonical parameter; nothing to reject or emulate. */
  private checkParameters(request: CanonicalRequest): void {
    if (request.n !== undefined && request.n > 1 && request.stream) {
      throw new GatewayError('unsupported_parameter', 'n > 1 cannot be streamed through a translated request; use n = 1.', { param: 'n' });
    }
  }

  private client(deployment: Deployment): OpenAI {
    const key = deployment.apiKey ? deployment.apiKey.read() : 'not-needed';
    const cached = this.clients.get(deployment.id);
    if (cached && cached.key === key) return cached.client;
    const client = new OpenAI({
      apiKey: key,
      baseURL: deployment.apiBase ?? defaultBaseUrl,
      maxRetries: 0,
      timeout: deployment.timeoutMs,
    });
    this.clients.set(deployment.id, { key, client });
    return client;
  }

  private async post(
    deployment: Deployment,
    path: string,
    body: Record<string, unknown>,
    options: CallOptions,
    stream: boolean,
  ): Promise<Response> {
    const client = this.client(deployment);
    try {
      return await client
        .post(path, { body, stream, signal: options.signal, timeout: options.timeoutMs, headers: options.headers, maxRetries: 0 })
        .asResponse();
    } catch (error) {
      throw mapOpenAIError(error, deployment, options.signal);
    }
  }
}

/** Map a read that fails mid-stream (socket reset, "terminated") to an upstream failure, not a bug. */
function mapStreamReadError(error: unknown, deployment: Deployment, signal: AbortSignal): unknown {
  const mapped = mapOpenAIError(error, deployment, signal);
  if (mapped instanceof GatewayError || signal.aborted) return mapped;
  return new UpstreamError(
    'upstream_error',
    `deployment '${deployment.id}' closed the connection before the response was complete (${error instanceof Error ? connectionFailureReason(error) : String(error)})`,
    { ...errorDetails(deployment), cause: error },
  );
}

function maxTokensField(deployment: Deployment): 'max_completion_tokens' | 'max_tokens' {
  return deployment.providerLabel === 'openai' && (deployment.apiBase === null || deployment.apiBase.includes('api.openai.com'))
    ? 'max_completion_tokens'
    : 'max_tokens';
}

function reported(usage: OpenAIUsage): UsageRecord {
  return { ...openAIUsageToCanonical(usage), source: 'reported' };
}

function errorDetails(deployment: Deployment): { provider: string; deployment: string } {
  return { provider: deployment.providerLabel, deployment: deployment.id };
}

async function readJson(response: Response, deployment: Deployment, signal: AbortSignal): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw mapOpenAIError(error, deployment, signal);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Fall through to the error below: the body is not JSON.
  }
  throw new UpstreamError('upstream_error', `deployment '${deployment.id}' returned a body that is not a JSON object`, {
    ...errorDetails(deployment),
    upstreamRequestId: response.headers.get('x-request-id'),
  });
}

function parseChunk(data: string, deployment: Deployment): OpenAIChunk & { error?: unknown } {
  try {
    const parsed: unknown = JSON.parse(data);
    if (typeof parsed === 'object' && parsed !== null) return parsed as OpenAIChunk & { error?: unknown };
  } catch {
    // Reported below as an invalid stream event.
  }
  throw new UpstreamError('upstream_error', `deployment '${deployment.id}' sent a stream event that is not JSON`, errorDetails(deployment));
}

/** Some OpenAI-compatible servers ignore encoding_format; encode their float arrays as OpenAI would. */
function encodeMissingBase64(data: Array<Record<string, unknown>>): void {
  for (const item of data) {
    if (Array.isArray(item.embedding)) {
      item.embedding = Buffer.from(new Float32Array(item.embedding as number[]).buffer).toString('base64');
    }
  }
}
