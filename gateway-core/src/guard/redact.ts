/**
 * Redaction with typed placeholders, and restoration of the originals in a response.
 *
 * A placeholder is `[TYPE_N]`: the finding's type upper-cased, with every run of characters other
 * than A-Z and 0-9 turned into `_`, and N counting the distinct values of that type in the
 * request from 1, in the order they appear. The same type and value get the same placeholder
 * everywhere in one request. Numbers whose placeholder already occurs literally in the request
 * are skipped, so a response that repeats such a literal text is not "restored" to a value.
 *
 * The mapping belongs to one request. Restoration replaces only placeholders in that mapping;
 * any other bracketed text, including a well-formed placeholder the request did not create,
 * passes through unchanged.
 */
import type { TextPart } from './parts';
import type { Finding } from './types';

/** Placeholder text → the original value it replaced, for one request. */
export type RedactionMapping = ReadonlyMap<string, string>;

/** Text that looks like a placeholder. Only the mapping's keys among these are restored. */
const PLACEHOLDER_LIKE = /\[[A-Z0-9_]+\]/g;
/** A placeholder with its number, as found literally in request text. */
const NUMBERED_PLACEHOLDER = /\[([A-Z0-9_]+)_([0-9]+)\]/g;

/** Returns the upper-case type name used in placeholders, such as `POSTGRES_URI` for `postgres_uri`. */
export function placeholderType(type: string): string {
  const name = type.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return name.length > 0 ? name : 'VALUE';
}

function literalPlaceholders(parts: readonly TextPart[]): Set<string> {
  const found = new Set<string>();
  for (const part of parts) {
    if (!part.text.includes('[')) continue;
    for (const match of part.text.matchAll(NUMBERED_PLACEHOLDER)) found.add(match[0]);
  }
  return found;
}

/**
 * Replaces every finding's span with its placeholder, writing each changed text back through its
 * part's `apply`, and returns the mapping for this request.
 *
 * `findingsPerPart[i]` contains the findings of `parts[i]` (the scanner's output: within the text,
 * non-overlapping). Throws before changing anything when a finding is out of range or overlaps
 * another, since either would corrupt the text.
 */
export function redactParts(parts: readonly TextPart[], findingsPerPart: readonly (readonly Finding[])[]): Map<string, string> {
  if (findingsPerPart.length !== parts.length) {
    throw new Error(`redactParts needs one findings list per part: got ${findingsPerPart.length} lists for ${parts.length} parts`);
  }

  const sortedPerPart = findingsPerPart.map((findings, partIndex) => {
    const sorted = [...findings].sort((left, right) => left.start - right.start);
    const length = parts[partIndex]!.text.length;
    let previousEnd = 0;
    for (const finding of sorted) {
      if (!(finding.start >= previousEnd && finding.start < finding.end && finding.end <= length)) {
        throw new Error(
          `invalid finding ${finding.type} at ${finding.start}-${finding.end} in ${parts[partIndex]!.location.path}: ` +
            'findings must lie inside the text and not overlap; pass the scanner output',
        );
      }
      previousEnd = finding.end;
    }
    return sorted;
  });

  const usedLiterally = literalPlaceholders(parts);
  const nextNumber = new Map<string, number>();
  const placeholderOf = new Map<string, string>();
  const mapping = new Map<string, string>();

  const assign = (type: string, value: string): string => {
    const valueKey = `${type}\u0000${value}`;
    const existing = placeholderOf.get(valueKey);
    if (existing !== undefined) return existing;

    const name = placeholderType(type);
    let number = nextNumber.get(name) ?? 1;
    let placeholder = `[${name}_${number}]`;
    while (usedLiterally.has(placeholder) || mapping.has(placeholder)) {
      number++;
      placeholder = `[${name}_${number}]`;
    }
    nextNumber.set(name, number + 1);
    placeholderOf.set(valueKey, placeholder);
    mapping.set(placeholder, value);
    return placeholder;
  };

  parts.forEach((part, partIndex) => {
    const findings = sortedPerPart[partIndex]!;
    if (findings.length === 0) return;
    const pieces: string[] = [];
    let cursor = 0;
    for (const finding of findings) {
      pieces.push(part.text.slice(cursor, finding.start), assign(finding.type, part.text.slice(finding.start, finding.end)));
      cursor = finding.end;
    }
    pieces.push(part.text.slice(cursor));
    part.apply(pieces.join(''));
  });
  return mapping;
}

export interface RestoreOptions {
  /**
   * Encodes an original before it is written back, for example `encodeJsonStringContent` when the
   * response text is the inside of a JSON string (streamed tool-call arguments). Default: as is.
   */
  encode?: (original: string) => string;
}

/** Escapes a value for use between the quotes of a JSON string. */
export function encodeJsonStringContent(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

/** Replaces every placeholder of `mapping` in a complete response text with its original. */
export function restoreText(text: string, mapping: RedactionMapping, options: RestoreOptions = {}): string {
  if (mapping.size === 0 || !text.includes('[')) return text;
  const encode = options.encode;
  return text.replace(PLACEHOLDER_LIKE, (candidate) => {
    const original = mapping.get(candidate);
    if (original === undefined) return candidate;
    return encode === undefined ? original : encode(original);
  });
}

export interface Restorer {
  /** Returns the restored text that can be sent now, holding back a possible placeholder start at the end. */
  push(chunk: string): string;
  /** Returns the held text at the end of the stream. */
  flush(): string;
}

/**
 * Creates a restorer for one stream of response text (one per content block or tool call, since
 * a placeholder never spans two of them).
 *
 * After each chunk, the text from the last `[` on is held back when it is a proper prefix of
 * some placeholder in the mapping, such as `[EMAIL_`, and sent with the next chunk. Text that
 * cannot be the start of a mapped placeholder is never held, so with an empty mapping every
 * chunk passes through at once. A placeholder contains `[` only as its first character and ends
 * with its only `]`, so at most one held candidate exists and a complete match is final.
 */
export function createRestorer(mapping: RedactionMapping, options: RestoreOptions = {}): Restorer {
  const prefixes = new Set<string>();
  let maxLength = 0;
  for (const placeholder of mapping.keys()) {
    maxLength = Math.max(maxLength, placeholder.length);
    for (let length = 1; length < placeholder.length; length++) prefixes.add(placeholder.slice(0, length));
  }

  let held = '';
  return {
    push(chunk: string): string {
      let text = held + chunk;
      held = '';
      const start = text.lastIndexOf('[');
      if (start >= 0 && text.length - start < maxLength && prefixes.has(text.slice(start))) {
        held = text.slice(start);
        text = text.slice(0, start);
      }
      return restoreText(text, mapping, options);
    },
    flush(): string {
      const rest = held;
      held = '';
      return rest;
    },
  };
}
