import { describe, expect, it } from 'vitest';
import { personalDetectors } from '../src/guard/detectors/personal/index';
import { secretDetectors } from '../src/guard/detectors/secrets/index';
import { collectAnthropicMessagesParts, collectOpenAIChatParts, type TextPart } from '../src/guard/parts';
import { createRestorer, encodeJsonStringContent, placeholderType, redactParts, restoreText } from '../src/guard/redact';
import { redactResponseBody, restoreResponseBody } from '../src/guard/restore';
import { createScanner } from '../src/guard/scanner';
import type { Finding } from '../src/guard/types';

/** Creates a standalone part that records the text applied to it. */
function textPart(text: string): TextPart & { applied: string | null } {
  const part = {
    location: { path: 'test', messageIndex: 0, role: 'user' },
    text,
    applied: null as string | null,
    apply(newText: string) {
      part.applied = newText;
    },
  };
  return part;
}

/** Findings of `type` at every occurrence of each value in `text`. */
function findingsOf(text: string, type: string, values: string[]): Finding[] {
  const findings: Finding[] = [];
  for (const value of values) {
    let start = text.indexOf(value);
    while (start >= 0) {
      findings.push({ type, category: 'personal', confidence: 1, start, end: start + value.length });
      start = text.indexOf(value, start + value.length);
    }
  }
  return findings.sort((left, right) => left.start - right.start);
}

describe('redactParts', () => {
  it('numbers placeholders per type and reuses them for repeats', () => {
    const first = textPart('to alice@example.com and bob@example.org, cc alice@example.com');
    const second = textPart('call 0912 345 678 or bob@example.org');
    const mapping = redactParts(
      [first, second],
      [
        findingsOf(first.text, 'email', ['alice@example.com', 'bob@example.org']),
        [...findingsOf(second.text, 'phone_number', ['0912 345 678']), ...findingsOf(second.text, 'email', ['bob@example.org'])],
      ],
    );
    expect(first.applied).toBe('to [EMAIL_1] and [EMAIL_2], cc [EMAIL_1]');
    expect(second.applied).toBe('call [PHONE_NUMBER_1] or [EMAIL_2]');
    expect([...mapping]).toEqual([
      ['[EMAIL_1]', 'alice@example.com'],
      ['[EMAIL_2]', 'bob@example.org'],
      ['[PHONE_NUMBER_1]', '0912 345 678'],
    ]);
  });

  it('leaves parts without findings untouched', () => {
    const part = textPart('nothing here');
    expect(redactParts([part], [[]]).size).toBe(0);
    expect(part.applied).toBeNull();
  });

  it('skips numbers already used literally', () => {
    const part = textPart('earlier output [EMAIL_1] and [EMAIL_3]; new alice@example.com, bob@example.org');
    const mapping = redactParts([part], [findingsOf(part.text, 'email', ['alice@example.com', 'bob@example.org'])]);
    expect(part.applied).toBe('earlier output [EMAIL_1] and [EMAIL_3]; new [EMAIL_2], [EMAIL_4]');
    expect([...mapping.keys()]).toEqual(['[EMAIL_2]', '[EMAIL_4]']);
  });

  it('rejects overlapping or out-of-range findings', () => {
    const part = textPart('0123456789');
    const finding = (start: number, end: number): Finding => ({ type: 'x', category: 'secret', confidence: 1, start, end });
    expect(() => redactParts([part], [[finding(0, 5), finding(4, 8)]])).toThrow('must lie inside the text and not overlap');
    expect(() => redactParts([part], [[finding(5, 11)]])).toThrow('invalid finding x at 5-11');
    expect(() => redactParts([part], [])).toThrow('one findings list per part');
    expect(part.applied).toBeNull();
  });

  it('builds type names for placeholders', () => {
    expect(placeholderType('postgres_uri')).toBe('POSTGRES_URI');
    expect(placeholderType('code-name.v2')).toBe('CODE_NAME_V2');
    expect(placeholderType('--')).toBe('VALUE');
  });
});

const mapping = new Map([
  ['[EMAIL_1]', 'alice@example.com'],
  ['[EMAIL_12]', 'carol@example.net'],
  ['[POSTGRES_URI_1]', 'S3cr%40t!pw'],
]);

/** Pushes the chunks through a new restorer and returns all output, flush included. */
function restoreChunks(chunks: string[]): string {
  const restorer = createRestorer(mapping);
  return chunks.map((chunk) => restorer.push(chunk)).join('') + restorer.flush();
}

