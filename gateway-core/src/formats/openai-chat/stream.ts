import type { CanonicalStopReason, CanonicalStreamEvent, CanonicalUsage } from '../canonical';
import { mergeUsage } from '../../usage/record';
import { emptyUsage } from '../canonical';
import { generateToolCallId, openAICompletionId, openAIFinishToStopReason, stopReasonToOpenAIFinish } from './response';
import { canonicalUsageToOpenAI, openAIUsageToCanonical, type OpenAIUsage } from './usage';

/** One chat.completion.chunk as OpenAI streams it (only the fields the gateway reads). */
export interface OpenAIChunk {
  id?: string;
  model?: string;
  created?: number;
  choices?: Array<{
    index?: number;
    delta?: {
      role?: string;
      content?: string | null;
      refusal?: string | null;
      reasoning_content?: string | null;
      tool_calls?: Array<{ index?: number; id?: string; type?: string; function?: { name?: string; arguments?: string } }> | null;
    };
    finish_reason?: string | null;
  }>;
  usage?: OpenAIUsage | null;
}

/** Return whether a chunk carries content: text, a tool call, a finish reason or the usage chunk. */
export function openAIChunkCarriesContent(chunk: OpenAIChunk): boolean {
  if (!Array.isArray(chunk.choices) || chunk.choices.length === 0) return chunk.usage != null;
  for (const choice of chunk.choices) {
    const delta = choice.delta;
    if (choice.finish_reason) return true;
    if (!delta) continue;
    if (delta.content || delta.refusal || delta.reasoning_content) return true;
    if (delta.tool_calls && delta.tool_calls.length > 0) return true;
  }
  return false;
}

/** Text and tool-argument output of a chunk, for estimating usage after an abort. */
export function openAIChunkOutputText(chunk: OpenAIChunk): string {
  let text = '';
  for (const choice of chunk.choices ?? []) {
    const delta = choice.delta;
    if (!delta) continue;
    text += (delta.content ?? '') + (delta.refusal ?? '') + (delta.reasoning_content ?? '');
    for (const call of delta.tool_calls ?? []) text += (call.function?.name ?? '') + (call.function?.arguments ?? '');
  }
  return text;
}

/**
 * Turns OpenAI chunks (choice 0) into canonical events. The stop reason is held back until the
 * stream ends, because the usage chunk arrives after the finish_reason chunk.
 */
export class OpenAIStreamToCanonical {
  private started = false;
  private nextBlock = 0;
  private open: { index: number; kind: 'text' | 'thinking' | 'tool'; toolIndex?: number } | null = null;
  private readonly toolBlocks = new Map<number, number>();
  private finishReason: string | null = null;
  private sawToolCall = false;
  private usage: CanonicalUsage | null = null;

  push(chunk: OpenAIChunk): CanonicalStreamEvent[] {
    const events: CanonicalStreamEvent[] = [];
    if (!this.started) {
      this.started = true;
      events.push({ type: 'message_start', id: chunk.id ?? '', model: chunk.model ?? '', usage: null });
    }
    if (chunk.usage) this.usage = openAIUsageToCanonical(chunk.usage);
    const choice = chunk.choices?.find((c) => (c.index ?? 0) === 0);
    if (!choice) return events;
    const delta = choice.delta ?? {};
    if (delta.reasoning_content) {
      this.ensureOpen('thinking', events);
      events.push({ type: 'thinking_delta', index: this.open!.index, text: delta.reasoning_content });
    }
    const text = (delta.content ?? '') + (delta.refusal ?? '');
    if (text !== '') {
      this.ensureOpen('text', events);
      events.push({ type: 'text_delta', index: this.open!.index, text });
    }
    for (const call of delta.tool_calls ?? []) {
      const toolIndex = call.index ?? 0;
      let block = this.toolBlocks.get(toolIndex);
      if (block === undefined) {
        this.closeOpen(events);
        block = this.nextBlock++;
        this.toolBlocks.set(toolIndex, block);
        this.sawToolCall = true;
        this.open = { index: block, kind: 'tool', toolIndex };
        events.push({
          type: 'block_start',
          index: block,
          block: { type: 'tool_call', id: call.id ?? generateToolCallId(), name: call.function?.name ?? '' },
        });
      }
      const fragment = call.function?.arguments ?? '';
      // NOTE: an argument fragment for a tool call whose block was already closed (OpenAI does not
      // interleave calls in practice) is still emitted under that call's block index.
      if (fragment !== '') events.push({ type: 'tool_arguments_delta', index: block, partialJson: fragment });
    }
    if (choice.finish_reason) {
      this.finishReason = choice.finish_reason;
      this.closeOpen(events);
    }
    return events;
  }

