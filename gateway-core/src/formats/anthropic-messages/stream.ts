import type { CanonicalStreamEvent, CanonicalUsage } from '../canonical';
import { emptyUsage } from '../canonical';
import { mergeUsage } from '../../usage/record';
import { anthropicStopReasonToCanonical, anthropicMessageId, canonicalStopReasonToAnthropic, type AnthropicResponseBlock } from './response';
import { anthropicPartialUsage, canonicalUsageToAnthropic, type AnthropicUsage } from './usage';

/** The events of an Anthropic stream (only the fields the gateway reads). */
export type AnthropicStreamEvent =
  | { type: 'message_start'; message: { id?: string; model?: string; usage?: AnthropicUsage | null } }
  | { type: 'content_block_start'; index: number; content_block: AnthropicResponseBlock }
  | { type: 'content_block_delta'; index: number; delta: AnthropicDelta }
  | { type: 'content_block_stop'; index: number }
  | { type: 'message_delta'; delta: { stop_reason?: string | null; stop_sequence?: string | null }; usage?: AnthropicUsage | null }
  | { type: 'message_stop' }
  | { type: 'ping' }
  | { type: 'error'; error: { type?: string; message?: string } };

export interface AnthropicDelta {
  type: string;
  text?: string;
  partial_json?: string;
  thinking?: string;
  signature?: string;
}

/** Return whether an event carries content, by the rules of `eventCarriesContent` for canonical events. */
export function anthropicEventCarriesContent(event: { type: string }): boolean {
  const typed = event as AnthropicStreamEvent;
  switch (typed.type) {
    case 'content_block_start':
      return typed.content_block?.type === 'tool_use' || typed.content_block?.type === 'redacted_thinking';
    case 'content_block_delta':
      return deltaText(typed.delta) !== '' || (typed.delta?.type === 'signature_delta' && Boolean(typed.delta.signature));
    case 'message_delta':
    case 'message_stop':
      return true;
    default:
      return false;
  }
}

/** Text, thinking and tool-argument output of an event, for estimating usage after an abort. */
export function anthropicEventOutputText(event: { type: string }): string {
  const typed = event as AnthropicStreamEvent;
  if (typed.type === 'content_block_delta') return deltaText(typed.delta);
  if (typed.type === 'content_block_start' && typed.content_block?.type === 'tool_use') return typed.content_block.name ?? '';
  return '';
}

function deltaText(delta: AnthropicDelta | undefined): string {
  if (!delta) return '';
  switch (delta.type) {
    case 'text_delta':
      return delta.text ?? '';
    case 'input_json_delta':
      return delta.partial_json ?? '';
    case 'thinking_delta':
      return delta.thinking ?? '';
    default:
      return '';
  }
}

interface OpenBlock {
  index: number;
  kind: 'text' | 'tool_call' | 'thinking' | 'redacted_thinking';
  sawArguments: boolean;
}

/**
 * Turns Anthropic stream events into canonical events. Blocks that only Anthropic clients
 * understand (server tool calls and results) are skipped and the rest renumbered, so canonical
 * block indices stay contiguous. A tool call that streamed no arguments gets "{}", the same
 * arguments the non-streaming response has for an empty input.
 */
export class AnthropicStreamToCanonical {
  private readonly blocks = new Map<number, OpenBlock>();
  private nextIndex = 0;

  push(event: AnthropicStreamEvent): CanonicalStreamEvent[] {
    switch (event.type) {
      case 'message_start':
        return [
          {
            type: 'message_start',
            id: event.message?.id ?? '',
            model: event.message?.model ?? '',
            usage: anthropicPartialUsage(event.message?.usage),
          },
        ];
      case 'content_block_start':
        return this.startBlock(event.index, event.content_block);
      case 'content_block_delta':
        return this.delta(event.index, event.delta);
      case 'content_block_stop':
        return this.stopBlock(event.index);
      case 'message_delta':
        return [
          {
            type: 'message_delta',
            stopReason: anthropicStopReasonToCanonical(event.delta?.stop_reason ?? null),
            stopSequence: event.delta?.stop_sequence ?? null,
            usage: anthropicPartialUsage(event.usage),
          },
        ];
      case 'message_stop':
        return [{ type: 'message_stop' }];
      case 'ping':
      case 'error':
        // The provider handles error events before they reach this converter.
        return [];
      default:
        // An event type added after this code was written carries nothing the gateway models.
        return [];
    }
  }

