import { describe, expect, it } from 'vitest';
import { collectAnthropicMessagesParts, collectOpenAIChatParts, collectParts } from '../src/guard/parts';

function openAIBody(): Record<string, any> {
  return {
    model: 'gpt-4o',
    messages: [
      { role: 'system', content: 'system text' },
      { role: 'developer', content: [{ type: 'text', text: 'developer text' }] },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'user text' },
          { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
          { type: 'text', text: '' },
        ],
        name: 'alice',
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"email":"alice@example.com"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'tool result text' },
      { role: 'assistant', content: [{ type: 'refusal', refusal: 'refusal text' }] },
    ],
    tools: [
      {
        type: 'function',
        function: {
          name: 'lookup',
          description: 'tool description',
          parameters: { type: 'object', properties: { email: { type: 'string', description: 'leaf text' } }, required: ['email'] },
        },
      },
    ],
  };
}

describe('parts of an OpenAI chat body', () => {
  it('lists every text with its location', () => {
    const parts = collectOpenAIChatParts(openAIBody());
    expect(parts.map((part) => [part.location.path, part.location.messageIndex, part.location.role, part.text])).toEqual([
      ['messages[0].content', 0, 'system', 'system text'],
      ['messages[1].content[0].text', 1, 'developer', 'developer text'],
      ['messages[2].content[0].text', 2, 'user', 'user text'],
      ['messages[3].tool_calls[0].function.arguments', 3, 'assistant', '{"email":"alice@example.com"}'],
      ['messages[4].content', 4, 'tool', 'tool result text'],
      ['messages[5].content[0].refusal', 5, 'assistant', 'refusal text'],
      ['tools[0].function.description', null, null, 'tool description'],
      ['tools[0].function.parameters.type#key', null, null, 'type'],
      ['tools[0].function.parameters.type', null, null, 'object'],
      ['tools[0].function.parameters.properties#key', null, null, 'properties'],
      ['tools[0].function.parameters.properties.email#key', null, null, 'email'],
      ['tools[0].function.parameters.properties.email.type#key', null, null, 'type'],
      ['tools[0].function.parameters.properties.email.type', null, null, 'string'],
      ['tools[0].function.parameters.properties.email.description#key', null, null, 'description'],
      ['tools[0].function.parameters.properties.email.description', null, null, 'leaf text'],
      ['tools[0].function.parameters.required#key', null, null, 'required'],
      ['tools[0].function.parameters.required[0]', null, null, 'email'],
      // The sweep adds the strings no format rule names.
      ['messages[2].name', 2, 'user', 'alice'],
      ['messages[2].content[1].image_url.url', 2, 'user', 'https://example.com/a.png'],
      ['messages[3].tool_calls[0].function.name', 3, 'assistant', 'lookup'],
      ['tools[0].function.name', null, null, 'lookup'],
    ]);
  });

  it('applies new texts in place', () => {
    const body = openAIBody();
    const messages = body.messages;
    for (const part of collectOpenAIChatParts(body)) {
      if (!part.location.path.endsWith('#key')) part.apply(`<${part.text}>`);
    }
    expect(body.messages).toBe(messages);
    expect(body.messages[0].content).toBe('<system text>');
    expect(body.messages[1].content[0].text).toBe('<developer text>');
    expect(body.messages[2].content[0].text).toBe('<user text>');
    expect(body.messages[2].content[1]).toEqual({ type: 'image_url', image_url: { url: '<https://example.com/a.png>' } });
    expect(body.messages[3].tool_calls[0].function.arguments).toBe('<{"email":"alice@example.com"}>');
    expect(body.messages[4].content).toBe('<tool result text>');
    expect(body.messages[5].content[0].refusal).toBe('<refusal text>');
    expect(body.tools[0].function.description).toBe('<tool description>');
    expect(body.tools[0].function.parameters.properties.email.description).toBe('<leaf text>');
    expect(body.tools[0].function.parameters.required).toEqual(['<email>']);
  });

  it('sweeps fields the rules do not name', () => {
    const body = {
      model: 'gpt-4o',
      user: 'alice@example.com',
      metadata: { owner: 'bob@example.org' },
      stop: ['END', 'carol@example.net'],
      prediction: { type: 'content', content: 'predicted text' },
      response_format: { type: 'json_schema', json_schema: { name: 'reply', schema: { description: 'schema text' } } },
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }],
    };
    const texts = collectOpenAIChatParts(body).map((part) => [part.location.path, part.text]);
    expect(texts).toEqual([
      ['user', 'alice@example.com'],
      ['metadata.owner', 'bob@example.org'],
      ['stop[0]', 'END'],
      ['stop[1]', 'carol@example.net'],
      ['prediction.content', 'predicted text'],
      ['response_format.json_schema.name', 'reply'],
      ['response_format.json_schema.schema.description', 'schema text'],
    ]);
  });

  it('ignores malformed bodies', () => {
    expect(collectOpenAIChatParts(null)).toEqual([]);
    expect(collectOpenAIChatParts({ messages: 5, tools: {} })).toEqual([]);
    expect(collectOpenAIChatParts({ messages: [null, 3, { role: 'user', content: 7 }] })).toEqual([]);
  });
});

