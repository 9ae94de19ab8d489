import { Ollama } from 'ollama';
import { UpstreamError } from '../../errors';
import type { CallOptions, Deployment } from '../types';
import { DEFAULT_OLLAMA_HOST, PROVIDER, displayHost, toGatewayError } from './errors';

/** One call to an Ollama deployment: a client bound to the call's signal, and its deadline. */
export interface OllamaCall {
  client: Ollama;
  /** Translates a failure of the call: the caller's abort reason as it is, else a GatewayError. */
  translate(error: unknown): unknown;
  /** Clears the deadline timer. Call it once the response or stream is finished. */
  finish(): void;
}

/**
 * Opens a call. ollama-js has no retries and no timeout, and it passes no signal at all for
 * non-streaming requests, so every request goes through a fetch that also listens to the
 * caller's signal and to a deadline of `options.timeoutMs`. The deadline is kept here even
 * though the pipeline's signal may carry its own timeout, so that an expired call is always
 * reported as upstream_timeout.
 */
export function openOllamaCall(deployment: Deployment, options: CallOptions): OllamaCall {
  // Read first: a missing key throws here, before a timer exists.
  const headers: Record<string, string> = {};
  if (deployment.apiKey) headers.Authorization = `Bearer ${deployment.apiKey.read()}`;

  const deadline = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  if (Number.isFinite(options.timeoutMs) && options.timeoutMs > 0) {
    timer = setTimeout(() => {
      deadline.abort(
        new UpstreamError(
          'upstream_timeout',
          `Ollama deployment '${deployment.id}' at ${displayHost(deployment)} did not finish within ${options.timeoutMs} ms`,
          { provider: PROVIDER, deployment: deployment.id },
        ),
      );
    }, options.timeoutMs);
    // An abandoned stream handle must not keep the process alive until the deadline.
    timer.unref();
  }
  const callSignal = AbortSignal.any([options.signal, deadline.signal]);

  const fetchForCall: typeof fetch = (input, init = {}) => {
    const signal = init.signal ? AbortSignal.any([callSignal, init.signal]) : callSignal;
    return fetch(input, { ...init, signal });
  };

  const client = new Ollama({ host: deployment.apiBase ?? DEFAULT_OLLAMA_HOST, fetch: fetchForCall, headers });

  return {
    client,
    translate(error) {
      if (options.signal.aborted) return options.signal.reason ?? error;
      if (deadline.signal.aborted) return deadline.signal.reason;
      return toGatewayError(error, deployment);
    },
    finish() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