  private startBlock(upstreamIndex: number, block: AnthropicResponseBlock | undefined): CanonicalStreamEvent[] {
    const index = this.nextIndex;
    switch (block?.type) {
      case 'text': {
        this.open(upstreamIndex, index, 'text');
        const events: CanonicalStreamEvent[] = [{ type: 'block_start', index, block: { type: 'text' } }];
        if (block.text) events.push({ type: 'text_delta', index, text: block.text });
        return events;
      }
      case 'tool_use': {
        const open = this.open(upstreamIndex, index, 'tool_call');
        const events: CanonicalStreamEvent[] = [
          { type: 'block_start', index, block: { type: 'tool_call', id: block.id ?? '', name: block.name ?? '' } },
        ];
        const input = block.input;
        if (typeof input === 'object' && input !== null && Object.keys(input).length > 0) {
          open.sawArguments = true;
          events.push({ type: 'tool_arguments_delta', index, partialJson: JSON.stringify(input) });
        }
        return events;
      }
      case 'thinking': {
        this.open(upstreamIndex, index, 'thinking');
        const events: CanonicalStreamEvent[] = [{ type: 'block_start', index, block: { type: 'thinking' } }];
        if (block.thinking) events.push({ type: 'thinking_delta', index, text: block.thinking });
        if (block.signature) events.push({ type: 'signature_delta', index, signature: block.signature });
        return events;
      }
      case 'redacted_thinking':
        this.open(upstreamIndex, index, 'redacted_thinking');
        return [{ type: 'block_start', index, block: { type: 'redacted_thinking', data: block.data ?? '' } }];
      default:
        return [];
    }
  }

  private open(upstreamIndex: number, index: number, kind: OpenBlock['kind']): OpenBlock {
    const block: OpenBlock = { index, kind, sawArguments: false };
    this.blocks.set(upstreamIndex, block);
    this.nextIndex++;
    return block;
  }

  private delta(upstreamIndex: number, delta: AnthropicDelta | undefined): CanonicalStreamEvent[] {
    const block = this.blocks.get(upstreamIndex);
    if (!block || !delta) return [];
    switch (delta.type) {
      case 'text_delta':
        return [{ type: 'text_delta', index: block.index, text: delta.text ?? '' }];
      case 'input_json_delta': {
        const partialJson = delta.partial_json ?? '';
        if (partialJson !== '') block.sawArguments = true;
        return [{ type: 'tool_arguments_delta', index: block.index, partialJson }];
      }
      case 'thinking_delta':
        return [{ type: 'thinking_delta', index: block.index, text: delta.thinking ?? '' }];
      case 'signature_delta':
        return [{ type: 'signature_delta', index: block.index, signature: delta.signature ?? '' }];
      default:
        // citations_delta and later delta types: nothing canonical to carry.
        return [];
    }
  }

  private stopBlock(upstreamIndex: number): CanonicalStreamEvent[] {
    const block = this.blocks.get(upstreamIndex);
    if (!block) return [];
    this.blocks.delete(upstreamIndex);
    const events: CanonicalStreamEvent[] = [];
    if (block.kind === 'tool_call' && !block.sawArguments) events.push({ type: 'tool_arguments_delta', index: block.index, partialJson: '{}' });
    events.push({ type: 'block_stop', index: block.index });
    return events;
  }
}

