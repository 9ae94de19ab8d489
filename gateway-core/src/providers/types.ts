import type { CanonicalRequest, CanonicalResponse, CanonicalStreamEvent } from '../formats/canonical';
import type { DestinationClass, ModelInfo } from '../models/table';
import type { UsageRecord } from '../usage/record';

/** The inbound and provider wire formats the gateway speaks. */
export type WireFormat = 'openai-chat' | 'anthropic-messages';

export type ProviderKind = 'openai' | 'anthropic' | 'ollama';

/** A provider key, resolved lazily so that a missing one fails the first call, not start-up. */
export interface SecretRef {
  /** Where it comes from, safe to log: "os.environ/OPENAI_API_KEY", "config literal". */
  readonly source: string;
  /** Returns the secret, or throws a GatewayError naming the source when it is missing. */
  read(): string;
}

/** One concrete upstream target: a model_list entry. */
export interface Deployment {
  /** Stable id: "<alias>#<index in model_list>". */
  id: string;
  /** The model_name clients ask for. */
  alias: string;
  kind: ProviderKind;
  /** The provider prefix as written in the config ("openai", "hosted_vllm", "ollama_chat"). */
  providerLabel: string;
  /** The model id sent to the provider. */
  model: string;
  /** Base URL; OpenAI-style bases include /v1, Anthropic and Ollama bases are the server root. */
  apiBase: string | null;
  apiKey: SecretRef | null;
  /** Total time allowed for one call, in milliseconds. */
  timeoutMs: number;
  /** Time allowed until a stream's first event, in milliseconds; default `timeoutMs`. */
  firstByteTimeoutMs?: number;
  /** Weight and per-minute limits for load balancing; default weight 1, no limits. */
  limits?: { weight: number; rpm: number | null; tpm: number | null };
  destination: DestinationClass;
  modelInfo: ModelInfo;
}

/** Per-call options from the pipeline. */
export interface CallOptions {
  /** Aborts on client disconnect and on timeout. */
  signal: AbortSignal;
  timeoutMs: number;
  /** Extra request headers to forward to the provider (anthropic-version, anthropic-beta). */
  headers: Record<string, string>;
}

/** Parameters the provider served in a way other than passing them (named in x-airlock-emulated). */
export type EmulatedParams = string[];

export interface CanonicalCompletion {
  response: CanonicalResponse;
  /** The provider's usage JSON as it arrived. */
  rawUsage: unknown;
  emulated: EmulatedParams;
}

/** A provider stream; iterate `events`, then read `usage()` once it is done. */
export interface StreamHandle<E> {
  events: AsyncIterable<E>;
  /** Reported usage, or null if the provider sent none (the pipeline estimates then). */
  usage(): { usage: UsageRecord; raw: unknown } | null;
  /** All text and tool-argument output received so far, for estimating usage after an abort. */
  outputText(): string;
  emulated: EmulatedParams;
}

/** One event of a stream in the provider's own format. */
export interface NativeStreamEvent {
  /** SSE event name, where the format uses one (Anthropic). */
  event?: string;
  data: unknown;
  /** Whether this event carries content; the first one commits the stream to the client. */
  content: boolean;
}

export interface NativeCompletion {
  body: Record<string, unknown>;
  usage: UsageRecord | null;
  rawUsage: unknown;
}

export interface EmbeddingRequest {
  /** The OpenAI embeddings request body as the client sent it. */
  body: Record<string, unknown>;
  /** Inputs as strings (token-array inputs are passed only to OpenAI-format providers). */
  inputs: string[] | null;
  encodingFormat: 'float' | 'base64';
}

export interface EmbeddingResult {
  /** An OpenAI embeddings response honouring the requested encoding_format. */
  body: Record<string, unknown>;
  usage: UsageRecord;
  rawUsage: unknown;
}

/**
 * A provider adapter. The canonical methods serve requests whose inbound format differs from
 * `nativeFormat`; the native methods pass a body through when the formats match.
 */
export interface ChatProvider {
  readonly kind: ProviderKind;
  readonly nativeFormat: WireFormat | null;

  complete(deployment: Deployment, request: CanonicalRequest, options: CallOptions): Promise<CanonicalCompletion>;
  stream(deployment: Deployment, request: CanonicalRequest, options: CallOptions): Promise<StreamHandle<CanonicalStreamEvent>>;

  /** Pass a body in `nativeFormat` through; only the model name (and usage options) are edited. */
  completeNative?(deployment: Deployment, body: Record<string, unknown>, options: CallOptions): Promise<NativeCompletion>;
  streamNative?(deployment: Deployment, body: Record<string, unknown>, options: CallOptions): Promise<StreamHandle<NativeStreamEvent>>;

  embed?(deployment: Deployment, request: EmbeddingRequest, options: CallOptions): Promise<EmbeddingResult>;

  /** Count input tokens of a body in `nativeFormat` with the provider's own counter. */
  countTokensNative?(deployment: Deployment, body: Record<string, unknown>, options: CallOptions): Promise<{ inputTokens: number }>;
}