describe('restorer', () => {
  const response = 'Hi [EMAIL_1], your password [POSTGRES_URI_1] for [EMAIL_12] and [EMAIL_2] stays [x]';
  const expected = 'Hi alice@example.com, your password S3cr%40t!pw for carol@example.net and [EMAIL_2] stays [x]';

  it('restores a complete text', () => {
    expect(restoreText(response, mapping)).toBe(expected);
  });

  it('restores across every cut into two chunks', () => {
    for (let cut = 0; cut <= response.length; cut++) {
      expect(restoreChunks([response.slice(0, cut), response.slice(cut)]), `cut at ${cut}`).toBe(expected);
    }
  });

  it('restores across every cut into three chunks', () => {
    for (let first = 0; first <= response.length; first++) {
      for (let second = first; second <= response.length; second++) {
        const chunks = [response.slice(0, first), response.slice(first, second), response.slice(second)];
        expect(restoreChunks(chunks), `cuts at ${first} and ${second}`).toBe(expected);
      }
    }
  });

  it('restores one character at a time', () => {
    expect(restoreChunks([...response])).toBe(expected);
  });

  it('holds only a possible placeholder start', () => {
    const restorer = createRestorer(mapping);
    expect(restorer.push('see [link](x) and array[0] or [E')).toBe('see [link](x) and array[0] or ');
    expect(restorer.push('ND]')).toBe('[END]');
    expect(restorer.push('mail [EMAIL_1')).toBe('mail ');
    expect(restorer.push('')).toBe('');
    expect(restorer.push('] ok')).toBe('alice@example.com ok');
    expect(restorer.push('[EMAIL_12')).toBe('');
    expect(restorer.push('3]')).toBe('[EMAIL_123]');
    expect(restorer.push('[email_1]')).toBe('[email_1]');
  });

  it('flushes a trailing partial placeholder', () => {
    const restorer = createRestorer(mapping);
    expect(restorer.push('cut off [EMAIL_')).toBe('cut off ');
    expect(restorer.flush()).toBe('[EMAIL_');
    expect(restorer.flush()).toBe('');
  });

  it('passes everything through with an empty mapping', () => {
    const restorer = createRestorer(new Map());
    expect(restorer.push('[EMAIL_1')).toBe('[EMAIL_1');
    expect(restorer.push('] [')).toBe('] [');
    expect(restorer.flush()).toBe('');
  });

  it('leaves unknown placeholders alone', () => {
    expect(restoreText('[EMAIL_2] [PHONE_NUMBER_1] [EMAIL_1 ] [[EMAIL_1]]', mapping)).toBe(
      '[EMAIL_2] [PHONE_NUMBER_1] [EMAIL_1 ] [alice@example.com]',
    );
  });

  it('encodes originals for JSON string content', () => {
    const quoted = new Map([['[GENERIC_PASSWORD_1]', 'a"b\\c']]);
    const restorer = createRestorer(quoted, { encode: encodeJsonStringContent });
    const json = `{"password":"${restorer.push('[GENERIC_PASS')}${restorer.push('WORD_1]"}')}${restorer.flush()}`;
    expect(JSON.parse(json)).toEqual({ password: 'a"b\\c' });
  });
});