/** One server-sent event of an Anthropic stream: its name and its JSON payload. */
export interface AnthropicSseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Serialize an event the way Anthropic sends it: `event: X`, `data: {json}`, blank line. */
export function formatAnthropicSseEvent(event: AnthropicSseEvent): string {
  return `event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

export interface AnthropicStreamEncoderOptions {
  /** Message id to show the client; default the id of the canonical message_start. */
  id?: string;
  /** Model name to show the client; default the model of the canonical message_start. */
  model?: string;
}

/**
 * Turns canonical events into Anthropic stream events, in Anthropic's order: message_start with
 * empty content, a ping after the first content_block_start, blocks, message_delta with the
 * cumulative usage, message_stop. Input and cache counts are repeated in message_delta, as the
 * current API does, because providers such as OpenAI report them only at the end.
 */
export class CanonicalToAnthropicStream {
  private readonly usage: CanonicalUsage = emptyUsage();
  private readonly blockIndex = new Map<number, number>();
  private readonly openBlocks = new Set<number>();
  private sentPing = false;
  private sawToolCall = false;
  private sentMessageDelta = false;

  constructor(private readonly options: AnthropicStreamEncoderOptions = {}) {}

  encode(event: CanonicalStreamEvent): AnthropicSseEvent[] {
    switch (event.type) {
      case 'message_start':
        mergeUsage(this.usage, event.usage);
        return [this.messageStart(event.id, event.model)];
      case 'block_start':
        return this.blockStart(event.index, event.block);
      case 'text_delta':
        return [this.blockDelta(event.index, { type: 'text_delta', text: event.text })];
      case 'tool_arguments_delta':
        return [this.blockDelta(event.index, { type: 'input_json_delta', partial_json: event.partialJson })];
      case 'thinking_delta':
        return [this.blockDelta(event.index, { type: 'thinking_delta', thinking: event.text })];
      case 'signature_delta':
        return [this.blockDelta(event.index, { type: 'signature_delta', signature: event.signature })];
      case 'block_stop': {
        const index = this.indexOf(event.index);
        this.openBlocks.delete(index);
        return [{ event: 'content_block_stop', data: { type: 'content_block_stop', index } }];
      }
      case 'message_delta':
        mergeUsage(this.usage, event.usage);
        return [...this.closeOpenBlocks(), this.messageDelta(event.stopReason, event.stopSequence)];
      case 'message_stop': {
        const events = this.sentMessageDelta ? [] : [...this.closeOpenBlocks(), this.messageDelta(null, null)];
        events.push({ event: 'message_stop', data: { type: 'message_stop' } });
        return events;
      }
    }
  }

  private messageStart(id: string, model: string): AnthropicSseEvent {
    const usage = canonicalUsageToAnthropic(this.usage);
    delete usage.output_tokens_details;
    return {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id: anthropicMessageId(this.options.id ?? id),
          type: 'message',
          role: 'assistant',
          model: this.options.model ?? model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage,
        },
      },
    };
  }

  private blockStart(canonicalIndex: number, block: Extract<CanonicalStreamEvent, { type: 'block_start' }>['block']): AnthropicSseEvent[] {
    const index = this.blockIndex.size;
    this.blockIndex.set(canonicalIndex, index);
    this.openBlocks.add(index);
    let contentBlock: Record<string, unknown>;
    switch (block.type) {
      case 'text':
        contentBlock = { type: 'text', text: '' };
        break;
      case 'tool_call':
        this.sawToolCall = true;
        contentBlock = { type: 'tool_use', id: block.id, name: block.name, input: {} };
        break;
      case 'thinking':
        contentBlock = { type: 'thinking', thinking: '', signature: '' };
        break;
      case 'redacted_thinking':
        contentBlock = { type: 'redacted_thinking', data: block.data };
        break;
    }
    const events: AnthropicSseEvent[] = [{ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: contentBlock } }];
    if (!this.sentPing) {
      this.sentPing = true;
      events.push({ event: 'ping', data: { type: 'ping' } });
    }
    return events;
  }

  private blockDelta(canonicalIndex: number, delta: Record<string, unknown>): AnthropicSseEvent {
    return { event: 'content_block_delta', data: { type: 'content_block_delta', index: this.indexOf(canonicalIndex), delta } };
  }

  private indexOf(canonicalIndex: number): number {
    return this.blockIndex.get(canonicalIndex) ?? canonicalIndex;
  }

  private closeOpenBlocks(): AnthropicSseEvent[] {
    const events = [...this.openBlocks].map((index) => ({ event: 'content_block_stop', data: { type: 'content_block_stop', index } }));
    this.openBlocks.clear();
    return events;
  }

  private messageDelta(stopReason: Parameters<typeof canonicalStopReasonToAnthropic>[0], stopSequence: string | null): AnthropicSseEvent {
    this.sentMessageDelta = true;
    return {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: canonicalStopReasonToAnthropic(stopReason, this.sawToolCall), stop_sequence: stopSequence },
        usage: {
          input_tokens: this.usage.inputTokens,
          cache_creation_input_tokens: this.usage.cacheWrite5mTokens + this.usage.cacheWrite1hTokens,
          cache_read_input_tokens: this.usage.cacheReadTokens,
          output_tokens: this.usage.outputTokens,
          // The non-streaming message reports reasoning tokens here too, and the SDK copies them from message_delta.
          ...(this.usage.reasoningTokens !== null ? { output_tokens_details: { thinking_tokens: this.usage.reasoningTokens } } : {}),
        },
      },
    };
  }
}
