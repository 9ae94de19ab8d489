import type { AbortableAsyncIterator, ChatResponse } from 'ollama';
import type { CanonicalRequest, CanonicalStreamEvent } from '../../formats/canonical';
import type {
  CallOptions,
  CanonicalCompletion,
  ChatProvider,
  Deployment,
  EmbeddingRequest,
  EmbeddingResult,
  StreamHandle,
} from '../types';
import { type OllamaCall, openOllamaCall } from './call';
import { embedWithOllama } from './embed';
import { rawUsage, toCanonicalResponse } from './response';
import type { OllamaChatPart } from './response';
import { OllamaStreamTranslator } from './stream';
import { toOllamaChatRequest } from './request';

export { embeddingToBase64 } from './embed';
export { toOllamaChatRequest } from './request';
export { OllamaStreamTranslator } from './stream';

/**
 * The Ollama provider: canonical requests over Ollama's native /api/chat and /api/embed,
 * through the official `ollama` package. There is no inbound Ollama surface yet, so no body is
 * passed through natively.
 */
export class OllamaProvider implements ChatProvider {
  readonly kind = 'ollama' as const;
  readonly nativeFormat = null;

  async complete(deployment: Deployment, request: CanonicalRequest, options: CallOptions): Promise<CanonicalCompletion> {
    const plan = toOllamaChatRequest({ ...request, model: deployment.model }, deployment.id);
    const call = openOllamaCall(deployment, options);
    let response: ChatResponse;
    try {
      response = await call.client.chat({ ...plan.body, stream: false });
    } catch (error) {
      throw call.translate(error);
    } finally {
      call.finish();
    }
    const canonical = toCanonicalResponse(response, deployment);
    return {
      response: canonical,
      rawUsage: canonical.usage ? rawUsage(response as OllamaChatPart) : null,
      emulated: plan.emulated,
    };
  }

  async stream(
    deployment: Deployment,
    request: CanonicalRequest,
    options: CallOptions,
  ): Promise<StreamHandle<CanonicalStreamEvent>> {
    const plan = toOllamaChatRequest({ ...request, model: deployment.model }, deployment.id);
    const call = openOllamaCall(deployment, options);
    let parts: AbortableAsyncIterator<ChatResponse>;
    try {
      // Resolves once the response headers arrived with a 2xx status, so a refused connection
      // or an HTTP error fails here, before any event.
      parts = await call.client.chat({ ...plan.body, stream: true });
    } catch (error) {
      call.finish();
      throw call.translate(error);
    }

    const translator = new OllamaStreamTranslator(deployment);
    return {
      events: streamEvents(parts, translator, call),
      usage: () => translator.usage(),
      outputText: () => translator.outputText(),
      emulated: plan.emulated,
    };
  }

  embed(deployment: Deployment, request: EmbeddingRequest, options: CallOptions): Promise<EmbeddingResult> {
    return embedWithOllama(deployment, request, options);
  }
}

/**
 * Reads the package's parsed NDJSON objects and yields canonical events. Only failures of the
 * upstream read are translated; an exception in the translation itself is a bug and stays one.
 * Leaving the loop early (the consumer stops, an error) aborts the HTTP request.
 */
async function* streamEvents(
  parts: AbortableAsyncIterator<ChatResponse>,
  translator: OllamaStreamTranslator,
  call: OllamaCall,
): AsyncGenerator<CanonicalStreamEvent> {
  // NOTE: ollama-js 0.6 skips an NDJSON line that is not valid JSON (with a console.warn)
  // instead of failing, so a garbled line loses its content without an error here.
  const iterator = parts[Symbol.asyncIterator]();
  let finished = false;
  try {
    yield translator.start();
    while (true) {
      let result: IteratorResult<ChatResponse>;
      try {
        result = await iterator.next();
      } catch (error) {
        throw call.translate(error);
      }
      if (result.done) break;
      yield* translator.push(result.value as OllamaChatPart);
    }
    yield* translator.finish();
    finished = true;
  } finally {
    if (!finished) parts.abort();
    call.finish();
  }
}
