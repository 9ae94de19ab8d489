/**
 * Text embedders for the semantic cache. Every embedder returns one L2-normalised Float32Array
 * per input text, so that cosine similarity is a dot product. A cache entry must record the
 * embedder's name, version and dimensions, because vectors of different embedders do not compare.
 */

export interface Embedder {
  /** Kind of embedder: "hashed-ngrams", "ollama" or "openai-compatible". */
  readonly name: string;
  /** Model and parameters; vectors compare only within one name and version. */
  readonly version: string;
  /** Vector length, or undefined for an HTTP embedder before its first response. */
  readonly dimensions: number | undefined;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

export type EmbedderErrorKind = 'invalid_input' | 'timeout' | 'network' | 'http_status' | 'invalid_response';

export class EmbedderError extends Error {
  override readonly name = 'EmbedderError';

  constructor(
    readonly embedder: string,
    readonly kind: EmbedderErrorKind,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---------------------------------------------------------------------------------------------
// Built-in embedder: hashed word and character n-gram features
// ---------------------------------------------------------------------------------------------

export interface HashedNgramOptions {
  /** Vector length; a power of two is not required. Default 1024. */
  dimensions?: number;
  /** Character n-gram sizes taken inside each word. Default [3, 4]. */
  ngramSizes?: readonly number[];
}

// Function words carry no topic, and in short prompts they would dominate the vector
// ("how do I ... in ..."). English negations are kept as features; Vietnamese "không" and
// "chưa" are dropped because they also end yes/no questions. The lexical check counts negations.
const STOPWORDS = new Set([
  'a', 'an', 'the', 'of', 'to', 'in', 'on', 'for', 'with', 'by', 'at', 'from', 'into', 'onto',
  'is', 'are', 'was', 'were', 'be', 'been', 'being', 'am', 'do', 'does', 'did', 'done', 'doing',
  'how', 'what', 'why', 'when', 'where', 'which', 'who', 'whom', 'whose', 'can', 'could',
  'should', 'would', 'will', 'shall', 'may', 'might', 'must', 'i', 'me', 'my', 'mine', 'we',
  'us', 'our', 'you', 'your', 'it', 'its', 'this', 'that', 'these', 'those', 'there', 'here',
  'and', 'or', 'but', 'if', 'then', 'so', 'as', 'about', 'than', 'too', 'very', 'just', 'please',
  'help', 'need', 'want', 'get', 'got', 'make', 'use', 'using', 'way', 'best', 'correct',
  'correctly', 'proper', 'properly', 'some', 'any', 'all', 'each', 'also', 'there', 'have',
  'has', 'had', 'having', 'let', 'lets', 'tell', 'explain', 'show', 'give', 'write', 'code',
  'example', 'thing', 'something', 'anyone', 'someone', 'possible', 'hey', 'hi', 'thanks',
  "what's", "how's", "i'm", "i've", "it's", "let's", 'whats', 'im', 'ive',
  // Vietnamese syllables that frame a question rather than name its topic.
  'tôi', 'mình', 'bạn', 'em', 'anh', 'làm', 'sao', 'thế', 'nào', 'như', 'để', 'của', 'và', 'là',
  'có', 'cho', 'với', 'trong', 'này', 'đó', 'được', 'một', 'các', 'những', 'thì', 'mà', 'ơi',
  'giúp', 'hãy', 'vậy', 'gì', 'nhé', 'ạ', 'ở', 'khi', 'cách', 'nên', 'bị', 'vào', 'ra', 'lại',
  'đang', 'đã', 'sẽ', 'rồi', 'cần', 'muốn', 'dùng', 'sử', 'dụng', 'hỏi', 'ví', 'dụ',
  'thích', 'nhỉ', 'không', 'chưa',
]);

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Returns the 32-bit FNV-1a hash of a string's UTF-16 code units, started from a seed. */
function hashString(text: string, seed: number): number {
  let hash = (FNV_OFFSET ^ seed) >>> 0;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, FNV_PRIME);
  }
  // FNV-1a mixes the last characters weakly into the high bits, and those pick the sign.
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x2c1b3c6d);
  hash ^= hash >>> 12;
  return hash >>> 0;
}

const WORD_SEED = 0x9e3779b9;
const NGRAM_SEED = 0x85ebca6b;

/**
 * Splits text into lower-cased words. camelCase and snake_case names also give their parts, so
 * that "getUserById" and "get user by id" share features.
 */
