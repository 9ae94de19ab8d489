import type { CanonicalStreamEvent, CanonicalUsage } from '../../formats/canonical';
import type { UsageRecord } from '../../usage/record';
import type { Deployment } from '../types';
import { streamCutError } from './errors';
import { type OllamaChatPart, newResponseId, rawUsage, textField, toStopReason, toUsage, toolCallParts } from './response';

/**
 * Turns the parsed NDJSON objects of a streamed /api/chat into canonical stream events.
 * Thinking and text arrive as deltas and open a new block each time their kind changes.
 * A tool call arrives whole, so it becomes one block with all its arguments in one delta.
 */
export class OllamaStreamTranslator {
  private readonly deployment: Deployment;
  private readonly id = newResponseId();
  private nextIndex = 0;
  private open: { kind: 'text' | 'thinking'; index: number } | null = null;
  private sawToolCalls = false;
  private output = '';
  private final: OllamaChatPart | null = null;

  constructor(deployment: Deployment) {
    this.deployment = deployment;
  }

  start(): CanonicalStreamEvent {
    return { type: 'message_start', id: this.id, model: this.deployment.model, usage: null };
  }

  push(part: OllamaChatPart): CanonicalStreamEvent[] {
    const events: CanonicalStreamEvent[] = [];
    const message = part.message ?? {};

    const thinking = textField(message.thinking);
    if (thinking.length > 0) {
      const index = this.openBlock('thinking', events);
      events.push({ type: 'thinking_delta', index, text: thinking });
      this.output += thinking;
    }

    const text = textField(message.content);
    if (text.length > 0) {
      const index = this.openBlock('text', events);
      events.push({ type: 'text_delta', index, text });
      this.output += text;
    }

    for (const call of toolCallParts(message.tool_calls, this.deployment)) {
      this.closeBlock(events);
      const index = this.nextIndex++;
      this.sawToolCalls = true;
      events.push({ type: 'block_start', index, block: { type: 'tool_call', id: call.id, name: call.name } });
      events.push({ type: 'tool_arguments_delta', index, partialJson: call.arguments });
      events.push({ type: 'block_stop', index });
      this.output += call.arguments;
    }

    if (part.done === true) this.final = part;
    return events;
  }

  /** Closes the message; throws when the stream ended before Ollama's final object. */
  finish(): CanonicalStreamEvent[] {
    if (!this.final) throw streamCutError(this.deployment);
    const events: CanonicalStreamEvent[] = [];
    this.closeBlock(events);
    events.push({
      type: 'message_delta',
      stopReason: toStopReason(this.final.done_reason, this.sawToolCalls),
      stopSequence: null,
      usage: toUsage(this.final),
    });
    events.push({ type: 'message_stop' });
    return events;
  }

  /** Usage from the final object, or null before it arrived or when it had no counts. */
  usage(): { usage: UsageRecord; raw: unknown } | null {
    if (!this.final) return null;
    const usage: CanonicalUsage | null = toUsage(this.final);
    if (!usage) return null;
    return { usage: { ...usage, source: 'reported' }, raw: rawUsage(this.final) };
  }

  /** Thinking, text and tool-argument output received so far, for estimating usage after an abort. */
  outputText(): string {
    return this.output;
  }

  private openBlock(kind: 'text' | 'thinking', events: CanonicalStreamEvent[]): number {
    if (this.open?.kind === kind) return this.open.index;
    this.closeBlock(events);
    const index = this.nextIndex++;
    events.push({ type: 'block_start', index, block: { type: kind } });
    this.open = { kind, index };
    return index;
  }

  private closeBlock(events: CanonicalStreamEvent[]): void {
    if (!this.open) return;
    events.push({ type: 'block_stop', index: this.open.index });
    this.open = null;
  }
}
