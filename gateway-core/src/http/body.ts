import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { GatewayError } from '../errors';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Read and parse a JSON body. Over the limit is 413 (checked on Content-Length first, then while
 * reading); bytes that are not UTF-8 and text that is not JSON are 400 with param null.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);

  // The limit applies to the decoded body, so a small compressed body cannot expand without bound.
  const source = decodedBody(req);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw tooLarge(maxBytes);
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw new GatewayError('invalid_json', `The request body could not be decoded as ${req.headers['content-encoding'] ?? 'sent'}: ${(error as Error).message}.`);
  } finally {
    if (source !== req) source.destroy();
  }
  if (size === 0) {
    throw new GatewayError('invalid_json', 'The request body is empty; send a JSON object with Content-Type: application/json.');
  }
  let text: string;
  try {
    text = utf8.decode(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  } catch {
    throw new GatewayError('invalid_json', 'The request body is not valid UTF-8; encode the JSON body as UTF-8.');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new GatewayError(
      'invalid_json',
      `We could not parse the JSON body of your request (${(error as Error).message}). Send a valid JSON object.`,
    );
  }
}

/** The body stream, decompressed for Content-Encoding gzip, deflate or br. */
function decodedBody(req: IncomingMessage): Readable {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  switch (encoding) {
    case 'identity':
      return req;
    case 'gzip':
    case 'x-gzip':
      return req.pipe(createGunzip());
    case 'deflate':
      return req.pipe(createInflate());
    case 'br':
      return req.pipe(createBrotliDecompress());
    default:
      throw new GatewayError('invalid_value', `Content-Encoding '${encoding}' is not supported; send the body uncompressed or as gzip, deflate or br.`);
  }
}

function tooLarge(maxBytes: number): GatewayError {
  return new GatewayError(
    'request_too_large',
    `The request body is larger than the limit of ${maxBytes} bytes; send less content or raise airlock.max_body_bytes.`,
    { headers: { connection: 'close' } },
  );
}
