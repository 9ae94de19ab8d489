import { UpstreamError } from '../../errors';
import { emptyUsage, type CanonicalRequest, type CanonicalStreamEvent, type CanonicalUsage } from '../../formats/canonical';
import { canonicalToAnthropicRequest } from '../../formats/anthropic-messages/request';
import { anthropicResponseToCanonical } from '../../formats/anthropic-messages/response';
import {
  AnthropicStreamToCanonical,
  anthropicEventCarriesContent,
  anthropicEventOutputText,
  type AnthropicStreamEvent,
} from '../../formats/anthropic-messages/stream';
import { anthropicPartialUsage, anthropicUsageToCanonical, type AnthropicUsage } from '../../formats/anthropic-messages/usage';
import { mergeUsage, type UsageRecord } from '../../usage/record';
import { readServerSentEvents } from '../sse';
import type { CallOptions, CanonicalCompletion, ChatProvider, Deployment, NativeCompletion, NativeStreamEvent, StreamHandle } from '../types';
import { errorDetails, mapAnthropicError, mapAnthropicStreamError } from './errors';
import { ResponseToolStream, responseToolToText, planAnthropicRequest } from './parameters';
import { AnthropicTransport, type AnthropicResponse } from './transport';

/** max_tokens sent when neither the request nor the model table gives one; Anthropic requires it. */
const fallbackMaxTokens = 4096;

/** Anthropic's Messages API, and servers that speak it. */
export class AnthropicProvider implements ChatProvider {
  readonly kind = 'anthropic' as const;
  readonly nativeFormat = 'anthropic-messages' as const;
  private readonly transport = new AnthropicTransport();

  async complete(deployment: Deployment, request: CanonicalRequest, options: CallOptions): Promise<CanonicalCompletion> {
    const plan = planAnthropicRequest(request, AnthropicTransport.versionFor(options));
    const body = canonicalToAnthropicRequest({ ...plan.request, stream: false }, { defaultMaxTokens: defaultMaxTokens(deployment) });
    const result = await this.completeNative(deployment, body, options);
    const response = anthropicResponseToCanonical(result.body);
    return {
      response: plan.responseTool ? responseToolToText(response, plan.responseTool) : response,
      rawUsage: result.rawUsage,
      emulated: plan.emulated,
    };
  }

  async stream(deployment: Deployment, request: CanonicalRequest, options: CallOptions): Promise<StreamHandle<CanonicalStreamEvent>> {
    const plan = planAnthropicRequest(request, AnthropicTransport.versionFor(options));
    const body = canonicalToAnthropicRequest({ ...plan.request, stream: true }, { defaultMaxTokens: defaultMaxTokens(deployment) });
    const native = await this.streamNative(deployment, body, options);
    const converter = new AnthropicStreamToCanonical();
    const responseTool = plan.responseTool ? new ResponseToolStream(plan.responseTool) : null;
    async function* events(): AsyncGenerator<CanonicalStreamEvent> {
      for await (const event of native.events) {
        for (const converted of converter.push(event.data as AnthropicStreamEvent)) yield responseTool ? responseTool.convert(converted) : converted;
      }
    }
    return { events: events(), usage: () => native.usage(), outputText: () => native.outputText(), emulated: plan.emulated };
  }

  /** Pass a Messages body through; only `model` is replaced, in place, so the key order stays the same. */
  async completeNative(deployment: Deployment, body: Record<string, unknown>, options: CallOptions): Promise<NativeCompletion> {
    const call = await this.transport.post(deployment, { ...body, model: deployment.model }, options, false);
    const message = await readMessage(call, deployment, options.signal);
    const usage = isObject(message.usage) ? (message.usage as AnthropicUsage) : null;
    return { body: message, usage: usage ? reported(anthropicUsageToCanonical(usage)) : null, rawUsage: usage };
  }

  /** Pass a count_tokens body through to POST /v1/messages/count_tokens. */
  async countTokensNative(deployment: Deployment, body: Record<string, unknown>, options: CallOptions): Promise<{ inputTokens: number }> {
    const call = await this.transport.post(deployment, { ...body, model: deployment.model }, options, false, '/v1/messages/count_tokens');
    const answer = await readMessage(call, deployment, options.signal, 'input_tokens');
    return { inputTokens: answer.input_tokens as number };
  }

