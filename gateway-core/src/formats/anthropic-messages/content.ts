import { GatewayError } from '../../errors';
import type { CanonicalImageSource, CanonicalPart } from '../canonical';

type ToolResultItem = Extract<CanonicalPart, { type: 'tool_result' }>['content'][number];

/**
 * Convert the content of an Anthropic request message to canonical parts. Block types that no
 * other format can express (document, search_result, server tool blocks, file sources) are a
 * 400 unsupported_parameter naming the block, never a silent drop.
 */
export function contentToCanonicalParts(content: string | ReadonlyArray<{ type: string }>, path: string): CanonicalPart[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return content.map((block, index) => blockToCanonical(block as Record<string, unknown> & { type: string }, `${path}.${index}`));
}

function blockToCanonical(block: Record<string, unknown> & { type: string }, path: string): CanonicalPart {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: String(block.text) };
    case 'image':
      return { type: 'image', source: imageSourceToCanonical(block.source, path) };
    case 'tool_use':
      return { type: 'tool_call', id: String(block.id), name: String(block.name), arguments: JSON.stringify(block.input ?? {}) };
    case 'tool_result':
      return {
        type: 'tool_result',
        toolCallId: String(block.tool_use_id),
        content: toolResultContentToCanonical(block.content, `${path}.content`),
        isError: block.is_error === true,
      };
    case 'thinking':
      return { type: 'thinking', text: String(block.thinking), signature: String(block.signature) };
    case 'redacted_thinking':
      return { type: 'redacted_thinking', data: String(block.data) };
    default:
      throw unsupportedBlock(block.type, path);
  }
}

/** Convert a tool_result's content, which is a string or an array of text and image blocks. */
export function toolResultContentToCanonical(content: unknown, path: string): ToolResultItem[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw new GatewayError('invalid_value', `'${path}' must be a string or an array of blocks.`, { param: path });
  return content.map((item: Record<string, unknown>, index): ToolResultItem => {
    const itemPath = `${path}.${index}`;
    if (item.type === 'text' && typeof item.text === 'string') return { type: 'text', text: item.text };
    if (item.type === 'image') return { type: 'image', source: imageSourceToCanonical(item.source, itemPath) };
    throw unsupportedBlock(String(item.type), itemPath);
  });
}

function imageSourceToCanonical(source: unknown, path: string): CanonicalImageSource {
  const value = (source ?? {}) as Record<string, unknown>;
  if (value.type === 'base64' && typeof value.media_type === 'string' && typeof value.data === 'string') {
    return { kind: 'base64', mediaType: value.media_type, data: value.data };
  }
  if (value.type === 'url' && typeof value.url === 'string') return { kind: 'url', url: value.url };
  if (value.type === 'file') {
    throw new GatewayError(
      'unsupported_parameter',
      `'${path}.source': an image given by file_id can only be sent to an Anthropic deployment; send it as base64 or a URL instead.`,
      { param: `${path}.source` },
    );
  }
  throw new GatewayError('invalid_value', `Invalid value for '${path}.source': expected a base64 or url image source.`, {
    param: `${path}.source`,
  });
}

function unsupportedBlock(type: string, path: string): GatewayError {
  return new GatewayError(
    'unsupported_parameter',
    `'${path}': a '${type}' content block can only be sent to an Anthropic deployment; remove it or choose a model served by Anthropic.`,
    { param: path },
  );
}
