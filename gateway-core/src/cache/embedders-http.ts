/**
 * Embedders that call a server: Ollama's /api/embed and any OpenAI-compatible /v1/embeddings
 * endpoint. Both return L2-normalised vectors and raise EmbedderError with the URL, status and
 * the server's own message.
 */
import { assertTexts, EmbedderError, normalizeInPlace, type Embedder, type EmbedderErrorKind } from './embedders';

export interface HttpEmbedderOptions {
  /** Server root for Ollama ("http://127.0.0.1:11434"); the /v1 root for OpenAI-compatible servers. */
  baseUrl: string;
  model: string;
  /** Timeout for the whole request, response body included, in milliseconds. Default 30000. */
  timeoutMs?: number;
  /** Expected vector length; when unset, the first response sets it. */
  dimensions?: number;
  /** Sent as "Authorization: Bearer <apiKey>". */
  apiKey?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

const DEFAULT_TIMEOUT_MS = 30_000;

abstract class HttpEmbedder implements Embedder {
  abstract readonly name: string;
  readonly version: string;
  protected readonly baseUrl: string;
  protected readonly model: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private knownDimensions: number | undefined;

  constructor(options: HttpEmbedderOptions, label: string) {
    this.baseUrl = parseBaseUrl(options.baseUrl, label);
    if (typeof options.model !== 'string' || options.model.trim() === '') {
      throw new TypeError(`${label} embedder: model is missing; set the embedding model name.`);
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`${label} embedder: invalid timeoutMs ${timeoutMs}; expected a positive number of milliseconds.`);
    }
    if (options.dimensions !== undefined && (!Number.isInteger(options.dimensions) || options.dimensions <= 0)) {
      throw new RangeError(`${label} embedder: invalid dimensions ${options.dimensions}; expected a positive integer.`);
    }
    this.model = options.model;
    this.version = options.model;
    this.timeoutMs = timeoutMs;
    this.knownDimensions = options.dimensions;
    this.headers = { 'content-type': 'application/json', accept: 'application/json', ...options.headers };
    if (options.apiKey !== undefined && options.apiKey !== '') this.headers.authorization = `Bearer ${options.apiKey}`;
  }

  get dimensions(): number | undefined {
    return this.knownDimensions;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    assertTexts(this.name, texts);
    if (texts.length === 0) return [];

    const url = this.endpoint();
    const body = await this.post(url, this.requestBody(texts));
    const rows = this.readVectors(body, url);
    return this.toVectors(rows, texts.length, url);
  }

  protected abstract endpoint(): string;
  protected abstract requestBody(texts: readonly string[]): unknown;
  /** Returns the raw vectors in input order, or throws invalid_response. */
  protected abstract readVectors(body: unknown, url: string): unknown[];
  /** Returns the server's error message from an error body, when it has one. */
  protected abstract errorMessage(body: unknown): string | undefined;

  protected invalidResponse(url: string, detail: string): EmbedderError {
    return new EmbedderError(this.name, 'invalid_response', `${this.name} embedder: invalid response from POST ${url}: ${detail}.`);
  }

  private async post(url: string, payload: unknown): Promise<unknown> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: this.headers,
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
        throw new EmbedderError(
          this.name,
          'timeout',
          `${this.name} embedder: POST ${url} timed out after ${this.timeoutMs} ms; check that the server is up or raise timeoutMs.`,
          undefined,
          { cause: error },
        );
      }
      const reason = describeNetworkError(error);
      throw new EmbedderError(
        this.name,
        'network',
        `${this.name} embedder: POST ${url} failed (${reason}); check baseUrl and that the server is running.`,
        undefined,
        { cause: error },
      );
    }

    const parsed = parseJson(text);
    if (!response.ok) {
      const serverMessage = this.errorMessage(parsed) ?? excerpt(text);
      throw new EmbedderError(
        this.name,
        'http_status',
        `${this.name} embedder: POST ${url} returned HTTP ${response.status} for model "${this.model}": ${serverMessage}`,
        response.status,
      );
    }
    if (parsed === undefined) throw this.invalidResponse(url, `body is not JSON: ${excerpt(text)}`);
    return parsed;
  }

  private toVectors(rows: unknown[], expectedCount: number, url: string): Float32Array[] {
    if (rows.length !== expectedCount) {
      throw this.invalidResponse(url, `expected ${expectedCount} embeddings, received ${rows.length}`);
    }

    const vectors = rows.map((row, position) => {
      if (!Array.isArray(row) || row.length === 0) {
        throw this.invalidResponse(url, `embedding ${position} is not a non-empty array of numbers`);
      }
      const vector = new Float32Array(row.length);
      row.forEach((value, index) => {
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          throw this.invalidResponse(url, `embedding ${position} has a non-numeric value at index ${index}`);
        }
        vector[index] = value;
      });
      return normalizeInPlace(vector);
    });

    const length = vectors[0]?.length ?? 0;
    if (vectors.some((vector) => vector.length !== length)) {
      throw this.invalidResponse(url, 'embeddings have different lengths');
    }
    if (this.knownDimensions !== undefined && length !== this.knownDimensions) {
      throw this.invalidResponse(url, `expected ${this.knownDimensions} dimensions, received ${length}`);
    }
    this.knownDimensions = length;
    return vectors;
  }
}