export function tokenizeForEmbedding(text: string): string[] {
  const words: string[] = [];
  const normalized = text.normalize('NFC').replace(/[’‘ʼ]/g, "'");

  for (const match of normalized.matchAll(/[\p{L}\p{N}_']+/gu)) {
    const raw = match[0].replace(/^'+|'+$/g, '');
    if (raw === '') continue;
    const parts = raw
      .replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2')
      .split(/[_\s]+/)
      .filter((part) => part !== '');
    const lower = raw.toLowerCase();
    words.push(lower);
    if (parts.length > 1) {
      for (const part of parts) words.push(part.toLowerCase());
    }
  }

  return words.filter((word) => !STOPWORDS.has(word));
}

/**
 * Offline embedder that needs no model: signed feature hashing of whole words and of character
 * n-grams inside words. It captures shared wording and spelling variants but no meaning, so a
 * paraphrase with other words scores low; its threshold has to be set from measurements.
 */
export class HashedNgramEmbedder implements Embedder {
  readonly name = 'hashed-ngrams';
  readonly version: string;
  readonly dimensions: number;
  private readonly ngramSizes: readonly number[];

  constructor(options: HashedNgramOptions = {}) {
    const dimensions = options.dimensions ?? 1024;
    if (!Number.isInteger(dimensions) || dimensions < 16 || dimensions > 65_536) {
      throw new RangeError(`Invalid dimensions ${dimensions}: expected an integer from 16 to 65536.`);
    }
    const ngramSizes = options.ngramSizes ?? [3, 4];
    if (ngramSizes.length === 0 || ngramSizes.some((size) => !Number.isInteger(size) || size < 2 || size > 8)) {
      throw new RangeError(`Invalid ngramSizes [${ngramSizes.join(', ')}]: expected integers from 2 to 8.`);
    }
    this.dimensions = dimensions;
    this.ngramSizes = [...ngramSizes];
    this.version = `1;dim=${dimensions};n=${this.ngramSizes.join(',')}`;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    assertTexts(this.name, texts);
    return texts.map((text) => this.embedOne(text));
  }

  /** Embeds one text synchronously; the vector is all zeros when the text has no content word. */
  embedOne(text: string): Float32Array {
    const vector = new Float32Array(this.dimensions);
    const counts = new Map<string, number>();
    for (const word of tokenizeForEmbedding(text)) counts.set(word, (counts.get(word) ?? 0) + 1);

    for (const [word, count] of counts) {
      // Sublinear term frequency, so a word repeated in a long prompt does not take over.
      const weight = 1 + Math.log(count);
      this.addFeature(vector, hashString(word, WORD_SEED), weight);

      // A word's n-grams share one unit of weight, so long words do not outweigh short ones.
      const padded = `<${word}>`;
      const ngrams: string[] = [];
      for (const size of this.ngramSizes) {
        for (let start = 0; start + size <= padded.length; start += 1) ngrams.push(padded.slice(start, start + size));
      }
      for (const ngram of ngrams) this.addFeature(vector, hashString(ngram, NGRAM_SEED), weight / ngrams.length);
    }

    return normalizeInPlace(vector);
  }

  private addFeature(vector: Float32Array, hash: number, weight: number): void {
    const index = hash % this.dimensions;
    const sign = hash & 0x80000000 ? -1 : 1;
    vector[index] = (vector[index] ?? 0) + sign * weight;
  }
}

/** Scales a vector to unit length in place; a zero vector stays zero. */
export function normalizeInPlace(vector: Float32Array): Float32Array {
  let sumOfSquares = 0;
  for (const value of vector) sumOfSquares += value * value;
  if (sumOfSquares === 0) return vector;
  const scale = 1 / Math.sqrt(sumOfSquares);
  for (let index = 0; index < vector.length; index += 1) vector[index] = (vector[index] ?? 0) * scale;
  return vector;
}

// ---------------------------------------------------------------------------------------------
// HTTP embedders
// ---------------------------------------------------------------------------------------------

export function assertTexts(embedder: string, texts: readonly string[]): void {
  if (!Array.isArray(texts)) {
    throw new EmbedderError(embedder, 'invalid_input', `${embedder} embedder: texts must be an array of strings.`);
  }
  texts.forEach((text, index) => {
    if (typeof text !== 'string') {
      throw new EmbedderError(embedder, 'invalid_input', `${embedder} embedder: texts[${index}] is ${typeof text}, expected a string.`);
    }
  });
}
