import { createParser, type EventSourceMessage } from 'eventsource-parser';

/**
 * Read Server-Sent Events from a response body. Bytes are decoded with a streaming decoder, so
 * a UTF-8 character split across network chunks survives, and eventsource-parser handles
 * `data:` without a space, comments, CRLF line endings and multi-line data.
 */
export async function* readServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<EventSourceMessage> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => pending.push(message) });
  const decoder = new TextDecoder('utf-8');
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      while (pending.length > 0) yield pending.shift()!;
    }
    parser.feed(decoder.decode());
    // A final event without its blank line is not complete; SSE drops it, and so does the parser.
    while (pending.length > 0) yield pending.shift()!;
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}