/** Embedder for Ollama's native POST /api/embed (Ollama 0.3.4 and later). */
export class OllamaEmbedder extends HttpEmbedder {
  readonly name = 'ollama';

  constructor(options: HttpEmbedderOptions) {
    super(options, 'ollama');
  }

  protected endpoint(): string {
    return `${this.baseUrl}/api/embed`;
  }

  protected requestBody(texts: readonly string[]): unknown {
    return { model: this.model, input: texts };
  }

  protected readVectors(body: unknown, url: string): unknown[] {
    const embeddings = isRecord(body) ? body.embeddings : undefined;
    if (!Array.isArray(embeddings)) throw this.invalidResponse(url, 'field "embeddings" is missing or not an array');
    return embeddings;
  }

  protected errorMessage(body: unknown): string | undefined {
    return isRecord(body) && typeof body.error === 'string' ? body.error : undefined;
  }
}

/** Embedder for POST /embeddings on any server that speaks the OpenAI Embeddings API. */
export class OpenAICompatibleEmbedder extends HttpEmbedder {
  readonly name = 'openai-compatible';

  constructor(options: HttpEmbedderOptions) {
    super(options, 'openai-compatible');
  }

  protected endpoint(): string {
    return `${this.baseUrl}/embeddings`;
  }

  protected requestBody(texts: readonly string[]): unknown {
    return { model: this.model, input: texts, encoding_format: 'float' };
  }

  protected readVectors(body: unknown, url: string): unknown[] {
    const data = isRecord(body) ? body.data : undefined;
    if (!Array.isArray(data)) throw this.invalidResponse(url, 'field "data" is missing or not an array');

    // The API returns an index per item; servers are not required to keep input order.
    const rows: unknown[] = new Array(data.length);
    const seen = new Set<number>();
    data.forEach((item, position) => {
      const index = isRecord(item) && item.index !== undefined ? item.index : position;
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= data.length || seen.has(index)) {
        throw this.invalidResponse(url, `data[${position}].index is missing, out of range or repeated`);
      }
      if (!isRecord(item) || !('embedding' in item)) {
        throw this.invalidResponse(url, `data[${position}].embedding is missing`);
      }
      if (typeof item.embedding === 'string') {
        throw this.invalidResponse(url, `data[${position}].embedding is base64; the server ignored encoding_format "float"`);
      }
      seen.add(index);
      rows[index] = item.embedding;
    });
    return rows;
  }

  protected errorMessage(body: unknown): string | undefined {
    if (!isRecord(body)) return undefined;
    const error = body.error;
    if (typeof error === 'string') return error;
    if (isRecord(error) && typeof error.message === 'string') return error.message;
    return undefined;
  }
}


function parseBaseUrl(value: string, label: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${label} embedder: invalid baseUrl ${JSON.stringify(value)}; expected an http or https URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`${label} embedder: invalid baseUrl ${JSON.stringify(value)}; expected an http or https URL.`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new TypeError(`${label} embedder: baseUrl ${JSON.stringify(value)} must not contain a query or fragment.`);
  }
  return url.toString().replace(/\/+$/, '');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat === '') return '(empty body)';
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

function describeNetworkError(error: unknown): string {
  // undici reports "fetch failed" and puts the socket error (ECONNREFUSED, ENOTFOUND) in cause.
  const cause = error instanceof Error ? error.cause : undefined;
  if (isRecord(cause) && typeof cause.code === 'string') return cause.code;
  if (error instanceof Error) return error.message;
  return String(error);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