  /** Close the message once the upstream sent [DONE]. */
  finish(): CanonicalStreamEvent[] {
    const events: CanonicalStreamEvent[] = [];
    if (!this.started) events.push({ type: 'message_start', id: '', model: '', usage: null });
    this.closeOpen(events);
    const stopReason: CanonicalStopReason = openAIFinishToStopReason(this.finishReason, this.sawToolCall);
    events.push({ type: 'message_delta', stopReason, stopSequence: null, usage: this.usage });
    events.push({ type: 'message_stop' });
    return events;
  }

  private ensureOpen(kind: 'text' | 'thinking', events: CanonicalStreamEvent[]): void {
    if (this.open?.kind === kind) return;
    this.closeOpen(events);
    this.open = { index: this.nextBlock++, kind };
    events.push({ type: 'block_start', index: this.open.index, block: { type: kind } });
  }

  private closeOpen(events: CanonicalStreamEvent[]): void {
    if (!this.open) return;
    events.push({ type: 'block_stop', index: this.open.index });
    this.open = null;
  }
}

export interface OpenAIStreamEncoderOptions {
  id: string;
  model: string;
  created: number;
  /** Whether the client asked for stream_options.include_usage. */
  includeUsage: boolean;
}

/** Turns canonical events into OpenAI chat.completion.chunk objects. */
export class CanonicalToOpenAIStream {
  private readonly id: string;
  private readonly toolIndexByBlock = new Map<number, number>();
  private readonly usage: CanonicalUsage = emptyUsage();
  private finishReason: string | null = null;

  constructor(private readonly options: OpenAIStreamEncoderOptions) {
    this.id = openAICompletionId(options.id);
  }

  encode(event: CanonicalStreamEvent): Record<string, unknown>[] {
    switch (event.type) {
      case 'message_start':
        mergeUsage(this.usage, event.usage);
        return [this.chunk({ role: 'assistant', content: '', refusal: null })];
      case 'block_start':
        if (event.block.type !== 'tool_call') return [];
        {
          const toolIndex = this.toolIndexByBlock.size;
          this.toolIndexByBlock.set(event.index, toolIndex);
          return [
            this.chunk({
              tool_calls: [{ index: toolIndex, id: event.block.id, type: 'function', function: { name: event.block.name, arguments: '' } }],
            }),
          ];
        }
      case 'text_delta':
        return event.text === '' ? [] : [this.chunk({ content: event.text })];
      case 'thinking_delta':
        return event.text === '' ? [] : [this.chunk({ reasoning_content: event.text })];
      case 'tool_arguments_delta': {
        const toolIndex = this.toolIndexByBlock.get(event.index) ?? 0;
        return [this.chunk({ tool_calls: [{ index: toolIndex, function: { arguments: event.partialJson } }] })];
      }
      case 'message_delta': {
        mergeUsage(this.usage, event.usage);
        const stopReason = this.toolIndexByBlock.size > 0 && event.stopReason === 'end_turn' ? 'tool_use' : event.stopReason;
        this.finishReason = stopReasonToOpenAIFinish(stopReason);
        return [this.chunk({}, this.finishReason)];
      }
      case 'message_stop': {
        const chunks: Record<string, unknown>[] = [];
        if (this.finishReason === null) {
          this.finishReason = this.toolIndexByBlock.size > 0 ? 'tool_calls' : 'stop';
          chunks.push(this.chunk({}, this.finishReason));
        }
        if (this.options.includeUsage) {
          chunks.push({ ...this.envelope(), choices: [], usage: canonicalUsageToOpenAI(this.usage) });
        }
        return chunks;
      }
      case 'signature_delta':
      case 'block_stop':
        return [];
    }
  }

  private envelope(): Record<string, unknown> {
    return { id: this.id, object: 'chat.completion.chunk', created: this.options.created, model: this.options.model };
  }

  private chunk(delta: Record<string, unknown>, finishReason: string | null = null): Record<string, unknown> {
    const chunk: Record<string, unknown> = {
      ...this.envelope(),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    };
    if (this.options.includeUsage) chunk.usage = null;
    return chunk;
  }
}

/**
 * Edit a passthrough OpenAI chunk for a client that did not request usage. The gateway always
 * requests it upstream, so the usage chunk is dropped and `usage: null` removed from the others.
 * Returns null for a chunk that must not reach the client.
 */
export function editPassthroughChunk(chunk: OpenAIChunk, clientWantsUsage: boolean): OpenAIChunk | null {
  if (clientWantsUsage) return chunk;
  if (Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage) return null;
  if ('usage' in chunk) {
    const { usage: _usage, ...rest } = chunk;
    return rest;
  }
  return chunk;
}