function anthropicBody(): Record<string, any> {
  return {
    model: 'claude-sonnet-4-5',
    max_tokens: 100,
    system: [{ type: 'text', text: 'system block', cache_control: { type: 'ephemeral' } }],
    messages: [
      { role: 'user', content: 'user string' },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'thinking text', signature: 'sig' },
          { type: 'redacted_thinking', data: 'opaque' },
          { type: 'text', text: 'assistant text' },
          {
            type: 'tool_use',
            id: 'toolu_1',
            name: 'send',
            input: { to: 'alice@example.com', 'bob@example.org': 'cc', count: 4111111111111111, flags: [true, null, 'tag'] },
          },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'result string' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'result block' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] },
          { type: 'document', title: 'doc title', source: { type: 'text', media_type: 'text/plain', data: 'document text' } },
        ],
      },
    ],
    tools: [{ name: 'send', description: 'tool description', input_schema: { type: 'object' } }],
  };
}

describe('parts of an Anthropic messages body', () => {
  it('lists every text with its location', () => {
    const parts = collectAnthropicMessagesParts(anthropicBody());
    expect(parts.map((part) => [part.location.path, part.location.messageIndex, part.location.role, part.text])).toEqual([
      ['system[0].text', null, 'system', 'system block'],
      ['messages[0].content', 0, 'user', 'user string'],
      ['messages[1].content[0].thinking', 1, 'assistant', 'thinking text'],
      ['messages[1].content[2].text', 1, 'assistant', 'assistant text'],
      ['messages[1].content[3].input.to#key', 1, 'assistant', 'to'],
      ['messages[1].content[3].input.to', 1, 'assistant', 'alice@example.com'],
      ['messages[1].content[3].input[#1]#key', 1, 'assistant', 'bob@example.org'],
      ['messages[1].content[3].input[#1]', 1, 'assistant', 'cc'],
      ['messages[1].content[3].input.count#key', 1, 'assistant', 'count'],
      ['messages[1].content[3].input.count', 1, 'assistant', '4111111111111111'],
      ['messages[1].content[3].input.flags#key', 1, 'assistant', 'flags'],
      ['messages[1].content[3].input.flags[2]', 1, 'assistant', 'tag'],
      ['messages[2].content[0].content', 2, 'user', 'result string'],
      ['messages[2].content[1].content[0].text', 2, 'user', 'result block'],
      ['messages[2].content[2].title', 2, 'user', 'doc title'],
      ['messages[2].content[2].source.data', 2, 'user', 'document text'],
      ['tools[0].description', null, null, 'tool description'],
      ['tools[0].input_schema.type#key', null, null, 'type'],
      ['tools[0].input_schema.type', null, null, 'object'],
      ['messages[1].content[3].name', 1, 'assistant', 'send'],
      ['tools[0].name', null, null, 'send'],
    ]);
  });

  it('reads a string system prompt', () => {
    const parts = collectParts('anthropic-messages', { system: 'be brief', messages: [] });
    expect(parts.map((part) => [part.location.path, part.location.role, part.text])).toEqual([['system', 'system', 'be brief']]);
    parts[0]!.apply('be short');
    expect(parts[0]!.text).toBe('be brief');
  });

  it('applies new texts in place', () => {
    const body = anthropicBody();
    for (const part of collectAnthropicMessagesParts(body)) {
      if (!/\.input[.[]/.test(part.location.path)) part.apply(`<${part.text}>`);
    }
    expect(body.system[0]).toEqual({ type: 'text', text: '<system block>', cache_control: { type: 'ephemeral' } });
    expect(body.messages[0].content).toBe('<user string>');
    expect(body.messages[1].content[0]).toEqual({ type: 'thinking', thinking: '<thinking text>', signature: 'sig' });
    expect(body.messages[1].content[1]).toEqual({ type: 'redacted_thinking', data: 'opaque' });
    expect(body.messages[2].content[0].content).toBe('<result string>');
    expect(body.messages[2].content[1].content[0].text).toBe('<result block>');
    expect(body.messages[2].content[1].content[1].source.data).toBe('AAAA');
    expect(body.messages[2].content[2].source.data).toBe('<document text>');
    expect(body.tools[0].input_schema).toEqual({ '<type>': '<object>' });
  });

  it('redacts tool_use input leaves and keys in place', () => {
    const body = anthropicBody();
    const input = body.messages[1].content[3].input;
    const parts = collectAnthropicMessagesParts(body).filter((part) => part.location.path.includes('.input'));
    const byPath = new Map(parts.map((part) => [part.location.path, part]));

    // Rename the key first, then set its value: the value's setter must follow the rename.
    byPath.get('messages[1].content[3].input[#1]#key')!.apply('[EMAIL_2]');
    byPath.get('messages[1].content[3].input[#1]')!.apply('carbon copy');
    byPath.get('messages[1].content[3].input.to')!.apply('[EMAIL_1]');
    byPath.get('messages[1].content[3].input.count')!.apply('[PAYMENT_CARD_1]');
    byPath.get('messages[1].content[3].input.flags[2]')!.apply('label');
    byPath.get('messages[1].content[3].input.to#key')!.apply('to');

    expect(body.messages[1].content[3].input).toBe(input);
    expect(Object.keys(input)).toEqual(['to', '[EMAIL_2]', 'count', 'flags']);
    expect(input).toEqual({ to: '[EMAIL_1]', '[EMAIL_2]': 'carbon copy', count: '[PAYMENT_CARD_1]', flags: [true, null, 'label'] });
  });

  it('keeps a number whose text is unchanged', () => {
    const body = { messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'n', input: { port: 5432 } }] }] };
    const part = collectAnthropicMessagesParts(body).find((candidate) => candidate.text === '5432')!;
    part.apply('5432');
    expect(body.messages[0]!.content[0]!.input.port).toBe(5432);
  });

  it('keeps __proto__ keys as data', () => {
    const body = JSON.parse('{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":{"__proto__":"alice@example.com","a":1}}]}]}');
    const parts = collectAnthropicMessagesParts(body);
    const leaf = parts.find((part) => part.text === 'alice@example.com')!;
    leaf.apply('[EMAIL_1]');
    const input = body.messages[0].content[0].input;
    expect(Object.getPrototypeOf(input)).toBe(Object.prototype);
    expect(JSON.stringify(input)).toBe('{"__proto__":"[EMAIL_1]","a":1}');
  });

  it('rejects a key rename onto an existing key', () => {
    const body = { messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'n', input: { a: 1, b: 2 } }] }] };
    const keyPart = collectAnthropicMessagesParts(body).find((part) => part.location.path.endsWith('.input.a#key'))!;
    expect(() => keyPart.apply('b')).toThrow('already has that key');
  });

  it('walks deeply nested input without overflowing', () => {
    let input: unknown = 'alice@example.com';
    for (let depth = 0; depth < 50_000; depth++) input = [input];
    const body = { messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'n', input }] }] };
    const parts = collectAnthropicMessagesParts(body).filter((part) => part.location.path.includes('.input'));
    expect(parts).toHaveLength(1);
    expect(parts[0]!.text).toBe('alice@example.com');
  });
});