describe('redaction round trip', () => {
  const scanner = createScanner({ detectors: [...secretDetectors, ...personalDetectors] });
  const email = 'alice@example.com';
  const password = 'S3cr%40t!pw';
  const connection = `postgres://app:${password}@db.internal.example.com:5432/orders`;

  /** Scans and redacts the parts in place, as the guard does for a redact action. */
  function redactBody(parts: TextPart[]): Map<string, string> {
    return redactParts(parts, parts.map((part) => scanner.scan(part.text)));
  }

  it('round-trips an OpenAI chat body', () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: `Escalate to ${email}.` },
        { role: 'user', content: [{ type: 'text', text: `Why does ${connection} fail? Ask ${email}.` }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'mail', arguments: JSON.stringify({ to: email }) } }] },
        { role: 'tool', tool_call_id: 'c1', content: `sent to ${email}` },
      ],
      tools: [{ type: 'function', function: { name: 'mail', description: `Sends mail from ${email}`, parameters: { type: 'object' } } }],
    };
    const mapping = redactBody(collectOpenAIChatParts(body));
    const sent = JSON.stringify(body);

    expect(sent).not.toContain(email);
    expect(sent).not.toContain(password);
    expect(body.messages[1]!.content).toEqual([{ type: 'text', text: 'Why does postgres://app:[POSTGRES_URI_1]@db.internal.example.com:5432/orders fail? Ask [EMAIL_1].' }]);
    expect(JSON.parse(body.messages[2]!.tool_calls![0]!.function.arguments)).toEqual({ to: '[EMAIL_1]' });
    expect([...mapping]).toEqual([['[EMAIL_1]', email], ['[POSTGRES_URI_1]', password]]);

    const reply = 'I wrote to [EMAIL_1]; the password [POSTGRES_URI_1] is URL-encoded.';
    const restored = 'I wrote to alice@example.com; the password S3cr%40t!pw is URL-encoded.';
    expect(restoreText(reply, mapping)).toBe(restored);
    const restorer = createRestorer(mapping);
    const streamed = reply.match(/.{1,4}/gs)!.map((chunk) => restorer.push(chunk)).join('') + restorer.flush();
    expect(streamed).toBe(restored);
  });

  it('round-trips an Anthropic messages body', () => {
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 256,
      system: [{ type: 'text', text: `Support contact: ${email}` }],
      messages: [
        { role: 'user', content: `DATABASE_URL=${connection}` },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'query', input: { dsn: connection, notify: [email], retries: 3 } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: `login failed for ${email}` }] }] },
      ],
      tools: [{ name: 'query', description: `Owner ${email}`, input_schema: { type: 'object', properties: { dsn: { type: 'string' } } } }],
    };
    const mapping = redactBody(collectAnthropicMessagesParts(body));
    const sent = JSON.stringify(body);

    expect(sent).not.toContain(email);
    expect(sent).not.toContain(password);
    expect(body.messages[1]!.content[1]).toEqual({
      type: 'tool_use',
      id: 'toolu_1',
      name: 'query',
      input: { dsn: 'postgres://app:[POSTGRES_URI_1]@db.internal.example.com:5432/orders', notify: ['[EMAIL_1]'], retries: 3 },
    });
    expect(body.system[0]!.text).toBe('Support contact: [EMAIL_1]');

    const reply = 'Reset the password [POSTGRES_URI_1] and tell [EMAIL_1].';
    const restorer = createRestorer(mapping);
    const streamed = reply.match(/.{1,3}/gs)!.map((chunk) => restorer.push(chunk)).join('') + restorer.flush();
    expect(streamed).toBe(`Reset the password ${password} and tell ${email}.`);
  });
});

describe('redactResponseBody', () => {
  const mapping = new Map([
    ['[EMAIL_1]', 'lan@acme.io'],
    ['[BUILD_PATH_1]', 'C:\\builds\\alpha'],
    ['[CODENAME_1]', 'Bluebird'],
    ['[CODENAME_2]', 'Bluebird Two'],
  ]);

  it('puts placeholders back into text', () => {
    const body = { choices: [{ message: { content: 'Mailed lan@acme.io about Bluebird Two and Bluebird.' } }] };
    redactResponseBody(body, mapping);
    expect(body.choices[0]!.message.content).toBe('Mailed [EMAIL_1] about [CODENAME_2] and [CODENAME_1].');
  });

  it('replaces JSON-escaped values in arguments', () => {
    const args = JSON.stringify({ path: 'C:\\builds\\alpha', to: ['lan@acme.io'] });
    const body = { message: { tool_calls: [{ function: { name: 'archive', arguments: args } }] } };
    redactResponseBody(body, mapping);
    expect(JSON.parse(body.message.tool_calls[0]!.function.arguments)).toEqual({ path: '[BUILD_PATH_1]', to: ['[EMAIL_1]'] });
  });

  it('keeps arguments without a value unchanged', () => {
    const args = '{ "path": "D:\\\\other" }';
    const body = { function: { arguments: args } };
    redactResponseBody(body, mapping);
    expect(body.function.arguments).toBe(args);
  });

  it('replaces escaped values in invalid arguments', () => {
    const body = { function: { arguments: '{"path":"C:\\\\builds\\\\alpha' } };
    redactResponseBody(body, mapping);
    expect(body.function.arguments).toBe('{"path":"[BUILD_PATH_1]');
  });

  it('replaces keys inside tool input only', () => {
    const body = { content: [{ type: 'tool_use', input: { 'lan@acme.io': { role: 'Bluebird' } } }], 'lan@acme.io': 'top' };
    redactResponseBody(body, mapping);
    expect(body.content[0]!.input).toEqual({ '[EMAIL_1]': { role: '[CODENAME_1]' } });
    expect(Object.keys(body)).toEqual(['content', 'lan@acme.io']);
  });

  it('is undone by restoreResponseBody', () => {
    const original = {
      choices: [{ message: { content: 'Build C:\\builds\\alpha for lan@acme.io', tool_calls: [{ function: { arguments: JSON.stringify({ path: 'C:\\builds\\alpha' }) } }] } }],
    };
    const copy = structuredClone(original);
    restoreResponseBody(redactResponseBody(copy, mapping), mapping);
    expect(copy).toEqual(original);
  });
});