  /**
   * Pass a streaming Messages body through. Besides `model`, `stream: true` is set when the body
   * lacks it. Usage: input and cache counts from message_start, cumulative output from the last
   * message_delta.
   */
  async streamNative(deployment: Deployment, body: Record<string, unknown>, options: CallOptions): Promise<StreamHandle<NativeStreamEvent>> {
    const upstreamBody = { ...body, model: deployment.model, ...(body.stream === true ? {} : { stream: true }) };
    const call = await this.transport.post(deployment, upstreamBody, options, true);
    const { response, deadline, requestId } = call;
    if (!response.body) {
      deadline.dispose();
      throw new UpstreamError('upstream_error', `deployment '${deployment.id}' sent an empty stream`, { ...errorDetails(deployment), upstreamRequestId: requestId });
    }

    const stream = response.body;
    const signal = options.signal;
    let usage: CanonicalUsage | null = null;
    let rawUsage: Record<string, unknown> | null = null;
    let output = '';

    async function* events(): AsyncGenerator<NativeStreamEvent> {
      let stopped = false;
      try {
        for await (const message of readServerSentEvents(stream)) {
          deadline.restart();
          const data = parseEventData(message.data, deployment, requestId);
          const name = message.event ?? String(data.type);
          if (name === 'error') throw mapAnthropicStreamError(data.error, deployment, requestId);
          if (data.type === 'message_start' && isObject(data.message) && isObject(data.message.usage)) {
            usage = anthropicUsageToCanonical(data.message.usage as AnthropicUsage);
            rawUsage = { ...data.message.usage };
          } else if (data.type === 'message_delta' && isObject(data.usage)) {
            usage = mergeUsage(usage ?? emptyUsage(), anthropicPartialUsage(data.usage as AnthropicUsage, usage));
            rawUsage = { ...rawUsage, ...withoutNulls(data.usage) };
          }
          output += anthropicEventOutputText(data as { type: string });
          yield { event: name, data, content: anthropicEventCarriesContent(data as { type: string }) };
          if (name === 'message_stop') {
            stopped = true;
            break;
          }
        }
      } catch (error) {
        throw mapAnthropicError(error, deployment, signal, deadline);
      } finally {
        deadline.dispose();
      }
      if (!stopped) {
        throw new UpstreamError('upstream_error', `deployment '${deployment.id}' ended the stream before message_stop`, {
          ...errorDetails(deployment),
          upstreamRequestId: requestId,
        });
      }
    }

    return {
      events: events(),
      usage: () => (usage ? { usage: reported(usage), raw: rawUsage } : null),
      outputText: () => output,
      emulated: [],
    };
  }
}

function defaultMaxTokens(deployment: Deployment): number {
  return deployment.modelInfo.maxOutputTokens ?? fallbackMaxTokens;
}

function reported(usage: CanonicalUsage): UsageRecord {
  return { ...usage, source: 'reported' };
}

/** Read a non-streaming response; the deadline bounds the body read as well as the headers. */
/** `expect` names what the body must have: a message's content array, or count_tokens' input_tokens. */
async function readMessage(
  call: AnthropicResponse,
  deployment: Deployment,
  signal: AbortSignal,
  expect: 'content' | 'input_tokens' = 'content',
): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await call.response.text();
  } catch (error) {
    throw mapAnthropicError(error, deployment, signal, call.deadline);
  } finally {
    call.deadline.dispose();
  }
  const parsed = parseJson(text);
  if (isObject(parsed) && (expect === 'content' ? Array.isArray(parsed.content) : typeof parsed.input_tokens === 'number')) return parsed;
  const what = expect === 'content' ? 'an Anthropic message' : 'a token count';
  throw new UpstreamError('upstream_error', `deployment '${deployment.id}' returned a body that is not ${what}`, {
    ...errorDetails(deployment),
    upstreamRequestId: call.requestId,
  });
}

function parseEventData(data: string, deployment: Deployment, requestId: string | null): Record<string, unknown> {
  const parsed = parseJson(data);
  if (isObject(parsed)) return parsed;
  throw new UpstreamError('upstream_error', `deployment '${deployment.id}' sent a stream event that is not a JSON object`, {
    ...errorDetails(deployment),
    upstreamRequestId: requestId,
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function withoutNulls(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== null && entry !== undefined));
}
